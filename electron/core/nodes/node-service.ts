import type { NodeDescription, NodeEvent } from '../../../shared/contract/nodes.ts';
import type { NodeRow, NodesDelta } from '../../../shared/model/node.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import { kubeJson, listPages } from '../kube/kube-http.ts';
import type { RawObject } from '../kube/list-watch.ts';
import { ACTIVE_PODS, NodeInventory } from './node-inventory.ts';
import { holdsGpu, nodeRow, projectNode, projectPod, type PodSlim } from './node-projection.ts';

interface RawEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  reportingComponent?: string;
  source?: { component?: string };
  metadata?: { creationTimestamp?: string };
}


/** One NodeInventory per watched cluster, shared by all its subscribers. */
export class NodeService {
  private readonly inventories = new Map<string, { inv: NodeInventory; offDisconnect: () => void }>();

  constructor(
    private readonly clusters: ClusterService,
    private readonly clock: Clock,
  ) {}

  watch(id: string, onDelta: (d: NodesDelta) => void): () => void {
    let entry = this.inventories.get(id);
    if (!entry) {
      const conn = this.clusters.connection(id);
      const inv = new NodeInventory(() => conn.kubeConfig(), this.clock);
      const offDisconnect = conn.onDisconnect(() => this.drop(id, `${id} was disconnected`));
      entry = { inv, offDisconnect };
      this.inventories.set(id, entry);
      inv.start();
    }
    const { inv } = entry;
    const off = inv.subscribe(onDelta);
    return () => {
      off();
      if (inv.subscriberCount === 0) this.drop(id);
    };
  }

  /** One listing, without a watch: for the CLI and scripts. */
  async list(id: string): Promise<NodeRow[]> {
    const kc = await this.clusters.connection(id).kubeConfig();
    // Projected as the pages stream in: 16,000 raw pods would cost far more memory than their projections.
    const [nodes, pods] = await Promise.all([listAll(kc, '/api/v1/nodes', {}, projectNode), listAll(kc, '/api/v1/pods', { fieldSelector: ACTIVE_PODS }, projectPod)]);
    const byNode = new Map<string, PodSlim[]>();
    for (const p of pods) {
      if (!p.nodeName || !holdsGpu(p)) continue;
      byNode.set(p.nodeName, [...(byNode.get(p.nodeName) ?? []), p]);
    }
    return nodes.map((n) => nodeRow(n, byNode.get(n.name) ?? []));
  }

  /** The parts of one node the inventory does not keep (all labels, taints, conditions), read on demand. */
  async describe(id: string, name: string): Promise<NodeDescription> {
    const kc = await this.clusters.connection(id).kubeConfig();
    const n = await kubeJson<{
      metadata?: { labels?: Record<string, string> };
      spec?: { taints?: { key: string; value?: string; effect: string }[] };
      status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
    }>(kc, `/api/v1/nodes/${encodeURIComponent(name)}`, { action: `read node ${name}` });
    return {
      labels: n.metadata?.labels ?? {},
      taints: (n.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value ? { value: t.value } : {}) })),
      conditions: (n.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) })),
    };
  }

  /** Recent events about a node (kubelet, node controller, GPU operands), newest first. */
  async events(id: string, name: string): Promise<NodeEvent[]> {
    const kc = await this.clusters.connection(id).kubeConfig();
    const selector = encodeURIComponent(`involvedObject.kind=Node,involvedObject.name=${name}`);
    const list = await kubeJson<{ items?: RawEvent[] }>(kc, `/api/v1/events?fieldSelector=${selector}&limit=200`, { action: `read events of node ${name}` });
    return (list.items ?? [])
      .map((e) => {
        const ev: NodeEvent = { type: e.type ?? 'Normal', reason: e.reason ?? '', message: e.message ?? '', count: e.count ?? 1 };
        const last = e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
        if (last) ev.lastSeen = last;
        const source = e.source?.component ?? e.reportingComponent;
        if (source) ev.source = source;
        return ev;
      })
      .sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''))
      .slice(0, 50);
  }

  stopAll(): void {
    for (const id of [...this.inventories.keys()]) this.drop(id);
  }

  private drop(id: string, reason?: string): void {
    const entry = this.inventories.get(id);
    if (!entry) return;
    this.inventories.delete(id);
    entry.offDisconnect();
    if (reason) entry.inv.end({ code: 'NOT_CONNECTED', message: reason });
    else entry.inv.stop();
  }
}

async function listAll<T>(kc: Parameters<typeof kubeJson>[0], path: string, params: Record<string, string>, map: (raw: RawObject) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const page of listPages(kc, path, params, { map })) out.push(...page.items);
  return out;
}
