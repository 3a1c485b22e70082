// Driver upgrades through the GPU Operator's own upgrade controller
// (k8s-operator-libs pkg/upgrade). The operator upgrades every node whose
// driver pod is out of sync with the desired version; Tessera picks which
// node moves when by holding all the others with the skip label, then sets the
// version on the object that owns the node (its NVIDIADriver, else the
// ClusterPolicy), releases the one node and follows its
// `nvidia.com/gpu-driver-upgrade-state` until upgrade-done with the new
// version label, or upgrade-failed, or no movement for too long.
import { TesseraError } from '../../../../shared/contract/errors.ts';
import type { Clock } from '../../clock.ts';
import { nodeFacts, readNode, UPGRADE_SKIP, UPGRADE_STATE, type RawNode } from '../node-facts.ts';
import { NodeWatch } from '../node-watch.ts';
import type { RolloutApi } from '../rollout-api.ts';
import { DcgmXidReader, type XidReading } from '../xid-gate.ts';
import type { ExecutorContext, UpgradeExecutor } from './executor.ts';

const CLUSTER_POLICIES = '/apis/nvidia.com/v1/clusterpolicies';
const NVIDIA_DRIVERS = '/apis/nvidia.com/v1alpha1/nvidiadrivers';

/** The object whose version decides a node's driver. */
export interface DriverOwner {
  kind: 'ClusterPolicy' | 'NVIDIADriver';
  name: string;
}

interface Versioned {
  metadata: { name: string };
  spec?: { version?: string; driver?: { version?: string } };
}

const ownerKey = (o: DriverOwner) => `${o.kind}/${o.name}`;

/** Nodes where the GPU Operator runs the driver (its deploy label); standalone-GFD hosts install drivers some other way. */
export function operatorManaged(n: RawNode): boolean {
  const deploy = n.metadata.labels?.['nvidia.com/gpu.deploy.driver'];
  return deploy !== undefined && deploy !== 'false' && nodeFacts(n).hasGpu;
}

export interface OperatorExecutorOptions {
  /** How often a node is read while the shared node watch is not live (and the longest a waiter sleeps between checks for stalls and timeouts). */
  pollMs?: number;
  /** Follow nodes by polling only (no watch): for API servers that refuse watches. */
  noWatch?: boolean;
}

export class OperatorExecutor implements UpgradeExecutor {
  readonly kind = 'gpu-operator' as const;
  private clusterPolicy?: Promise<string>;
  /** Per owner object: the version it is set to for the nodes in flight, and how many there are. */
  private readonly gates = new Map<string, { version: string; users: number }>();
  /** Owners whose version this executor set (or found set) for the nodes in flight: the others skip reading it again. */
  private readonly versionSet = new Map<string, string>();
  /** Per node, the skip label going back on after its upgrade (not waited for: the node is in sync by then). */
  private readonly relabels = new Map<string, Promise<void>>();
  private readonly xids: DcgmXidReader;
  /** One watch of every node for all the nodes in flight; see node-watch.ts. */
  private readonly watch?: NodeWatch;

  constructor(
    private readonly api: RolloutApi,
    private readonly clock: Clock,
    private readonly opts: OperatorExecutorOptions = {},
  ) {
    if (!opts.noWatch) this.watch = new NodeWatch(api, clock);
    this.xids = new DcgmXidReader(api);
  }

  async close(): Promise<void> {
    this.watch?.stop();
    await Promise.all([...this.relabels.values()]);
  }

  cachedNode(node: string): RawNode | undefined {
    return this.watch?.get(node);
  }

  /** The node's dcgm-exporter (the GPU Operator deploys one per GPU node). */
  readonly noXidSource = 'the node runs no dcgm-exporter';

