// The GPU Operator's driver upgrade controller (k8s-operator-libs pkg/upgrade,
// in-place mode) as the simulator stands in for it. It walks each GPU
// Operator node through `nvidia.com/gpu-driver-upgrade-state` when the driver
// version the node should run (ClusterPolicy spec.driver.version, or an
// NVIDIADriver that selects the node) differs from the one it runs, with the
// real slot arithmetic (maxParallelUpgrades, maxUnavailable), the skip label,
// cordon, GPU-pod deletion and drain through the Eviction API (so
// PodDisruptionBudgets hold), a simulated driver pod restart, validation and
// uncordon. The version labels, the fleet truth and dcgm-exporter's
// DCGM_FI_DRIVER_VERSION change only when the new driver comes up.
//
// One Node watch and two small custom-resource watches feed it; work runs
// from a bounded queue and per-node timers, so a 2,000-node fleet costs no
// polling. See gpu.md §4 for the real machinery and README.md for the knobs.
import { Kube, KubeError, mapLimit, rfc3339 } from '../kube.ts';
import type { NodeSpec } from './catalog.ts';
import type { FleetFaults } from './fault-state.ts';
import { installedDriver } from './gpus.ts';
import { GPU_OPERATOR_NAMESPACE } from './gpu-operator.ts';
import type { Kubelets } from './kubelets.ts';
import { gfdLabels } from './labels.ts';
import { ListWatch } from './list-watch.ts';
import { readJson, writeJsonAtomic } from '../state.ts';
import { CLUSTER_POLICIES, CLUSTER_POLICY_NAME, NVIDIA_DRIVERS } from './operator-crds.ts';

export const UPGRADE_STATE_LABEL = 'nvidia.com/gpu-driver-upgrade-state';
export const UPGRADE_SKIP_LABEL = 'nvidia.com/gpu-driver-upgrade.skip';
export const DRAIN_SKIP_LABEL = 'nvidia.com/gpu-driver-upgrade-drain.skip';
/** Set when a node was already cordoned as its upgrade began: it stays cordoned afterwards. */
export const INITIAL_UNSCHEDULABLE = 'nvidia.com/gpu-driver-upgrade.node-initial-state.unschedulable';
export const UPGRADE_REQUESTED = 'nvidia.com/gpu-driver-upgrade-requested';
const WAIT_START = 'nvidia.com/gpu-driver-upgrade-wait-for-pod-completion-start-time';
const VALIDATION_START = 'nvidia.com/gpu-driver-upgrade-validation-start-time';
/** Per-node override of the simulated driver pod restart, in ms. */
/** Set by the NVIDIADriver controller on the nodes each CR owns (gpu.md §3); absent under the ClusterPolicy. */
export const DRIVER_OWNER_LABEL = 'nvidia.com/gpu-operator.driver.owner';
export const UPGRADE_MS_ANNOTATION = 'tessera.dev/sim-driver-upgrade-ms';

export const DEFAULT_UPGRADE_MS = 3000;

export type UpgradeState =
  | ''
  | 'upgrade-required'
  | 'cordon-required'
  | 'wait-for-jobs-required'
  | 'pod-deletion-required'
  | 'drain-required'
  | 'pod-restart-required'
  | 'validation-required'
  | 'uncordon-required'
  | 'upgrade-done'
  | 'upgrade-failed';

/** The fault-state file's `rollout` section (written by rollout-faults.ts). Values are ISO times. */
export interface RolloutFaults {
  /** node → since: its next driver pod restart ends in upgrade-failed. */
  upgradeFail?: Record<string, string>;
  /** node → since: during its next driver pod restart the host hangs (kubelet silent) until node-ready or rollout-clear. */
  noReturn?: Record<string, string>;
  /** node → the blocking Deployment and PodDisruptionBudget. */
  pdbBlock?: Record<string, { namespace: string; name: string; since: string }>;
}

export const rolloutFaults = (f: FleetFaults): RolloutFaults => (f.rollout ?? {}) as RolloutFaults;

interface PodDeletionSpec {
  force: boolean;
  timeoutSeconds: number;
}
interface DrainSpec extends PodDeletionSpec {
  enable: boolean;
  podSelector: string;
}

/** DriverUpgradePolicySpec with the defaults the API and the operator apply. */
export interface UpgradePolicy {
  autoUpgrade: boolean;
  maxParallelUpgrades: number;
  maxUnavailable?: number | string;
  waitForCompletion: { podSelector: string; timeoutSeconds: number };
  podDeletion: PodDeletionSpec;
  drain: DrainSpec;
}

