// The device plugin's half of the kubelet: when a pod starts, hand it concrete
// GPUs or MIG devices from what the node has; give them back when it ends.
// Like the kubelet, it refuses a pod the node cannot serve (the pod then fails
// with UnexpectedAdmissionError) rather than overcommitting.
import type { NodeSpec } from './catalog.ts';
import { advertisedResources, buildGpus, type DeviceHolder, type Gpu, type MigDevice } from './devices.ts';
import { gpuModel, installedDriver } from './gpus.ts';
import type { Pod } from './pod-informer.ts';
import type { FleetTruth, NodeTruth } from './truth.ts';

type Unit = Gpu | MigDevice;

interface NodeDevices {
  /** The node's spec; the MIG manager replaces its `gpu` (MIG setup) when it re-partitions the node. */
  spec: NodeSpec;
  gpus: Gpu[];
  /** Allocation order per resource name: lowest GPU index, then lowest placement start. */
  units: Map<string, Unit[]>;
}

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const MIG_PREFIX = 'nvidia.com/mig-';
const isDeviceResource = (k: string) => k === GPU_RESOURCE || k.startsWith(MIG_PREFIX);

/** Device requests of a pod by container: extended resources have requests == limits, so either tells. */
export function deviceRequests(pod: Pod): Array<{ container: string; resource: string; count: number }> {
  const out: Array<{ container: string; resource: string; count: number }> = [];
  for (const c of pod.spec.containers) {
    const asked = { ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) };
    for (const [resource, v] of Object.entries(asked)) {
      const count = Number(v);
      if (isDeviceResource(resource) && count > 0) out.push({ container: c.name, resource, count });
    }
  }
  return out;
}

function unitsOf(spec: NodeSpec, gpus: Gpu[]): Map<string, Unit[]> {
  const units = new Map<string, Unit[]>();
  const push = (k: string, u: Unit) => (units.get(k) ?? units.set(k, []).get(k)!).push(u);
  for (const gpu of gpus) {
    if (!gpu.mig) push(GPU_RESOURCE, gpu);
    else for (const m of gpu.migDevices) push(spec.gpu?.mig?.strategy === 'single' ? GPU_RESOURCE : `${MIG_PREFIX}${m.profile}`, m);
  }
  return units;
}

export class DeviceAllocator {
  private readonly nodes = new Map<string, NodeDevices>();
  private readonly held = new Map<string, { node: string; units: Unit[] }>();
  /** Pod uid → device UUIDs it held before a simulator restart, so it gets the same ones back. */
  private readonly previous = new Map<string, Set<string>>();
  version = 0;

  constructor(specs: NodeSpec[], previous?: FleetTruth) {
    for (const spec of specs) {
      if (!spec.gpu) continue;
      const gpus = buildGpus(spec);
      this.nodes.set(spec.name, { spec, gpus, units: unitsOf(spec, gpus) });
    }
    for (const node of Object.values(previous?.nodes ?? {})) {
      for (const gpu of node.gpus) {
        for (const u of [gpu, ...gpu.migDevices]) {
          if (!u.holder) continue;
          const set = this.previous.get(u.holder.uid) ?? new Set<string>();
          set.add(u.uuid);
          this.previous.set(u.holder.uid, set);
        }
      }
    }
  }

  gpus(node: string): Gpu[] {
    return this.nodes.get(node)?.gpus ?? [];
  }

  /**
   * The MIG manager re-partitioned the node: `spec` (its MIG setup) and `gpus`
   * replace the old ones. Devices held by pods must not change (the caller checks).
   */
  relayout(spec: NodeSpec, gpus: Gpu[]): void {
    const n = this.nodes.get(spec.name);
    if (!n) throw new Error(`${spec.name} has no GPUs`);
    n.spec = spec;
    n.gpus = gpus;
    n.units = unitsOf(spec, gpus);
    this.version++;
  }

  holds(uid: string): boolean {
    return this.held.has(uid);
  }

