// The node-facing half of the simulated kubelets: registration, Lease renewal,
// node status heartbeats, and Ready transitions driven by injected faults.
import { Kube, KubeError, mapLimit, microTime, rfc3339 } from '../kube.ts';
import type { NodeSpec } from './catalog.ts';
import type { FleetFaults } from './fault-state.ts';
import { kubeletConditions, leaseObject, nodeObject, type ReadyStatus } from './node-object.ts';
import type { HeartbeatPlan } from './rates.ts';

/** 'silent': the Node object is gone (deleted) and, like a real kubelet, we do not re-register until restarted. */
type Reported = ReadyStatus | 'silent';

interface KubeletState {
  spec: NodeSpec;
  uid?: string;
  reported: Reported;
  /** Last kubeletRestarts timestamp acted on. */
  restartSeen?: string;
}

const CONCURRENCY = 32;
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';

export class Kubelets {
  private readonly nodes = new Map<string, KubeletState>();
  private errors = 0;
  private lastError = '';
  /** node → when the simulator itself took the kubelet down (a host that never came back from a driver reload). */
  private readonly held = new Map<string, string>();
  /** Called when a node starts reporting Ready again, so pods parked on it are reconsidered. */
  onReady: (node: string) => void = () => {};

  constructor(
    private readonly kube: Kube,
    specs: NodeSpec[],
    private readonly plan: HeartbeatPlan,
    private readonly log: (m: string) => void,
  ) {
    for (const spec of specs) this.nodes.set(spec.name, { spec, reported: 'True' });
  }

  has(node: string): boolean {
    return this.nodes.has(node);
  }

  /** Pods only make progress on nodes whose kubelet is up and Ready. */
  isReady(node: string): boolean {
    return this.nodes.get(node)?.reported === 'True';
  }

  /** The Node object is gone and the kubelet waits for a restart. */
  isGone(node: string): boolean {
    return this.nodes.get(node)?.reported === 'silent';
  }

  nodeIp(node: string): string | undefined {
    return this.nodes.get(node)?.spec.ip;
  }

  podCidr(node: string): string | undefined {
    return this.nodes.get(node)?.spec.podCIDR;
  }

  async registerAll(): Promise<{ nodesMs: number; leasesMs: number }> {
    const all = [...this.nodes.values()];
    const t0 = performance.now();
    await mapLimit(all, CONCURRENCY, (n) => this.register(n));
    const t1 = performance.now();
    await mapLimit(all, CONCURRENCY, (n) => this.renewLease(n));
    return { nodesMs: t1 - t0, leasesMs: performance.now() - t1 };
  }

  private async register(n: KubeletState): Promise<void> {
    try {
      const created = await this.kube.create('/api/v1/nodes', nodeObject(n.spec));
      n.uid = created.metadata.uid;
      n.reported = 'True';
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
      // Simulator restarted over an existing fleet: adopt the node, keep its reported state.
      const existing = await this.kube.get(`/api/v1/nodes/${n.spec.name}`);
      n.uid = existing.metadata.uid;
      const ready = existing.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
      n.reported = (ready?.status as ReadyStatus | undefined) ?? 'True';
    }
  }

  private async renewLease(n: KubeletState): Promise<void> {
    const name = n.spec.name;
    const now = microTime();
    try {
      await this.kube.patch(`${LEASES}/${name}`, { spec: { holderIdentity: name, leaseDurationSeconds: this.plan.leaseDurationS, renewTime: now } });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      // The kubelet's lease controller creates its Lease when missing.
      await this.kube.create(LEASES, leaseObject(name, n.uid, this.plan.leaseDurationS, now)).catch((e) => {
        if (!(e instanceof KubeError && e.status === 409)) throw e;
      });
    }
  }

  private async postStatus(n: KubeletState, ready: ReadyStatus, message?: string): Promise<void> {
    await this.kube.patch(`/api/v1/nodes/${n.spec.name}/status`, { status: { conditions: kubeletConditions(ready, rfc3339(), message) } }, 'strategic');
  }

