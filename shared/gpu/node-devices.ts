import type { GpuDevice, PodRef } from '../model/node.ts';
import type { GpuLabelFacts } from './labels.ts';
import { distributeOverGpus, migModelFor, placeOnGpu, type MigModel, type Placement } from './mig-geometry.ts';

/** A pod on the node and the GPU resources it holds, by resource name (nvidia.com/gpu, nvidia.com/mig-1g.10gb…). */
export interface PodDevices {
  ref: PodRef;
  resources: Record<string, number>;
}

export interface NodeDevices {
  /** Physical GPUs, when they can be told. */
  physical: number;
  devices: GpuDevice[];
  /** True when the MIG layout or the GPU a pod holds was inferred from counts rather than reported. */
  inferred: boolean;
}

const GPU = 'nvidia.com/gpu';
const MIG_PREFIX = 'nvidia.com/mig-';

/**
 * Layouts depend only on the model and the counts, and a fleet has few
 * distinct ones; caching them keeps a 2,000-node relist from re-solving the
 * same placement problem thousands of times.
 */
const layoutCache = new Map<string, { physical: number; layouts: Placement[][] }>();

function cachedLayout(key: string, solve: () => { physical: number; layouts: Placement[][] }): { physical: number; layouts: Placement[][] } {
  let hit = layoutCache.get(key);
  if (!hit) {
    if (layoutCache.size > 1000) layoutCache.clear();
    hit = solve();
    layoutCache.set(key, hit);
  }
  return hit;
}

function migDevices(layouts: Placement[][]): GpuDevice[] {
  return layouts.map((slots, index) => ({ index, mig: true, slots: slots.map((s) => ({ ...s })) }));
}

/** How many instances of one profile fit on one GPU of this model. */
function perGpu(model: MigModel, profile: string): number {
  let n = 0;
  while (placeOnGpu(model, { [profile]: n + 1 })) n++;
  return n;
}

/** Hands out slots to pods in a stable order (namespace/name), so the picture does not jump between updates. */
function assign(pods: PodDevices[], resource: string, take: (holder: PodRef) => boolean): void {
  const sorted = pods.filter((p) => (p.resources[resource] ?? 0) > 0).sort((a, b) => `${a.ref.namespace}/${a.ref.name}`.localeCompare(`${b.ref.namespace}/${b.ref.name}`));
  for (const p of sorted) for (let i = 0; i < p.resources[resource]!; i++) if (!take(p.ref)) return;
}

/**
 * The node's GPUs and MIG instances from what Kubernetes tells: GFD labels,
 * allocatable (the truth for what exists now: capacity keeps stale MIG keys)
 * and the pods bound to the node.
 */
export function deriveNodeDevices(facts: GpuLabelFacts, allocatable: Record<string, number>, pods: PodDevices[]): NodeDevices {
  const model = migModelFor(facts.product);
  const fullGpus = allocatable[GPU] ?? 0;

  if (facts.migInvalid) return { physical: facts.count ?? 0, devices: [], inferred: false };

  if (facts.migStrategy === 'single' && facts.migProfile && model) {
    const profile = facts.migProfile;
    const { physical, layouts } = cachedLayout(`s|${model.key}|${profile}|${fullGpus}`, () => {
      const each = Math.max(1, perGpu(model, profile));
      const gpus = Math.ceil(fullGpus / each);
      return { physical: gpus, layouts: distributeOverGpus(model, gpus, { [profile]: fullGpus }) };
    });
    const devices = migDevices(layouts);
    const free = devices.flatMap((d) => d.slots);
    assign(pods, GPU, (ref) => {
      const slot = free.shift();
      if (slot) slot.holder = ref;
      return !!slot;
    });
    return { physical, devices, inferred: true };
  }

  const migCounts: Record<string, number> = {};
  for (const [k, v] of Object.entries(allocatable)) if (k.startsWith(MIG_PREFIX) && v > 0) migCounts[k.slice(MIG_PREFIX.length)] = v;
  const migTotal = Object.values(migCounts).reduce((a, b) => a + b, 0);

  if (migTotal > 0 && model) {
    const key = `m|${model.key}|${facts.count ?? ''}|${fullGpus}|${Object.entries(migCounts).sort().join(';')}`;
    const { physical, layouts } = cachedLayout(key, () => {
      // MIG GPUs are what the count label leaves after whole GPUs; solve for fewer only when that cannot hold them.
      const hinted = (facts.count ?? 0) - fullGpus;
      const fits = (g: number) => g > 0 && distributeOverGpus(model, g, migCounts).flat().length >= migTotal;
      let migGpus = fits(hinted) ? hinted : 0;
      if (!migGpus) for (migGpus = 1; migGpus < 16 && !fits(migGpus); migGpus++);
      return { physical: Math.max(facts.count ?? 0, fullGpus + migGpus), layouts: distributeOverGpus(model, migGpus, migCounts) };
    });
    const migGpus = layouts.length;
    const devices = migDevices(layouts);
    for (let i = 0; i < physical - migGpus; i++) devices.push({ index: migGpus + i, mig: false, slots: [] });
    for (const profile of Object.keys(migCounts)) {
      const free = devices.flatMap((d) => d.slots.filter((s) => s.profile === profile));
      assign(pods, MIG_PREFIX + profile, (ref) => {
        const slot = free.shift();
        if (slot) slot.holder = ref;
        return !!slot;
      });
    }
    assignFull(devices, pods);
    return { physical, devices, inferred: true };
  }

  const physical = facts.count && facts.count >= fullGpus ? facts.count : fullGpus;
  const devices: GpuDevice[] = Array.from({ length: physical }, (_, index) => ({ index, mig: false, slots: [] }));
  assignFull(devices, pods);
  return { physical, devices, inferred: pods.some((p) => (p.resources[GPU] ?? 0) > 0) };
}

function assignFull(devices: GpuDevice[], pods: PodDevices[]): void {
  const free = devices.filter((d) => !d.mig);
  assign(pods, GPU, (ref) => {
    const d = free.shift();
    if (d) d.holder = ref;
    return !!d;
  });
}
