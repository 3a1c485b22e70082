import type { GpuDevice, PodRef } from '../model/node.ts';
import type { GpuLabelFacts } from './labels.ts';
import { distributeOverGpus, migModelFor, placeOnGpu, type MigModel } from './mig-geometry.ts';

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
    const each = Math.max(1, perGpu(model, facts.migProfile));
    const instances = fullGpus;
    const physical = Math.ceil(instances / each);
    const layouts = distributeOverGpus(model, physical, { [facts.migProfile]: instances });
    const devices: GpuDevice[] = layouts.map((slots, index) => ({ index, mig: true, slots: slots.map((s) => ({ ...s })) }));
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
    const needed = (() => {
      for (let g = 1; g <= 16; g++) {
        const layouts = distributeOverGpus(model, g, migCounts);
        if (layouts.flat().length >= migTotal) return g;
      }
      return 16;
    })();
    const physical = Math.max(facts.count ?? 0, fullGpus + needed);
    const migGpus = Math.max(needed, physical - fullGpus);
    const layouts = distributeOverGpus(model, migGpus, migCounts);
    const devices: GpuDevice[] = layouts.map((slots, index) => ({ index, mig: true, slots: slots.map((s) => ({ ...s })) }));
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