  /** Only lastHeartbeatTime changes; strategic merge keeps the rest of each condition. */
  private async heartbeat(n: KubeletState): Promise<void> {
    const now = rfc3339();
    const conditions = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({ type, lastHeartbeatTime: now }));
    await this.kube.patch(`/api/v1/nodes/${n.spec.name}/status`, { status: { conditions } }, 'strategic');
  }

  /**
   * The kubelet stops heartbeating (Ready=Unknown) until released here or
   * restarted (the node-ready fault), as a host that hangs in a reboot.
   */
  holdDown(node: string): void {
    if (this.nodes.has(node) && !this.held.has(node)) this.held.set(node, new Date().toISOString());
  }

  release(node: string): void {
    this.held.delete(node);
  }

  isHeld(node: string): boolean {
    return this.held.has(node);
  }

  private desired(name: string, faults: FleetFaults): Reported {
    if (faults.deletedNodes[name]) return 'silent';
    const heldSince = this.held.get(name);
    if (heldSince) {
      const restart = (faults.kubeletRestarts as Record<string, string> | undefined)?.[name];
      if (restart && restart > heldSince) this.held.delete(name);
      else return 'Unknown';
    }
    return faults.nodes[name]?.ready ?? 'True';
  }

  /** One scheduler step: apply fault transitions, then the heartbeats whose slot is `tick`. */
  async tick(tick: number, faults: FleetFaults): Promise<void> {
    const restarts = (faults.kubeletRestarts ?? {}) as Record<string, string>;
    const transitions: Array<() => Promise<void>> = [];
    const due: Array<() => Promise<void>> = [];
    const { leaseIntervalS, statusIntervalS } = this.plan;

    for (const [name, n] of this.nodes) {
      const restart = restarts[name];
      if (restart && restart !== n.restartSeen) {
        n.restartSeen = restart;
        if (!faults.deletedNodes[name]) transitions.push(() => this.restart(n, this.desired(name, faults)));
        continue;
      }
      const want = this.desired(name, faults);
      if (n.reported === 'silent' && want !== 'silent') continue; // only a restart brings it back
      if (want !== n.reported) {
        transitions.push(() => this.transition(n, want, faults.nodes[name]?.message));
        continue;
      }
      // A kubelet reporting NotReady (False) is alive and keeps heartbeating; Unknown means it is not.
      if (n.reported !== 'True' && n.reported !== 'False') continue;
      const slot = n.spec.index;
      if (slot % leaseIntervalS === tick % leaseIntervalS) due.push(() => this.renewLease(n));
      if (slot % statusIntervalS === tick % statusIntervalS) due.push(() => this.heartbeat(n).catch((e) => this.onMissing(n, e)));
    }
    await mapLimit([...transitions, ...due], CONCURRENCY, (fn) => fn().catch((err) => this.recordError(err)));
    if (this.errors) {
      this.log(`tick ${tick}: ${this.errors} failed writes (last: ${this.lastError})`);
      this.errors = 0;
    }
  }

  private async transition(n: KubeletState, want: Reported, message?: string): Promise<void> {
    if (want === 'silent') {
      n.reported = 'silent';
      return;
    }
    await this.postStatus(n, want, message).catch((e) => this.onMissing(n, e));
    if (n.reported === 'silent') return;
    const wasReady = n.reported === 'True';
    n.reported = want;
    this.log(`node ${n.spec.name}: Ready=${want}`);
    if (want !== 'Unknown') await this.renewLease(n);
    if (want === 'True' && !wasReady) this.onReady(n.spec.name);
  }

  /** A kubelet restart re-registers the node if its object is gone, then reports its state. */
  private async restart(n: KubeletState, want: Reported): Promise<void> {
    this.log(`node ${n.spec.name}: kubelet restart`);
    await this.register(n);
    n.reported = 'Unknown';
    await this.transition(n, want);
  }

  private onMissing(n: KubeletState, err: unknown): void {
    if (err instanceof KubeError && err.status === 404) {
      // Someone deleted the Node object; a real kubelet keeps failing until restarted.
      if (n.reported !== 'silent') this.log(`node ${n.spec.name}: Node object gone, kubelet goes silent until restarted`);
      n.reported = 'silent';
      return;
    }
    throw err;
  }

  private recordError(err: unknown): void {
    this.errors++;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  summary(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes.values()) counts[n.reported] = (counts[n.reported] ?? 0) + 1;
    return counts;
  }
}
