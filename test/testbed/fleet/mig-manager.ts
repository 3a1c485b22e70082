// The GPU Operator's nvidia-mig-manager, one per MIG-capable GPU node, as
// reference/gpu.md §3 describes its reconfigure flow (mig-parted v0.15):
// on a change of the node label nvidia.com/mig.config it validates the named
// config (from the ConfigMap the ClusterPolicy points at, re-read each time),
// sets nvidia.com/mig.config.state=pending, pauses the GPU operands
// (gpu.deploy.*=paused-for-mig-change) and waits for their pods to go, applies
// the layout (rebooting only with WITH_REBOOT=true and a MIG mode change),
// restores the deploy labels and sets success. Then the device plugin and GFD
// come back and the node's allocatable and labels show the new instances.
// Any error leaves the old layout and state=failed, as the real one does.
import yaml from 'js-yaml';
import { migModelFor, type MigModel, type Placement } from '../../../shared/gpu/mig-geometry.ts';
import { autoPlace } from '../../../shared/gpu/mig-layout.ts';
import { configCountsFor, fromMigParted, normalizeDeviceId } from '../../../shared/gpu/mig-parted.ts';
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';
import type { DeviceAllocator } from './allocator.ts';
import type { MigSetup, NodeSpec } from './catalog.ts';
import { advertisedResources, uuidFrom, type Gpu, type MigDevice } from './devices.ts';
import type { FleetFaults } from './fault-state.ts';
import { dcgmPodName, GPU_OPERATOR_NAMESPACE } from './gpu-operator.ts';
import { gpuModel, type GpuModelKey } from './gpus.ts';
import { gfdLabels } from './labels.ts';
import { giIdAt } from './mig-placement.ts';
import { fleetMigProfile } from './mig-profiles.ts';
import { clusterPolicyPath, DEFAULT_MIG_CONFIG, MIG_CONFIG_KEY } from './operator-crds.ts';
import type { Pod } from './pod-informer.ts';
import type { FleetTruth } from './truth.ts';

export const MIG_CONFIG_LABEL = 'nvidia.com/mig.config';
export const MIG_STATE_LABEL = 'nvidia.com/mig.config.state';
export const MIG_PAUSED = 'paused-for-mig-change';
export type MigState = 'pending' | 'rebooting' | 'success' | 'failed';

/** The operands mig-manager pauses (step 3); values that were `false` stay `false`. */
export const MIG_PAUSED_OPERANDS = ['device-plugin', 'gpu-feature-discovery', 'dcgm-exporter', 'dcgm', 'nvsm'];
const deployLabel = (operand: string) => `nvidia.com/gpu.deploy.${operand}`;

/** PCI device IDs of the fleet's boards (SXM parts; A30 is PCIe only), as mig-parted's device-filter matches them. */
export const FLEET_DEVICE_IDS: Partial<Record<GpuModelKey, string>> = {
  h100: '0x233010DE',
  a100_80: '0x20B210DE',
  a100_40: '0x20B010DE',
  a30: '0x20B710DE',
};

/** Per-step delay; the whole walk takes about 5 steps. Real applies take 30-70 s (gpu.md §3). */
export function migStepDelayMs(): number {
  const v = Number(process.env.TESSERA_SIM_MIG_DELAY_MS);
  return Number.isFinite(v) && v >= 0 ? v : 400;
}

/** The fault-state section `mig`: node → the next applies fail. */
export interface MigFault {
  message?: string;
  since: string;
}
export const migFaults = (f: FleetFaults): Record<string, MigFault> => (f.mig ?? {}) as Record<string, MigFault>;

/** What one GPU should look like after the apply. */
interface GpuPlan {
  mig: boolean;
  placements: Placement[];
}

type Resolved = { ok: true; plans: GpuPlan[]; strategy: 'single' | 'mixed'; withReboot: boolean; source: string } | { ok: false; reason: string };

interface NodeMig {
  spec: NodeSpec;
  model: MigModel;
  deviceId: string;
  /** The config whose layout the GPUs have now. */
  applied: string;
  /** The label value last acted on: the manager reacts to changes of the label only. */
  lastSeen?: string;
  labels: Record<string, string>;
  busy: boolean;
  again: boolean;
}

interface NodeObject {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  status?: { allocatable?: Record<string, string>; capacity?: Record<string, string> };
}

class MigApplyError extends Error {}