const num = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);

export function normalizePolicy(raw: any): UpgradePolicy {
  const p = raw ?? {};
  return {
    autoUpgrade: p.autoUpgrade === true,
    maxParallelUpgrades: Math.max(0, num(p.maxParallelUpgrades, 1)),
    maxUnavailable: typeof p.maxUnavailable === 'number' || typeof p.maxUnavailable === 'string' ? p.maxUnavailable : undefined,
    waitForCompletion: { podSelector: String(p.waitForCompletion?.podSelector ?? ''), timeoutSeconds: num(p.waitForCompletion?.timeoutSeconds, 0) },
    podDeletion: { force: p.podDeletion?.force === true, timeoutSeconds: num(p.podDeletion?.timeoutSeconds, 300) },
    drain: {
      enable: p.drain?.enable === true,
      force: p.drain?.force === true,
      podSelector: String(p.drain?.podSelector ?? ''),
      timeoutSeconds: num(p.drain?.timeoutSeconds, 300),
    },
  };
}

/** intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true); absent means every node. */
export function scaledMaxUnavailable(v: number | string | undefined, total: number): number {
  if (v === undefined) return total;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v.trim());
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  const n = Number(v);
  return Number.isInteger(n) ? n : total;
}

/** Equality-based label selectors (`a=b,c!=d,e,!f`), what the policy's podSelector fields take. */
export function matchesSelector(selector: string, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const raw of selector.split(',')) {
    const term = raw.trim();
    if (!term) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(term))) {
      if (l[m[1]!] === m[2]) return false;
    } else if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(term))) {
      if (l[m[1]!] !== m[2]) return false;
    } else if (term.startsWith('!')) {
      if (term.slice(1) in l) return false;
    } else if (!(term in l)) return false;
  }
  return true;
}

interface NodeView {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  unschedulable: boolean;
  ready: boolean;
}

