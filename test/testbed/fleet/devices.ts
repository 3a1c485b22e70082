// The GPUs inside each simulated node, as NVML would enumerate them: index,
// UUID, PCI bus id and, with MIG on, the GPU instances mig-parted created.
// Everything derives from the node name, so the same fleet has the same
// devices after a simulator restart.
import crypto from 'node:crypto';
import type { NodeSpec } from './catalog.ts';
import { gpuModel } from './gpus.ts';
import { placeInstances } from './mig-placement.ts';

export interface DeviceHolder {
  namespace: string;
  pod: string;
  container: string;
  uid: string;
  /** The pod asked to look idle (tessera.dev/sim-idle): metrics stay near zero. */
  idle: boolean;
}

export interface MigDevice {
  giId: number;
  ciId: number;
  profile: string;
  start: number;
  size: number;
  uuid: string;
  memoryMiB: number;
  holder?: DeviceHolder;
}

export interface Gpu {
  index: number;
  uuid: string;
  pciBusId: string;
  memoryMiB: number;
  /** MIG mode on (even with no instances: the MIG-INVALID case). */
  mig: boolean;
  holder?: DeviceHolder;
  migDevices: MigDevice[];
}

const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export function uuidFrom(seed: string, version?: string): string {
  const h = hex(seed);
  const third = version ? `${version}${h.slice(13, 16)}` : h.slice(12, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${third}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

// Bus numbers of real chassis: DGX A100 / XE9680 style 8-way boards, 4-way PCIe servers, one slot.
const BUSES: Record<number, string[]> = {
  8: ['07', '0F', '47', '4E', '87', '90', 'B7', 'BD'],
  4: ['17', '65', 'CA', 'E3'],
  1: ['3B'],
};

export function buildGpus(spec: NodeSpec): Gpu[] {
  const g = spec.gpu;
  if (!g) return [];
  const model = gpuModel(g.model);
  const buses = BUSES[g.count] ?? Array.from({ length: g.count }, (_, i) => (0x10 + i * 0x10).toString(16).toUpperCase());
  return Array.from({ length: g.count }, (_, index) => {
    const uuid = `GPU-${uuidFrom(`gpu/${spec.name}/${index}`)}`;
    const gpu: Gpu = { index, uuid, pciBusId: `00000000:${buses[index]}:00.0`, memoryMiB: model.memoryMiB, mig: Boolean(g.mig), migDevices: [] };
    if (g.mig && Object.keys(g.mig.perGpu).length > 0) {
      const placed = placeInstances(model, g.mig.perGpu);
      // The catalog advertises perGpu × count in allocatable and labels; it must be a layout that exists.
      if (!placed) throw new Error(`${spec.name}: MIG layout ${JSON.stringify(g.mig.perGpu)} does not fit a ${model.product}`);
      gpu.migDevices = placed.map((p) => ({
        giId: p.giId,
        ciId: 0,
        profile: p.profile.name,
        start: p.start,
        size: p.size,
        // R470+ style MIG-<uuid> (version nibble 5, like real ones).
        uuid: `MIG-${uuidFrom(`mig/${uuid}/${p.giId}`, '5')}`,
        memoryMiB: p.profile.memoryMiB,
      }));
    }
    return gpu;
  });
}

/** What the device plugin advertises for these devices (the node's allocatable GPU keys). */
export function advertisedResources(spec: NodeSpec, gpus: Gpu[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, n = 1) => (out[k] = (out[k] ?? 0) + n);
  const strategy = spec.gpu?.mig?.strategy;
  for (const gpu of gpus) {
    if (!gpu.mig) add('nvidia.com/gpu');
    else if (strategy === 'single') add('nvidia.com/gpu', gpu.migDevices.length);
    else for (const m of gpu.migDevices) add(`nvidia.com/mig-${m.profile}`);
  }
  return out;
}