const sameLayout = (gpu: Gpu, plan: GpuPlan) =>
  gpu.mig === plan.mig &&
  gpu.migDevices.length === plan.placements.length &&
  plan.placements.every((p) => gpu.migDevices.some((m) => m.profile === p.profile && m.start === p.start));

const isGpuResource = (k: string) => k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-');
// GFD keys that exist only for some MIG layouts; dropped when the new layout has none.
const isMigLabel = (k: string) => k.startsWith('nvidia.com/mig-') || /^nvidia\.com\/gpu\.(multiprocessors|slices\.|engines\.)/.test(k);

export class MigManager {
  private readonly nodes = new Map<string, NodeMig>();
  private readonly paused = new Set<string>();
  private stopped = false;
  private watch?: { close(): void };
  private timer?: NodeJS.Timeout;
  private generation = 0;
  /** Called when a node's operands may run again, so the DaemonSet stand-in recreates them at once. */
  onOperandsBack: (node: string) => void = () => {};

  constructor(
    private readonly kube: Kube,
    specs: NodeSpec[],
    private readonly devices: DeviceAllocator,
    private readonly pods: () => Map<string, Pod>,
    private readonly faults: () => FleetFaults,
    private readonly nodeReady: (node: string) => boolean,
    private readonly log: (m: string) => void,
    private readonly stepMs = migStepDelayMs(),
  ) {
    for (const spec of specs) {
      const g = spec.gpu;
      const id = g && FLEET_DEVICE_IDS[g.model];
      const model = g && migModelFor(gpuModel(g.model).product);
      // mig-manager runs where the operator runs it: MIG-capable nodes with operator labels.
      if (!g || !id || !model || g.labels !== 'both') continue;
      this.nodes.set(spec.name, { spec, model, deviceId: id, applied: g.mig?.config ?? 'all-disabled', labels: {}, busy: false, again: false });
    }
  }

  /** The DaemonSet controller's view: the node's dcgm-exporter is paused for a MIG change. */
  isPaused(node: string): boolean {
    return this.paused.has(node);
  }

  get managed(): number {
    return this.nodes.size;
  }

  /**
   * After a simulator restart the Node objects remember applied layouts the
   * catalog does not: a node at state success with another config gets that
   * layout back, silently and with the MIG UUIDs it had (from fleet-truth.json),
   * before any pod is given devices. An apply cut short (pending, rebooting) runs again.
   */
  async restore(previous?: FleetTruth): Promise<void> {
    const list = await this.kube.get<{ items: NodeObject[] }>('/api/v1/nodes', { labelSelector: 'nvidia.com/mig.capable=true' });
    for (const node of list.items) {
      const m = this.nodes.get(node.metadata.name);
      if (!m) continue;
      m.labels = node.metadata.labels ?? {};
      const want = m.labels[MIG_CONFIG_LABEL];
      const state = m.labels[MIG_STATE_LABEL];
      if (!want || want === m.applied) {
        m.lastSeen = want;
        continue;
      }
      if (state === 'success') {
        const r = await this.resolve(m, want).catch((err: unknown) => ({ ok: false as const, reason: String(err) }));
        if (r.ok) {
          this.apply(m, want, r, previous);
          this.log(`mig-manager ${m.spec.name}: restored ${want} after restart`);
        } else this.log(`mig-manager ${m.spec.name}: cannot restore ${want}: ${r.reason}`);
        m.lastSeen = want;
      } else if (state === 'failed') m.lastSeen = want;
      // pending/rebooting: lastSeen stays unset, so run() applies it again.
    }
  }

