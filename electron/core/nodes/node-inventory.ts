import type { KubeAccess } from '../kube/kube-access.ts';
import type { ErrorShape } from '../../../shared/contract/errors.ts';
import type { NodeRow, NodesDelta } from '../../../shared/model/node.ts';
import type { Clock } from '../clock.ts';
import { ListWatch } from '../kube/list-watch.ts';
import { Coalescer } from '../stream/coalescer.ts';
import { holdsGpu, nodeRow, projectNode, projectPod, type NodeSlim, type PodSlim } from './node-projection.ts';

/** Pods that still hold devices; finished pods leave the watch (as a DELETED event). */
export const ACTIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

type Status = NodesDelta['status'];

/**
 * Live node rows for one cluster from two list-watches (nodes, active pods),
 * shared by every subscriber and pushed to them at a bounded rate.
 */
export class NodeInventory {
  private readonly nodes = new Map<string, NodeSlim>();
  /** Only pods that hold GPUs are kept; the rest do not change any row. */
  private readonly pods = new Map<string, PodSlim>();
  private readonly podsByNode = new Map<string, Set<string>>();
  private readonly subscribers = new Set<(d: NodesDelta) => void>();
  private readonly coalescer: Coalescer<NodeRow | null>;
  private readonly watches: ListWatch<unknown>[];
  private nodeStatus: Status = 'syncing';
  private podStatus: Status = 'syncing';
  private error?: ErrorShape;
  private synced = { nodes: false, pods: false };

  constructor(kubeConfig: () => Promise<KubeAccess>, clock: Clock, flushMs = 250) {
    this.coalescer = new Coalescer<NodeRow | null>(flushMs, clock, (b) =>
      this.broadcast({ upsert: b.upsert.filter((r): r is NodeRow => r !== null), remove: b.remove, status: this.status() }),
    );
    const nodeWatch = new ListWatch<NodeSlim>(
      { kubeConfig, clock, path: '/api/v1/nodes', project: projectNode },
      {
        reset: (items) => {
          this.nodes.clear();
          for (const [k, v] of items) this.nodes.set(k, v);
          this.synced.nodes = true;
          this.resetAll();
        },
        upsert: (k, v) => {
          this.nodes.set(k, v);
          this.touch(k);
        },
        remove: (k) => {
          this.nodes.delete(k);
          if (this.synced.pods) this.coalescer.remove(k);
        },
        status: (s, e) => this.setStatus('node', s, e),
      },
    );
    const podWatch = new ListWatch<PodSlim>(
      { kubeConfig, clock, path: '/api/v1/pods', fieldSelector: ACTIVE_PODS, project: projectPod },
      {
        reset: (items) => {
          this.pods.clear();
          this.podsByNode.clear();
          for (const [k, v] of items) this.addPod(k, v);
          this.synced.pods = true;
          this.resetAll();
        },
        upsert: (k, v) => {
          const before = this.pods.get(k);
          if (!before && !holdsGpu(v)) return;
          this.removePod(k);
          this.addPod(k, v);
          if (before?.nodeName && before.nodeName !== v.nodeName) this.touch(before.nodeName);
          if (v.nodeName) this.touch(v.nodeName);
        },
        remove: (k) => {
          const before = this.pods.get(k);
          this.removePod(k);
          if (before?.nodeName) this.touch(before.nodeName);
        },
        status: (s, e) => this.setStatus('pod', s, e),
      },
    );
    this.watches = [nodeWatch as ListWatch<unknown>, podWatch as ListWatch<unknown>];
  }

  start(): void {
    for (const w of this.watches) w.start();
  }

  /** Tells subscribers why the stream ended, then stops. */
  end(error: ErrorShape): void {
    this.broadcast({ upsert: [], remove: [], status: 'reconnecting', error: { code: error.code, message: error.message } });
    this.stop();
  }

  stop(): void {
    for (const w of this.watches) w.stop();
    this.coalescer.dispose();
    this.subscribers.clear();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  rows(): NodeRow[] {
    return [...this.nodes.values()].map((n) => this.row(n));
  }

  private row(n: NodeSlim): NodeRow {
    const keys = this.podsByNode.get(n.name);
    const pods = keys ? [...keys].map((k) => this.pods.get(k)!) : [];
    return nodeRow(n, pods);
  }

  subscribe(fn: (d: NodesDelta) => void): () => void {
    this.subscribers.add(fn);
    if (this.synced.nodes && this.synced.pods) fn({ reset: this.rows(), upsert: [], remove: [], status: this.status() });
    else fn({ upsert: [], remove: [], status: this.status() });
    return () => this.subscribers.delete(fn);
  }

  private addPod(key: string, pod: PodSlim): void {
    if (!pod.nodeName || !holdsGpu(pod)) return;
    this.pods.set(key, pod);
    let set = this.podsByNode.get(pod.nodeName);
    if (!set) this.podsByNode.set(pod.nodeName, (set = new Set()));
    set.add(key);
  }

  private removePod(key: string): void {
    const pod = this.pods.get(key);
    if (!pod) return;
    this.pods.delete(key);
    const set = this.podsByNode.get(pod.nodeName!);
    set?.delete(key);
    if (set?.size === 0) this.podsByNode.delete(pod.nodeName!);
  }

  private touch(name: string): void {
    if (!this.synced.nodes || !this.synced.pods) return;
    if (!this.nodes.has(name)) return;
    // Derived at flush, from the state then: a burst of pod events on one node costs one row.
    this.coalescer.upsert(name, () => {
      const n = this.nodes.get(name);
      return n ? this.row(n) : null;
    });
  }

  private resetAll(): void {
    if (!this.synced.nodes || !this.synced.pods) return;
    this.coalescer.clear();
    this.broadcast({ reset: this.rows(), upsert: [], remove: [], status: this.status() });
  }

  private status(): Status {
    if (this.nodeStatus === 'reconnecting' || this.podStatus === 'reconnecting') return 'reconnecting';
    if (this.nodeStatus === 'live' && this.podStatus === 'live') return 'live';
    return 'syncing';
  }

  private setStatus(which: 'node' | 'pod', s: Status, error?: ErrorShape): void {
    const before = this.status();
    if (which === 'node') this.nodeStatus = s;
    else this.podStatus = s;
    this.error = s === 'reconnecting' ? error : undefined;
    if (this.status() !== before || error) {
      const d: NodesDelta = { upsert: [], remove: [], status: this.status() };
      if (this.error) d.error = { code: this.error.code, message: this.error.message };
      this.broadcast(d);
    }
  }

  private broadcast(d: NodesDelta): void {
    for (const s of this.subscribers) s(d);
  }
}