const slimNode = (n: any): NodeView => ({
  name: n.metadata.name,
  labels: n.metadata.labels ?? {},
  annotations: n.metadata.annotations ?? {},
  unschedulable: n.spec?.unschedulable === true,
  ready: (n.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready')?.status === 'True',
});

/** What a state decision depends on; heartbeats change none of it. */
const signature = (v: NodeView | undefined) => (v ? JSON.stringify([v.labels, v.annotations, v.unschedulable, v.ready]) : '');

interface DriverOwner {
  /** `clusterpolicy/<name>` or `nvidiadriver/<name>`: upgrade slots are counted per owner, as per driver DaemonSet. */
  key: string;
  version?: string;
  policy: UpgradePolicy;
}

interface Walk {
  /** The desired version the node's driver pod was last created for (the pod's "revision"). */
  syncedTo?: string;
  restartTimer?: NodeJS.Timeout;
  /** The version a crash-looping driver pod (upgrade-failed) is trying to load. */
  failedTarget?: string;
  /** The state (pod deletion or drain) evictStart belongs to. */
  evictPhase?: UpgradeState;
  /** When pod deletion or drain began on this node, ms. */
  evictStart?: number;
  evictBlockedReported?: boolean;
  validateTimer?: NodeJS.Timeout;
  validated?: boolean;
  /** The no-return fault (its `since`) already acted on. */
  noReturnFired?: string;
  retry?: NodeJS.Timeout;
}

const CONCURRENCY = 32;
const TERMINAL = new Set(['Succeeded', 'Failed']);
const GPU_RESOURCE = /^nvidia\.com\/(gpu|mig-.+)$/;

export interface DriverUpgradeOptions {
  upgradeMs: number;
  /**
   * Where each node's driver pod "revision" (the version it was created for) is
   * kept, so a restarted simulator knows which nodes are out of sync, as the
   * real operator knows from the pods' controller-revision-hash.
   */
  revisionsFile?: string;
}

export class DriverUpgradeController {
  private readonly specs = new Map<string, NodeSpec>();
  private readonly nodes: ListWatch<NodeView>;
  private readonly policies: ListWatch<any>;
  private readonly drivers: ListWatch<any>;
  private readonly walks = new Map<string, Walk>();
  private readonly queue = new Set<string>();
  private readonly inFlight = new Set<string>();
  private active = 0;
  private admitTimer?: NodeJS.Timeout;
  private admitting = false;
  private admitAgain = false;
  private resync?: NodeJS.Timeout;
  private started = false;
  private saveTimer?: NodeJS.Timeout;
  /** API requests made, for the rollout benchmark's "requests per node". */
  requests = 0;

  constructor(
    private readonly kube: Kube,
    specs: NodeSpec[],
    private readonly kubelets: Kubelets,
    private readonly faults: () => FleetFaults,
    /** Called when a node's installed driver changed (the truth file must be rewritten). */
    private readonly onInstalled: (node: string) => void,
    private readonly log: (m: string) => void,
    private readonly opts: DriverUpgradeOptions = { upgradeMs: DEFAULT_UPGRADE_MS },
  ) {
    // Nodes run by an old standalone GFD (deprecated labels only) are outside the operator.
    for (const s of specs) if (s.gpu && s.gpu.labels === 'both') this.specs.set(s.name, s);
    this.nodes = new ListWatch(kube, '/api/v1/nodes', slimNode, (key, obj, prev) => this.onNode(key, obj, prev), log);
    this.policies = new ListWatch(kube, CLUSTER_POLICIES, (o) => o, () => this.onPolicy(), log, true);
    this.drivers = new ListWatch(kube, NVIDIA_DRIVERS, (o) => o, () => this.onPolicy(), log, true);
  }

  /** Starts the watches; resolves once the first lists are in and the baseline is taken. */
  async start(): Promise<void> {
    void this.nodes.run();
    void this.policies.run();
    void this.drivers.run();
    await Promise.all([this.nodes.synced, this.policies.synced, this.drivers.synced]);
    const saved = this.opts.revisionsFile ? (readJson<Record<string, string>>(this.opts.revisionsFile) ?? {}) : {};
    // Adopt what the nodes report (a restarted simulator, `up --driver-version`), and take the
    // baseline: every driver pod counts as in sync with the policy found at start, so a fleet
    // that mixes branches on purpose does not start upgrading by itself.
    for (const [name, spec] of this.specs) {
      const v = this.nodes.items.get(name);
      if (!v) continue;
      const current = currentVersion(v.labels);
      if (current && current !== installedDriver(spec.gpu!).full) spec.gpu!.driverVersion = current;
      const state = (v.labels[UPGRADE_STATE_LABEL] ?? '') as UpgradeState;
      if (saved[name]) this.walk(name).syncedTo = saved[name];
      else if (state === '' || state === 'upgrade-done') this.walk(name).syncedTo = this.ownerOf(v)?.version;
    }
    this.saveRevisions();
    this.started = true;
    this.resync = setInterval(() => this.periodic(), 2000);
    this.resync.unref();
    for (const name of this.specs.keys()) this.enqueue(name);
    this.scheduleAdmit();
  }

  /** Rewrites the revisions file soon after a change (one write for a whole wave). */
  private saveRevisions(): void {
    const file = this.opts.revisionsFile;
    if (!file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      const out: Record<string, string> = {};
      for (const [name, w] of this.walks) if (w.syncedTo) out[name] = w.syncedTo;
      try {
        writeJsonAtomic(file, out);
      } catch (err) {
        this.log(`driver-upgrade: writing ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }, 300);
  }

  stop(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      const out: Record<string, string> = {};
      for (const [name, w] of this.walks) if (w.syncedTo) out[name] = w.syncedTo;
      if (this.opts.revisionsFile) writeJsonAtomic(this.opts.revisionsFile, out);
    }
    this.nodes.stop();
    this.policies.stop();
    this.drivers.stop();
    clearInterval(this.resync);
    for (const w of this.walks.values()) {
      clearTimeout(w.restartTimer);
      clearTimeout(w.validateTimer);
      clearTimeout(w.retry);
    }
  }

  /** Counts by state label, for the fleet status file. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of this.specs.keys()) {
      const s = this.nodes.items.get(name)?.labels[UPGRADE_STATE_LABEL] ?? '';
      out[s || 'unknown'] = (out[s || 'unknown'] ?? 0) + 1;
    }
    return out;
  }

  private walk(name: string): Walk {
    let w = this.walks.get(name);
    if (!w) this.walks.set(name, (w = {}));
    return w;
  }

  private onNode(key: string, obj: NodeView | undefined, prev: NodeView | undefined): void {
    if (!this.started || !this.specs.has(key)) return;
    if (signature(obj) === signature(prev)) return;
    this.enqueue(key);
    this.scheduleAdmit();
  }

  private onPolicy(): void {
    if (!this.started) return;
    for (const name of this.specs.keys()) this.enqueue(name);
    this.scheduleAdmit();
  }

  /** Faults appear and clear without any API event: look again every 2 s, in memory. */
  private periodic(): void {
    const rf = rolloutFaults(this.faults());
    for (const name of this.specs.keys()) {
      if (this.kubelets.isHeld(name) && !rf.noReturn?.[name]) {
        this.kubelets.release(name);
        this.log(`driver-upgrade ${name}: no-return cleared, the host is back`);
      }
      const state = this.nodes.items.get(name)?.labels[UPGRADE_STATE_LABEL];
      if (state === 'upgrade-failed' || state === 'pod-restart-required') this.enqueue(name);
    }
    this.scheduleAdmit();
  }

  // ---- who decides the version ------------------------------------------------

  /** The NVIDIADriver that selects the node wins; a default one catches the rest; else the ClusterPolicy. */
  private ownerOf(v: NodeView): DriverOwner | undefined {
    let chosen: any;
    let fallback: any;
    const crs = [...this.drivers.items.values()].sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
    for (const cr of crs) {
      const type = cr.spec?.driverType ?? 'gpu';
      if (type !== 'gpu') continue;
      const sel: Record<string, string> = cr.spec?.nodeSelector ?? {};
      if (cr.spec?.default === true && Object.keys(sel).length === 0) {
        fallback ??= cr;
        continue;
      }
      if (Object.keys(sel).length > 0 && Object.entries(sel).every(([k, val]) => v.labels[k] === val)) {
        chosen = cr;
        break;
      }
    }
    const cr = chosen ?? fallback;
    if (cr) return { key: `nvidiadriver/${cr.metadata.name}`, version: versionOf(cr.spec?.version), policy: normalizePolicy(cr.spec?.upgradePolicy) };
    const cp = this.policies.items.get(CLUSTER_POLICY_NAME) ?? [...this.policies.items.values()][0];
    const driver = cp?.spec?.driver;
    if (!cp || driver?.enabled === false) return undefined;
    return { key: `clusterpolicy/${cp.metadata.name}`, version: versionOf(driver?.version), policy: normalizePolicy(driver?.upgradePolicy) };
  }

  // ---- the work queue -----------------------------------------------------------

  private enqueue(name: string): void {
    this.queue.add(name);
    this.pump();
  }

  private later(name: string, ms: number): void {
    const w = this.walk(name);
    clearTimeout(w.retry);
    w.retry = setTimeout(() => this.enqueue(name), ms);
    w.retry.unref();
  }

  private pump(): void {
    while (this.active < CONCURRENCY) {
      let name: string | undefined;
      for (const k of this.queue) {
        if (!this.inFlight.has(k)) {
          name = k;
          break;
        }
      }
      if (!name) return;
      this.queue.delete(name);
      this.inFlight.add(name);
      this.active++;
      const n = name;
      this.step(n)
        .catch((err) => {
          this.log(`driver-upgrade ${n}: ${err instanceof Error ? err.message : String(err)}`);
          // Transient (API server restarting, a conflict): look again shortly.
          this.later(n, 1000);
        })
        .finally(() => {
          this.active--;
          this.inFlight.delete(n);
          this.pump();
        });
    }
  }

  private async patchNode(name: string, patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null>; unschedulable?: boolean | null }): Promise<void> {
    const body: Record<string, unknown> = {};
    if (patch.labels || patch.annotations) body.metadata = { ...(patch.labels ? { labels: patch.labels } : {}), ...(patch.annotations ? { annotations: patch.annotations } : {}) };
    if (patch.unschedulable !== undefined) body.spec = { unschedulable: patch.unschedulable };
    this.requests++;
    const node = await this.kube.patch(`/api/v1/nodes/${name}`, body);
    this.nodes.put(node);
  }

  private async setState(name: string, state: UpgradeState, extra: Omit<Parameters<DriverUpgradeController['patchNode']>[1], 'labels'> & { labels?: Record<string, string | null> } = {}): Promise<void> {
    await this.patchNode(name, { ...extra, labels: { ...extra.labels, [UPGRADE_STATE_LABEL]: state === '' ? null : state } });
    this.log(`driver-upgrade ${name}: ${state || '(no state)'}`);
  }

  // ---- one node, one step ---------------------------------------------------------

  private async step(name: string): Promise<void> {
    const spec = this.specs.get(name);
    const v = this.nodes.items.get(name);
    if (!spec || !v) return;
    if (v.labels['nvidia.com/gpu.deploy.driver'] === 'false') return; // no driver operand here
    const owner = this.ownerOf(v);
    const ownerLabel = owner?.key.startsWith('nvidiadriver/') ? owner.key.slice('nvidiadriver/'.length) : null;
    if ((v.labels[DRIVER_OWNER_LABEL] ?? null) !== ownerLabel) {
      // The label changes first and the node event brings the walk back here.
      await this.patchNode(name, { labels: { [DRIVER_OWNER_LABEL]: ownerLabel } });
      return;
    }
    if (!owner) return;
    const state = (v.labels[UPGRADE_STATE_LABEL] ?? '') as UpgradeState;
    const { policy } = owner;
    if (!policy.autoUpgrade) {
      // The operator removes the state labels when auto-upgrade is off and leaves the node alone.
      if (state !== '') await this.setState(name, '');
      return;
    }
    const w = this.walk(name);
    // Bookkeeping of a state the node has left (or had wiped) must not leak into the next walk.
    if (w.evictPhase !== state) {
      w.evictPhase = undefined;
      w.evictStart = undefined;
      w.evictBlockedReported = false;
    }
    if (state !== 'validation-required') w.validated = false;
    const desired = owner.version;
    const current = currentVersion(v.labels) ?? installedDriver(spec.gpu!).full;
    if (desired !== undefined && desired === current && w.syncedTo !== desired && (state === '' || state === 'upgrade-done')) {
      w.syncedTo = desired;
      this.saveRevisions();
    }
    const outOfSync = desired !== undefined && desired !== w.syncedTo;

    switch (state) {
      case '':
      case 'upgrade-done': {
        const requested = v.annotations[UPGRADE_REQUESTED] === 'true';
        if (outOfSync || requested) {
          await this.setState(name, 'upgrade-required', {
            annotations: { ...(v.unschedulable ? { [INITIAL_UNSCHEDULABLE]: 'true' } : {}), ...(requested ? { [UPGRADE_REQUESTED]: null } : {}) },
          });
          this.scheduleAdmit();
        } else if (state === '') await this.setState(name, 'upgrade-done');
        return;
      }
      case 'upgrade-required':
        this.scheduleAdmit();
        return;
      case 'cordon-required':
        await this.setState(name, 'wait-for-jobs-required', { unschedulable: true });
        this.enqueue(name);
        return;
      case 'wait-for-jobs-required':
        return this.waitForJobs(name, v, policy);
      case 'pod-deletion-required':
      case 'drain-required':
        return this.evictPhase(name, state, policy);
      case 'pod-restart-required':
        return this.podRestart(name, spec, v, w, desired);
      case 'validation-required':
        return this.validate(name, v, w);
      case 'uncordon-required':
        // A node that was cordoned before its upgrade never reaches here (validation sends it to upgrade-done).
        await this.setState(name, 'upgrade-done', { unschedulable: null });
        this.scheduleAdmit();
        return;
      case 'upgrade-failed': {
        // The crash-looping driver pod comes up once whatever broke it is gone; then the walk resumes.
        const rf = rolloutFaults(this.faults());
        if (w.failedTarget && w.failedTarget === desired && !rf.upgradeFail?.[name] && v.ready) {
          await this.install(name, spec, w, w.failedTarget, 'validation-required');
          w.failedTarget = undefined;
          this.enqueue(name);
        }
        return;
      }
      default:
        return; // node-maintenance-required etc.: only with a maintenance operator, not simulated
    }
  }

  private async waitForJobs(name: string, v: NodeView, policy: UpgradePolicy): Promise<void> {
    const { podSelector, timeoutSeconds } = policy.waitForCompletion;
    if (podSelector) {
      const pods = await this.podsOn(name, podSelector);
      const running = pods.filter((p) => !TERMINAL.has(p.status?.phase));
      if (running.length > 0) {
        const start = v.annotations[WAIT_START];
        if (!start) {
          await this.patchNode(name, { annotations: { [WAIT_START]: String(Math.floor(Date.now() / 1000)) } });
          this.later(name, 5000);
          return;
        }
        if (timeoutSeconds === 0 || Date.now() / 1000 - Number(start) < timeoutSeconds) {
          this.later(name, 5000);
          return;
        }
        this.log(`driver-upgrade ${name}: waited ${timeoutSeconds}s for ${running.length} job pods; going on`);
      }
    }
    // The GPU Operator always enables the pod-deletion state (GPU pods only).
    await this.setState(name, 'pod-deletion-required', { annotations: v.annotations[WAIT_START] ? { [WAIT_START]: null } : undefined });
    this.enqueue(name);
  }

  private async podsOn(node: string, labelSelector?: string): Promise<any[]> {
    this.requests++;
    const list = await this.kube.get<{ items: any[] }>('/api/v1/pods', { fieldSelector: `spec.nodeName=${node}`, ...(labelSelector ? { labelSelector } : {}) });
    return list.items;
  }

  /**
   * pod-deletion-required evicts the pods that use GPUs; drain-required (only with
   * drain.enable) evicts everything but DaemonSet pods. Evictions go through the
   * Eviction API like the drain helper's, so a PodDisruptionBudget answers 429 and
   * the node waits here until the timeout; then pod deletion falls through to drain
   * (if enabled) or upgrade-failed, and a failed drain is upgrade-failed.
   */
  private async evictPhase(name: string, state: 'pod-deletion-required' | 'drain-required', policy: UpgradePolicy): Promise<void> {
    const w = this.walk(name);
    const drain = state === 'drain-required';
    if (drain && !policy.drain.enable) {
      await this.setState(name, 'pod-restart-required');
      this.enqueue(name);
      return;
    }
    const spec = drain ? policy.drain : policy.podDeletion;
    const pods = (await this.podsOn(name)).filter((p) => {
      if (TERMINAL.has(p.status?.phase)) return false;
      if (p.metadata.namespace === GPU_OPERATOR_NAMESPACE) return false;
      if ((p.metadata.ownerReferences ?? []).some((o: { kind: string }) => o.kind === 'DaemonSet')) return false;
      if (p.metadata.annotations?.['kubernetes.io/config.mirror']) return false;
      if (!drain) return usesGpu(p);
      if (p.metadata.labels?.[DRAIN_SKIP_LABEL] === 'true') return false;
      return matchesSelector(policy.drain.podSelector, p.metadata.labels);
    });
    const next: UpgradeState = 'pod-restart-required';
    if (pods.length === 0) {
      w.evictStart = undefined;
      w.evictBlockedReported = false;
      await this.setState(name, next);
      this.enqueue(name);
      return;
    }
    if (w.evictStart === undefined) {
      w.evictPhase = state;
      w.evictStart = Date.now();
    }
    const fail = async (why: string) => {
      const to: UpgradeState = !drain && policy.drain.enable ? 'drain-required' : 'upgrade-failed';
      this.log(`driver-upgrade ${name}: ${drain ? 'drain' : 'pod deletion'} failed: ${why}`);
      await this.event(name, 'Warning', `Failed to ${drain ? 'drain the node' : 'delete GPU pods'}: ${why}`);
      w.evictStart = undefined;
      w.evictBlockedReported = false;
      await this.setState(name, to);
      this.enqueue(name);
    };
    const unmanaged = pods.filter((p) => !(p.metadata.ownerReferences ?? []).some((o: { controller?: boolean }) => o.controller));
    if (unmanaged.length && !spec.force) {
      return fail(`cannot delete Pods declare no controller (use --force to override): ${unmanaged.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}`);
    }
    const blocked: string[] = [];
    for (const p of pods) {
      if (p.metadata.deletionTimestamp) continue; // evicted, waiting for the kubelet
      try {
        this.requests++;
        await this.kube.create(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`, {
          apiVersion: 'policy/v1beta1',
          kind: 'Eviction',
          metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
        });
      } catch (err) {
        if (err instanceof KubeError && err.status === 404) continue;
        if (err instanceof KubeError && err.status === 429) {
          blocked.push(`${p.metadata.namespace}/${p.metadata.name}: ${(err.body as { message?: string })?.message ?? 'Too Many Requests'}`);
          continue;
        }
        throw err;
      }
    }
    const timeoutS = spec.timeoutSeconds;
    if (timeoutS > 0 && Date.now() - w.evictStart > timeoutS * 1000) {
      return fail(`timed out after ${timeoutS}s waiting for ${pods.length} pod(s)${blocked.length ? `; evictions refused: ${blocked.join('; ')}` : ''}`);
    }
    if (blocked.length) {
      if (!w.evictBlockedReported) {
        w.evictBlockedReported = true;
        this.log(`driver-upgrade ${name}: eviction refused: ${blocked.join('; ')}`);
        await this.event(name, 'Warning', `Cannot evict pod as it would violate the pod's disruption budget: ${blocked.join('; ')}`);
      }
      this.later(name, 5000); // the drain helper retries refused evictions every 5 s
    } else this.later(name, 250); // evicted; the kubelet removes them within moments
  }

  private async podRestart(name: string, spec: NodeSpec, v: NodeView, w: Walk, desired: string | undefined): Promise<void> {
    if (desired === undefined) return;
    if (w.syncedTo === desired) {
      // Driver pod already in sync (the desired version went back to what it runs): nothing to restart.
      await this.setState(name, 'validation-required');
      this.enqueue(name);
      return;
    }
    if (w.restartTimer || !v.ready || this.kubelets.isHeld(name)) return;
    const rf = rolloutFaults(this.faults());
    const noReturn = rf.noReturn?.[name];
    if (noReturn && w.noReturnFired !== noReturn) {
      // The host went down while the driver reloaded and never comes back.
      w.noReturnFired = noReturn;
      this.kubelets.holdDown(name);
      this.log(`driver-upgrade ${name}: host did not come back from the driver reload (no-return fault)`);
      return;
    }
    // The node's upgrade time covers the driver pod restart and the validation after it.
    const total = this.upgradeMs(v);
    const target = desired;
    w.restartTimer = setTimeout(() => {
      w.restartTimer = undefined;
      void this.restartDone(name, spec, w, target).catch((err) => {
        this.log(`driver-upgrade ${name}: ${err instanceof Error ? err.message : String(err)}`);
        this.later(name, 1000);
      });
    }, total - validationMs(total));
    w.restartTimer.unref();
  }

  private async restartDone(name: string, spec: NodeSpec, w: Walk, target: string): Promise<void> {
    const v = this.nodes.items.get(name);
    if (!v || v.labels[UPGRADE_STATE_LABEL] !== 'pod-restart-required') return;
    if (!v.ready || this.kubelets.isHeld(name)) return; // the node went away meanwhile: restart again when it is back
    if (rolloutFaults(this.faults()).upgradeFail?.[name]) {
      // The new driver pod crash-loops (restartCount > 10): the operator gives up on the node.
      w.failedTarget = target;
      await this.event(name, 'Warning', `Driver pod for ${target} is failing with repeated restarts`);
      await this.setState(name, 'upgrade-failed');
      this.scheduleAdmit();
      return;
    }
    await this.install(name, spec, w, target, 'validation-required');
    this.enqueue(name);
  }

  /** The new driver is loaded: version labels (both GFD generations), truth and exporter change now. */
  private async install(name: string, spec: NodeSpec, w: Walk, version: string, next: UpgradeState): Promise<void> {
    const before = installedDriver(spec.gpu!).full;
    const override = spec.gpu!.driverVersion;
    spec.gpu!.driverVersion = version;
    const labels: Record<string, string | null> = {};
    for (const [k, val] of Object.entries(gfdLabels(spec))) if (k.startsWith('nvidia.com/cuda.')) labels[k] = val;
    try {
      await this.setState(name, next, { labels });
    } catch (err) {
      spec.gpu!.driverVersion = override;
      throw err;
    }
    w.syncedTo = version;
    this.saveRevisions();
    this.onInstalled(name);
    this.log(`driver-upgrade ${name}: driver ${before} -> ${version}`);
  }

  private async validate(name: string, v: NodeView, w: Walk): Promise<void> {
    if (!w.validated) {
      // The operator-validator pods come up on the new driver (selector app=nvidia-operator-validator).
      if (!w.validateTimer) {
        w.validateTimer = setTimeout(() => {
          w.validateTimer = undefined;
          w.validated = true;
          this.enqueue(name);
        }, validationMs(this.upgradeMs(v)));
        w.validateTimer.unref();
      }
      return;
    }
    w.validated = false;
    const initiallyCordoned = INITIAL_UNSCHEDULABLE in v.annotations;
    const cleanup = { [INITIAL_UNSCHEDULABLE]: null, ...(v.annotations[VALIDATION_START] ? { [VALIDATION_START]: null } : {}) };
    if (initiallyCordoned) await this.setState(name, 'upgrade-done', { annotations: cleanup });
    else await this.setState(name, 'uncordon-required', { annotations: v.annotations[VALIDATION_START] ? { [VALIDATION_START]: null } : undefined });
    this.enqueue(name);
    this.scheduleAdmit();
  }

  private upgradeMs(v: NodeView): number {
    const ms = Number(v.annotations[UPGRADE_MS_ANNOTATION] ?? this.opts.upgradeMs);
    return Number.isFinite(ms) && ms >= 0 ? ms : this.opts.upgradeMs;
  }

  // ---- slots: upgrade-required -> cordon-required --------------------------------

  private scheduleAdmit(): void {
    if (!this.started) return;
    if (this.admitting) {
      this.admitAgain = true;
      return;
    }
    if (this.admitTimer) return;
    this.admitTimer = setTimeout(() => {
      this.admitTimer = undefined;
      this.admitting = true;
      this.admit()
        .catch((err) => this.log(`driver-upgrade admit: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          this.admitting = false;
          if (this.admitAgain) {
            this.admitAgain = false;
            this.scheduleAdmit();
          }
        });
    }, 100);
    this.admitTimer.unref();
  }

  /** ProcessUpgradeRequiredNodes, once over all owners: the real slot arithmetic (k8s-operator-libs GetUpgradesAvailable). */
  private async admit(): Promise<void> {
    const parts = new Map<string, { owner: DriverOwner; nodes: NodeView[] }>();
    for (const name of this.specs.keys()) {
      const v = this.nodes.items.get(name);
      if (!v || v.labels['nvidia.com/gpu.deploy.driver'] === 'false') continue;
      const owner = this.ownerOf(v);
      if (!owner || !owner.policy.autoUpgrade) continue;
      const part = parts.get(owner.key) ?? parts.set(owner.key, { owner, nodes: [] }).get(owner.key)!;
      part.nodes.push(v);
    }
    for (const { owner, nodes } of parts.values()) {
      const byState = new Map<string, NodeView[]>();
      for (const v of nodes) {
        const s = v.labels[UPGRADE_STATE_LABEL] ?? '';
        (byState.get(s) ?? byState.set(s, []).get(s)!).push(v);
      }
      const count = (s: string) => byState.get(s)?.length ?? 0;
      const required = byState.get('upgrade-required') ?? [];
      if (required.length === 0) continue;
      const total = nodes.length;
      const inProgress = total - (count('') + count('upgrade-done') + required.length);
      const maxUnavailable = scaledMaxUnavailable(owner.policy.maxUnavailable, total);
      const unavailable = nodes.filter((v) => v.unschedulable || !v.ready).length + count('cordon-required');
      let available = owner.policy.maxParallelUpgrades === 0 ? required.length : owner.policy.maxParallelUpgrades - inProgress;
      if (available > maxUnavailable) available = maxUnavailable;
      if (unavailable >= maxUnavailable) available = 0;
      else if (maxUnavailable < total && unavailable + available > maxUnavailable) available = maxUnavailable - unavailable;
      const admitted: NodeView[] = [];
      for (const v of required) {
        if (v.labels[UPGRADE_SKIP_LABEL] === 'true') continue;
        // With no slot left, nodes that are already cordoned still go ahead.
        if (available <= 0 && !v.unschedulable) continue;
        admitted.push(v);
        available--;
      }
      // Decided up front from one snapshot, as one reconcile does; the writes then go out together.
      await mapLimit(admitted, CONCURRENCY, async (v) => {
        await this.setState(v.name, 'cordon-required');
        this.enqueue(v.name);
      });
    }
  }

  private async event(node: string, type: 'Normal' | 'Warning', message: string): Promise<void> {
    const now = rfc3339();
    this.requests++;
    await this.kube
      .create('/api/v1/namespaces/default/events', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${node}.`, namespace: 'default' },
        involvedObject: { kind: 'Node', name: node, uid: node, apiVersion: 'v1' },
        reason: 'GPUDriverUpgrade',
        message,
        type,
        source: { component: 'nvidia-gpu-operator' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch((err) => this.log(`driver-upgrade ${node}: event not recorded: ${err instanceof Error ? err.message : String(err)}`));
  }
}

/** The validator pods' share of a node's upgrade time. */
const validationMs = (total: number) => Math.min(500, Math.floor(total / 5));

function versionOf(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** The driver version a node's GFD labels say it runs (new generation first). */
export function currentVersion(labels: Record<string, string>): string | undefined {
  const full = labels['nvidia.com/cuda.driver-version.full'];
  if (full) return full;
  const parts = [labels['nvidia.com/cuda.driver.major'], labels['nvidia.com/cuda.driver.minor'], labels['nvidia.com/cuda.driver.rev']];
  if (!parts[0] || !parts[1]) return undefined;
  return parts.filter((p) => p !== undefined && p !== '').join('.');
}

function usesGpu(p: any): boolean {
  const containers = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])];
  return containers.some((c: any) => [...Object.keys(c.resources?.limits ?? {}), ...Object.keys(c.resources?.requests ?? {})].some((k) => GPU_RESOURCE.test(k)));
}