  /** Watches MIG-capable nodes until stop(); re-lists after every stream end. */
  async run(): Promise<void> {
    this.timer = setInterval(() => {
      // Nodes skipped while NotReady (their mig-manager pod is not running) get another look.
      for (const m of this.nodes.values()) this.consider(m);
    }, 2000);
    this.timer.unref();
    const labelSelector = 'nvidia.com/mig.capable=true';
    while (!this.stopped) {
      try {
        const list = await this.kube.get<{ metadata: { resourceVersion: string }; items: NodeObject[] }>('/api/v1/nodes', { labelSelector });
        for (const n of list.items) this.observe(n);
        const h = this.kube.watch('/api/v1/nodes', { labelSelector, resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 240 }, (e) => {
          if (e.type === 'ADDED' || e.type === 'MODIFIED') this.observe(e.object as NodeObject);
        });
        this.watch = h;
        await h.done;
      } catch (err) {
        if (!this.stopped) this.log(`mig-manager: watch: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(1000);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    if (this.timer) clearInterval(this.timer);
  }

  private observe(node: NodeObject): void {
    const m = this.nodes.get(node.metadata.name);
    if (!m) return;
    m.labels = node.metadata.labels ?? {};
    this.consider(m);
  }

  private consider(m: NodeMig): void {
    if (m.busy) {
      m.again = true;
      return;
    }
    const want = m.labels[MIG_CONFIG_LABEL];
    if (!want || want === m.lastSeen || !this.nodeReady(m.spec.name)) return;
    m.lastSeen = want;
    m.busy = true;
    void this.reconfigure(m, want)
      .catch((err) => this.log(`mig-manager ${m.spec.name}: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        m.busy = false;
        if (m.again) {
          m.again = false;
          this.consider(m);
        }
      });
  }

  private async patchLabels(node: string, labels: Record<string, string | null>): Promise<void> {
    await this.kube.patch(`/api/v1/nodes/${node}`, { metadata: { labels } }, 'merge');
  }

  private async reconfigure(m: NodeMig, want: string): Promise<void> {
    const name = m.spec.name;
    const step = () => sleep(this.stepMs);
    // Step 1: validate the config; if the GPUs already match it, that is success.
    const r = await this.resolve(m, want).catch((err: unknown) => ({ ok: false as const, reason: err instanceof Error ? err.message : String(err) }));
    await step();
    if (!r.ok) {
      await this.patchLabels(name, { [MIG_STATE_LABEL]: 'failed' });
      this.log(`mig-manager ${name}: ${want} failed: ${r.reason}`);
      return;
    }
    if (this.devices.gpus(name).every((g, i) => sameLayout(g, r.plans[i]!))) {
      m.applied = want;
      if (m.spec.gpu?.mig) m.spec.gpu = { ...m.spec.gpu, mig: { ...m.spec.gpu.mig, config: want } };
      await this.patchLabels(name, { [MIG_STATE_LABEL]: 'success' });
      this.log(`mig-manager ${name}: ${want} already applied`);
      return;
    }
    // Steps 2-3: pending, operands paused.
    const pausedOperands = MIG_PAUSED_OPERANDS.filter((o) => m.labels[deployLabel(o)] === 'true');
    await this.patchLabels(name, { [MIG_STATE_LABEL]: 'pending', ...Object.fromEntries(pausedOperands.map((o) => [deployLabel(o), MIG_PAUSED])) });
    this.log(`mig-manager ${name}: applying ${want} (${r.source})`);
    let failure: string | undefined;
    try {
      if (pausedOperands.includes('dcgm-exporter')) await this.stopExporter(name);
      await step();
      // Steps 6-7: MIG mode, then the layout. nvidia-smi refuses to touch a GPU a process uses.
      const fault = migFaults(this.faults())[name];
      if (fault) throw new MigApplyError(fault.message ?? 'injected fault: mig-fail');
      const gpus = this.devices.gpus(name);
      const inUse = gpus.filter((g, i) => !sameLayout(g, r.plans[i]!) && (g.holder || g.migDevices.some((d) => d.holder)));
      if (inUse.length) {
        const holders = [...new Set(inUse.flatMap((g) => [g.holder, ...g.migDevices.map((d) => d.holder)]).flatMap((h) => (h ? [`${h.namespace}/${h.pod}`] : [])))];
        throw new MigApplyError(`GPU ${inUse.map((g) => g.index).join(', ')} in use by another client (${holders.join(', ')})`);
      }
      const modeChange = gpus.some((g, i) => g.mig !== r.plans[i]!.mig);
      if (modeChange && r.withReboot) {
        await this.patchLabels(name, { [MIG_STATE_LABEL]: 'rebooting' });
        await step();
        await step();
      }
      await step();
      this.apply(m, want, r);
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    // Steps 8-9: operands back, then the state.
    this.paused.delete(name);
    const restore = Object.fromEntries(pausedOperands.map((o) => [deployLabel(o), 'true']));
    await this.patchLabels(name, { ...restore, [MIG_STATE_LABEL]: failure ? 'failed' : 'success' });
    if (pausedOperands.length) this.onOperandsBack(name);
    if (failure) {
      this.log(`mig-manager ${name}: ${want} failed: ${failure}`);
      return;
    }
    this.log(`mig-manager ${name}: ${want} success`);
    // The device plugin and GFD restart and report the new devices a moment later.
    await step();
    await this.publish(m);
  }

  /** The operator's DaemonSet drops the exporter pod once its deploy label is paused; mig-manager waits for it to go. */
  private async stopExporter(node: string): Promise<void> {
    this.paused.add(node);
    const pod = dcgmPodName(node);
    await this.kube.delete(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods/${pod}`).catch((err) => {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    });
    const deadline = Date.now() + 30_000;
    while (this.pods().has(`${GPU_OPERATOR_NAMESPACE}/${pod}`)) {
      if (Date.now() > deadline) throw new MigApplyError(`timed out waiting for pod ${GPU_OPERATOR_NAMESPACE}/${pod} to terminate`);
      await sleep(100);
    }
  }

  /** mig-parted's view: the config from the ClusterPolicy's ConfigMap, per GPU, checked against the geometry. */
  private async resolve(m: NodeMig, want: string): Promise<Resolved> {
    let cmName = DEFAULT_MIG_CONFIG;
    let strategy: 'single' | 'mixed' = 'single';
    let withReboot = false;
    try {
      const cp = await this.kube.get<{ spec?: { migManager?: { config?: { name?: string }; env?: Array<{ name: string; value?: string }> }; mig?: { strategy?: string } } }>(clusterPolicyPath());
      cmName = cp.spec?.migManager?.config?.name || DEFAULT_MIG_CONFIG;
      if (cp.spec?.mig?.strategy === 'mixed') strategy = 'mixed';
      withReboot = cp.spec?.migManager?.env?.some((e) => e.name === 'WITH_REBOOT' && e.value === 'true') ?? false;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    // A node already running MIG keeps its device plugin's strategy.
    strategy = m.spec.gpu?.mig?.strategy ?? strategy;
    const source = `ConfigMap ${GPU_OPERATOR_NAMESPACE}/${cmName}`;
    let text: string | undefined;
    try {
      const cm = await this.kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/configmaps/${cmName}`);
      text = cm.data?.[MIG_CONFIG_KEY];
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return { ok: false, reason: `${source} not found` };
      throw err;
    }
    if (text === undefined) return { ok: false, reason: `${source} has no ${MIG_CONFIG_KEY}` };
    let parsed: unknown;
    try {
      parsed = yaml.load(text);
    } catch (err) {
      return { ok: false, reason: `${source}: ${MIG_CONFIG_KEY} is not YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
    }
    const { configs, problems } = fromMigParted(parsed);
    const entries = configs[want];
    if (!entries) {
      const own = problems.filter((p) => p.includes(`"${want}"`) || !p.startsWith('Config '));
      return { ok: false, reason: own.length ? own.join(' ') : `unknown config "${want}" in ${source}` };
    }
    const gpus = this.devices.gpus(m.spec.name);
    const plans: GpuPlan[] = [];
    let matched = 0;
    for (const gpu of gpus) {
      const e = configCountsFor(entries, m.model, gpu.index, m.deviceId);
      if (!e) {
        // No entry for this GPU: mig-parted leaves it as it is.
        plans.push({ mig: gpu.mig, placements: gpu.migDevices.map((d) => ({ profile: d.profile, start: d.start, size: d.size })) });
        continue;
      }
      matched++;
      if (!e.enabled) {
        plans.push({ mig: false, placements: [] });
        continue;
      }
      const placed = autoPlace(m.model, e.counts);
      if (!placed.ok) return { ok: false, reason: `GPU ${gpu.index}: ${placed.reason}` };
      plans.push({ mig: true, placements: placed.placements });
    }
    if (matched === 0) return { ok: false, reason: `config "${want}" has no entry for device ${normalizeDeviceId(m.deviceId)} (${m.model.label})` };
    return { ok: true, plans, strategy, withReboot, source };
  }

  /** The layout in the device model: new MIG devices on the GPUs that change, the node's MIG setup in its spec. */
  private apply(m: NodeMig, config: string, r: Extract<Resolved, { ok: true }>, previous?: FleetTruth): void {
    const spec = m.spec;
    const g = spec.gpu!;
    const old = this.devices.gpus(spec.name);
    const gen = ++this.generation;
    const prior = previous?.nodes[spec.name];
    const gpus = old.map((gpu, i): Gpu => {
      const plan = r.plans[i]!;
      if (sameLayout(gpu, plan)) return gpu; // untouched: same objects, holders and UUIDs
      const migDevices = plan.placements.map((p): MigDevice => {
        const giId = giIdAt(m.model.memorySlices, p.size, p.start);
        const kept = prior?.gpus[i]?.migDevices.find((d) => d.profile === p.profile && d.placement.start === p.start);
        return {
          giId,
          ciId: 0,
          profile: p.profile,
          start: p.start,
          size: p.size,
          // A re-created GPU instance gets a new UUID.
          uuid: kept?.uuid ?? `MIG-${uuidFrom(`mig/${gpu.uuid}/${giId}/${Date.now()}/${gen}`, '5')}`,
          memoryMiB: fleetMigProfile(g.model, p.profile)?.memoryMiB ?? 0,
        };
      });
      return { index: gpu.index, uuid: gpu.uuid, pciBusId: gpu.pciBusId, memoryMiB: gpu.memoryMiB, mig: plan.mig, migDevices };
    });
    const firstMig = gpus.find((x) => x.mig);
    const setup: MigSetup | undefined = firstMig
      ? { strategy: r.strategy, config, perGpu: countsOf(firstMig) }
      : undefined;
    // A new object, not an edit: whoever holds the old one keeps a consistent view.
    spec.gpu = { ...g, mig: setup };
    this.devices.relayout(spec, gpus);
    m.applied = config;
  }

  /** GFD's labels and the device plugin's resources for the new devices. */
  private async publish(m: NodeMig): Promise<void> {
    const spec = m.spec;
    const gpus = this.devices.gpus(spec.name);
    const node = await this.kube.get<NodeObject>(`/api/v1/nodes/${spec.name}`);
    const labels: Record<string, string | null> = gfdMigLabels(spec, gpus);
    for (const k of Object.keys(node.metadata.labels ?? {})) if (isMigLabel(k) && !(k in labels)) labels[k] = null;
    await this.patchLabels(spec.name, labels);
    // The kubelet keeps a resource whose device plugin went away, at 0 ("had been registered
    // before"), so old nvidia.com/mig-* keys stay in capacity and allocatable (gpu.md §1.4).
    const devices: Record<string, string> = {};
    for (const k of Object.keys(node.status?.capacity ?? {})) if (isGpuResource(k)) devices[k] = '0';
    for (const [k, v] of Object.entries(advertisedResources(spec, gpus))) devices[k] = String(v);
    await this.kube.patch(`/api/v1/nodes/${spec.name}/status`, { status: { allocatable: devices, capacity: devices } }, 'merge');
  }
}

function countsOf(gpu: Gpu): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of gpu.migDevices) out[d.profile] = (out[d.profile] ?? 0) + 1;
  return out;
}

/**
 * GFD's labels for the node's devices as they are now. gfdLabels counts
 * perGpu × GPUs; per-GPU layouts may differ, so it is given the node's totals
 * as one GPU, and the physical count is put back where GFD reports it.
 */
export function gfdMigLabels(spec: NodeSpec, gpus: Gpu[]): Record<string, string> {
  const g = spec.gpu!;
  const mig = g.mig;
  const stamp = { 'nvidia.com/gfd.timestamp': String(Math.floor(Date.now() / 1000)) };
  if (!mig) return { ...gfdLabels(spec), ...stamp };
  const totals: Record<string, number> = {};
  for (const gpu of gpus) for (const d of gpu.migDevices) totals[d.profile] = (totals[d.profile] ?? 0) + 1;
  // Single strategy needs every GPU in MIG mode with one and the same profile; otherwise GFD says MIG-INVALID.
  const layouts = new Set(gpus.map((x) => (x.mig ? JSON.stringify(countsOf(x)) : 'off')));
  const singleOk = layouts.size === 1 && !layouts.has('off') && Object.keys(totals).length === 1;
  const perGpu = mig.strategy === 'single' && !singleOk ? {} : totals;
  const labels = gfdLabels({ ...spec, gpu: { ...g, count: 1, mig: { ...mig, perGpu } } });
  if (mig.strategy === 'mixed' && Object.keys(perGpu).length > 0) labels['nvidia.com/gpu.count'] = String(g.count);
  return { ...labels, ...stamp };
}