  readXids(node: string): Promise<XidReading | undefined> {
    return this.xids.read(node);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.clock.setTimeout(r, ms));
  }

  /** The ClusterPolicy (there is one per cluster in practice), or a clear error when the operator is not installed. */
  policyName(): Promise<string> {
    this.clusterPolicy ??= this.api.maybe<{ items?: Versioned[] }>(CLUSTER_POLICIES, { action: 'list ClusterPolicies' }).then((list) => {
      const name = list?.items?.[0]?.metadata.name;
      if (!name) {
        this.clusterPolicy = undefined;
        throw new TesseraError('NOT_FOUND', 'the GPU Operator is not installed on this cluster (no ClusterPolicy in nvidia.com/v1)');
      }
      return name;
    });
    return this.clusterPolicy;
  }

  async ownerOf(node: RawNode): Promise<DriverOwner> {
    const cr = nodeFacts(node).owner;
    if (cr) return { kind: 'NVIDIADriver', name: cr };
    return { kind: 'ClusterPolicy', name: await this.policyName() };
  }

  private async setVersion(owner: DriverOwner, version: string, log: (l: string) => void): Promise<void> {
    const path = owner.kind === 'ClusterPolicy' ? `${CLUSTER_POLICIES}/${owner.name}` : `${NVIDIA_DRIVERS}/${owner.name}`;
    const obj = await this.api.json<Versioned>(path, { action: `read ${ownerKey(owner)}` });
    const current = owner.kind === 'ClusterPolicy' ? obj.spec?.driver?.version : obj.spec?.version;
    if (current === version) return;
    const patch = owner.kind === 'ClusterPolicy' ? { spec: { driver: { version } } } : { spec: { version } };
    await this.api.mergePatch(path, patch, `set the driver version of ${ownerKey(owner)} to ${version}`);
    log(`${ownerKey(owner)}: driver version ${current ?? '(unset)'} -> ${version}`);
  }

  /** One owner object can only ask for one version at a time: nodes wanting another wait for the gate. */
  private async enter(owner: DriverOwner, version: string, ctx: ExecutorContext): Promise<void> {
    const k = ownerKey(owner);
    for (;;) {
      const g = this.gates.get(k);
      if (!g || g.users === 0 || g.version === version) {
        this.gates.set(k, { version, users: (g && g.version === version ? g.users : 0) + 1 });
        return;
      }
      if (ctx.signal.aborted) throw new TesseraError('INTERNAL', 'stopped');
      await this.sleep(250);
    }
  }

  private leave(owner: DriverOwner): void {
    const g = this.gates.get(ownerKey(owner));
    if (g) g.users = Math.max(0, g.users - 1);
    if (!g || g.users === 0) this.versionSet.delete(ownerKey(owner));
  }

  private async label(node: string, labels: Record<string, string | null>): Promise<void> {
    const after = await this.api.mergePatch<RawNode>(`/api/v1/nodes/${encodeURIComponent(node)}`, { metadata: { labels } }, `label node ${node}`);
    this.watch?.seed(after);
  }

  /**
   * Holds every node the owners of the targets drive with the skip label:
   * the targets until their turn, and the owners' other nodes for good, since
   * a version change on a ClusterPolicy or NVIDIADriver would otherwise move
   * them too, outside any stage. Returns the nodes it newly held.
   */
  async prepare(nodes: string[], log: (line: string) => void): Promise<string[]> {
    const all = (await this.api.json<{ items?: RawNode[] }>('/api/v1/nodes', { action: 'list nodes' })).items ?? [];
    const targets = new Set(nodes);
    const operated = all.filter(operatorManaged);
    const ownerKeyOf = (n: RawNode) => nodeFacts(n).owner ?? '';
    const owners = new Set(operated.filter((n) => targets.has(n.metadata.name)).map(ownerKeyOf));
    if (owners.has('')) await this.policyName();
    const held: string[] = [];
    for (const n of operated) {
      if (!owners.has(ownerKeyOf(n)) || nodeFacts(n).skip === 'true') continue;
      await this.label(n.metadata.name, { [UPGRADE_SKIP]: 'true' });
      held.push(n.metadata.name);
    }
    const outside = held.filter((n) => !targets.has(n));
    if (held.length) log(`held ${held.length} node(s) with ${UPGRADE_SKIP}=true${outside.length ? `, ${outside.length} of them outside the rollout (they stay held so the operator does not move them on its own)` : ''}`);
    return held;
  }

  /** Lifts the hold on nodes whose driver now matches their owner's version: the operator has nothing to do there. */
  async release(nodes: string[], log: (line: string) => void): Promise<void> {
    await Promise.all([...this.relabels.values()]);
    for (const name of nodes) await this.label(name, { [UPGRADE_SKIP]: null });
    if (nodes.length) log(`released the hold on ${nodes.length} node(s)`);
  }

  async upgrade(node: string, version: string, ctx: ExecutorContext): Promise<void> {
    await this.relabels.get(node);
    const raw = this.watch?.get(node) ?? (await readNode(this.api, node));
    const owner = await this.ownerOf(raw);
    const start = nodeFacts(raw);
    if (start.version === version && (start.upgradeState === 'upgrade-done' || start.upgradeState === undefined)) {
      ctx.log(`already at ${version} (${start.upgradeState ?? 'no upgrade state'})`);
      return;
    }
    await this.enter(owner, version, ctx);
    try {
      if (this.versionSet.get(ownerKey(owner)) !== version) {
        await this.setVersion(owner, version, ctx.log);
        this.versionSet.set(ownerKey(owner), version);
      }
      // A node left in upgrade-failed is retried by relabelling it upgrade-required (gpu-operator#2549); steps already done are skipped.
      const relabel: Record<string, string | null> = { [UPGRADE_SKIP]: null };
      if (start.upgradeState === 'upgrade-failed') relabel[UPGRADE_STATE] = 'upgrade-required';
      await this.label(node, relabel);
      ctx.log(`released for the operator (was ${start.upgradeState ?? 'no state'}, driver ${start.version ?? '?'})`);
      await this.follow(node, version, ctx);
    } finally {
      this.leave(owner);
      const back = this.label(node, { [UPGRADE_SKIP]: 'true' }).catch((err) => ctx.log(`could not put the skip label back: ${(err as Error).message}`));
      this.relabels.set(node, back);
      void back.finally(() => {
        if (this.relabels.get(node) === back) this.relabels.delete(node);
      });
    }
  }

  private async follow(node: string, version: string, ctx: ExecutorContext): Promise<void> {
    const began = this.clock.now();
    const pollMs = this.opts.pollMs ?? 1000;
    let state: string | undefined = '(start)';
    let since = began;
    let moved = false;
    for (;;) {
      if (ctx.signal.aborted) throw new TesseraError('INTERNAL', `stopped while the operator upgraded ${node}`);
      const seen = this.watch?.get(node);
      const f = nodeFacts(seen ?? (await readNode(this.api, node)));
      const now = this.clock.now();
      if (f.upgradeState !== state) {
        ctx.log(`${UPGRADE_STATE}=${f.upgradeState ?? '(none)'}${f.version ? ` driver ${f.version}` : ''}`);
        if (state !== '(start)') moved = true;
        state = f.upgradeState;
        since = now;
      }
      if (f.version === version && (state === 'upgrade-done' || state === undefined)) return;
      if (state === 'upgrade-failed' && (moved || now - began > 5000)) {
        throw new TesseraError('COMMAND_FAILED', `the GPU Operator reports upgrade-failed on ${node} (driver ${f.version ?? 'unknown'}, wanted ${version})`, { node, state });
      }
      if (now - since > ctx.stallMs) {
        throw new TesseraError('TIMEOUT', `the upgrade of ${node} stalled: ${UPGRADE_STATE} stayed "${state ?? '(none)'}" for ${Math.round((now - since) / 1000)} s`, { node, state });
      }
      if (now - began > ctx.timeoutMs) {
        throw new TesseraError('TIMEOUT', `the upgrade of ${node} did not finish in ${Math.round(ctx.timeoutMs / 1000)} s (state ${state ?? '(none)'})`, { node, state });
      }
      // With the watch live, sleep until the node changes (a second at most, to notice stalls, timeouts and a watch
      // that went away); without it, read the node again after pollMs.
      if (seen && this.watch) await this.watch.changed(node, Math.max(pollMs, 1000), ctx.signal);
      else await this.sleep(pollMs);
    }
  }
}