  /** Assigns devices for every device request of the pod; all or nothing. Returns an error message when the node cannot serve it. */
  allocate(node: string, pod: Pod): string | undefined {
    const uid = pod.metadata.uid;
    if (this.held.has(uid)) return undefined;
    const requests = deviceRequests(pod);
    if (requests.length === 0) return undefined;
    const devices = this.nodes.get(node);
    const idle = pod.metadata.annotations?.['tessera.dev/sim-idle'] === 'true';
    const prefer = this.previous.get(uid);
    const taken: Unit[] = [];
    for (const r of requests) {
      const free = (devices?.units.get(r.resource) ?? []).filter((u) => !u.holder && !taken.includes(u));
      if (free.length < r.count) {
        // The kubelet's wording for a device plugin that cannot satisfy the request.
        return `Allocate failed due to requested number of devices unavailable for ${r.resource}. Requested: ${r.count}, Available: ${free.length}`;
      }
      const ordered = prefer ? [...free.filter((u) => prefer.has(u.uuid)), ...free.filter((u) => !prefer.has(u.uuid))] : free;
      const holder: DeviceHolder = { namespace: pod.metadata.namespace, pod: pod.metadata.name, container: r.container, uid, idle };
      for (const u of ordered.slice(0, r.count)) {
        u.holder = holder;
        taken.push(u);
      }
    }
    this.previous.delete(uid);
    this.held.set(uid, { node, units: taken });
    this.version++;
    return undefined;
  }

  /** The pod's tessera.dev/sim-idle annotation changed: its devices go quiet (or busy) from now on. */
  setIdle(uid: string, idle: boolean): void {
    const h = this.held.get(uid);
    if (!h) return;
    for (const u of h.units) if (u.holder?.uid === uid && u.holder.idle !== idle) u.holder.idle = idle;
  }

  release(uid: string): void {
    const h = this.held.get(uid);
    if (!h) return;
    for (const u of h.units) if (u.holder?.uid === uid) delete u.holder;
    this.held.delete(uid);
    this.version++;
  }

  /** Something outside the holders changed (a node's driver version): the truth file must be rewritten. */
  touch(): void {
    this.version++;
  }

  /** Device UUIDs a pod holds (what NVIDIA_VISIBLE_DEVICES would say). */
  devicesOf(uid: string): string[] {
    return this.held.get(uid)?.units.map((u) => u.uuid) ?? [];
  }

  counts(): { total: number; held: number } {
    let total = 0;
    for (const n of this.nodes.values()) for (const list of n.units.values()) total += list.length;
    let held = 0;
    for (const h of this.held.values()) held += h.units.length;
    return { total, held };
  }

  snapshot(): FleetTruth {
    const nodes: Record<string, NodeTruth> = {};
    const holder = (h?: DeviceHolder) => (h ? { namespace: h.namespace, pod: h.pod, container: h.container, uid: h.uid } : undefined);
    for (const [name, n] of this.nodes) {
      const g = n.spec.gpu!;
      nodes[name] = {
        product: gpuModel(g.model).product,
        ...(g.mig ? { migStrategy: g.mig.strategy } : {}),
        driverVersion: installedDriver(g).full,
        resources: advertisedResources(n.spec, n.gpus),
        gpus: n.gpus.map((gpu) => ({
          index: gpu.index,
          uuid: gpu.uuid,
          pciBusId: gpu.pciBusId,
          memoryMiB: gpu.memoryMiB,
          mig: gpu.mig,
          holder: holder(gpu.holder),
          migDevices: gpu.migDevices.map((m) => ({
            giId: m.giId,
            ciId: m.ciId,
            profile: m.profile,
            placement: { start: m.start, size: m.size },
            uuid: m.uuid,
            memoryMiB: m.memoryMiB,
            holder: holder(m.holder),
          })),
        })),
      };
    }
    return { updatedAt: new Date().toISOString(), version: this.version, nodes };
  }
}
