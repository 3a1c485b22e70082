import type { NodeRow } from '../model/node.ts';

export interface ModelSummary {
  model: string;
  nodes: number;
  gpus: number;
  migInstances: number;
  devices: number;
  allocated: number;
}

export interface VersionCount {
  version: string;
  gpus: number;
  nodes: number;
}

export interface Problem {
  clusterId: string;
  node: string;
  reasons: string[];
}

export interface FleetSummary {
  clusters: number;
  nodes: number;
  readyNodes: number;
  gpuNodes: number;
  gpus: number;
  fullGpus: { total: number; allocated: number };
  migInstances: { total: number; allocated: number };
  devices: { total: number; allocated: number };
  byModel: ModelSummary[];
  drivers: VersionCount[];
  cuda: VersionCount[];
  problems: Problem[];
}

/** Why a node's GPUs need attention, in words an admin would use. */
export function nodeProblems(r: NodeRow): string[] {
  const out: string[] = [];
  if (r.ready !== 'True') out.push(r.ready === 'False' ? 'node NotReady' : 'node status Unknown (no heartbeat)');
  if (!r.gpu) return out;
  if (r.gpu.migInvalid) out.push('MIG-INVALID: MIG enabled with no instances, or MIG and non-MIG GPUs mixed');
  if (r.gpu.migConfigState === 'failed') out.push(`MIG config "${r.gpu.migConfig ?? '?'}" failed to apply`);
  if (r.gpu.migConfigState === 'pending' || r.gpu.migConfigState === 'rebooting') out.push(`MIG config "${r.gpu.migConfig ?? '?'}" is ${r.gpu.migConfigState}`);
  if (r.gpu.count > 0 && r.gpu.allocatable === 0 && !r.gpu.migInvalid) out.push('GPUs present but none allocatable (device plugin down?)');
  return out;
}

function bump(map: Map<string, VersionCount>, version: string | undefined, gpus: number): void {
  const key = version ?? 'unknown';
  const v = map.get(key) ?? { version: key, gpus: 0, nodes: 0 };
  v.gpus += gpus;
  v.nodes += 1;
  map.set(key, v);
}

/** Fleet totals across clusters in one pass over the rows (no per-event rescans elsewhere). */
export function summarizeFleet(clusters: Iterable<[clusterId: string, rows: Iterable<NodeRow>]>): FleetSummary {
  const s: FleetSummary = {
    clusters: 0,
    nodes: 0,
    readyNodes: 0,
    gpuNodes: 0,
    gpus: 0,
    fullGpus: { total: 0, allocated: 0 },
    migInstances: { total: 0, allocated: 0 },
    devices: { total: 0, allocated: 0 },
    byModel: [],
    drivers: [],
    cuda: [],
    problems: [],
  };
  const models = new Map<string, ModelSummary>();
  const drivers = new Map<string, VersionCount>();
  const cuda = new Map<string, VersionCount>();
  for (const [clusterId, rows] of clusters) {
    s.clusters++;
    for (const r of rows) {
      s.nodes++;
      if (r.ready === 'True') s.readyNodes++;
      const problems = nodeProblems(r);
      if (problems.length) s.problems.push({ clusterId, node: r.name, reasons: problems });
      const g = r.gpu;
      if (!g) continue;
      s.gpuNodes++;
      s.gpus += g.count;
      s.devices.total += g.allocatable;
      s.devices.allocated += g.allocated;
      let mig = 0;
      for (const d of g.devices) {
        if (d.mig) {
          mig += d.slots.length;
          s.migInstances.total += d.slots.length;
          for (const slot of d.slots) if (slot.holder) s.migInstances.allocated++;
        } else {
          s.fullGpus.total++;
          if (d.holder) s.fullGpus.allocated++;
        }
      }
      const m = models.get(g.model) ?? { model: g.model, nodes: 0, gpus: 0, migInstances: 0, devices: 0, allocated: 0 };
      m.nodes++;
      m.gpus += g.count;
      m.migInstances += mig;
      m.devices += g.allocatable;
      m.allocated += g.allocated;
      models.set(g.model, m);
      bump(drivers, g.driverVersion, g.count);
      bump(cuda, g.cudaVersion, g.count);
    }
  }
  const byVersion = (a: VersionCount, b: VersionCount) => b.version.localeCompare(a.version, undefined, { numeric: true });
  s.byModel = [...models.values()].sort((a, b) => b.gpus - a.gpus || a.model.localeCompare(b.model));
  s.drivers = [...drivers.values()].sort(byVersion);
  s.cuda = [...cuda.values()].sort(byVersion);
  return s;
}
