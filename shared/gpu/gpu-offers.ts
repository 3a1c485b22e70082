// Where a GPU workstation could land right now: free whole GPUs and free MIG
// slices per node pool (the gpu.product label), from the node inventory.
// Single-strategy MIG nodes advertise their slices as nvidia.com/gpu, so there
// a "full" request gets one slice: those pools are offered as `full` with the
// product (…-MIG-1g.10gb) saying so.
import type { NodeRow } from '../model/node.ts';
import type { GpuOffer } from '../model/workstation.ts';

export function gpuOffers(rows: Iterable<NodeRow>): GpuOffer[] {
  const byKey = new Map<string, GpuOffer & { nodeSet: Set<string> }>();
  const add = (kind: 'full' | 'mig', profile: string | undefined, r: NodeRow, n: number) => {
    if (n <= 0) return;
    const g = r.gpu!;
    const pool = g.product;
    const key = `${kind}|${profile ?? ''}|${pool}`;
    let o = byKey.get(key);
    if (!o) byKey.set(key, (o = { kind, ...(profile ? { profile } : {}), model: g.model, pool, free: 0, nodes: 0, nodeSet: new Set() }));
    o.free += n;
    o.nodeSet.add(r.name);
  };
  for (const r of rows) {
    const g = r.gpu;
    if (!g || r.ready !== 'True' || r.unschedulable || g.migInvalid) continue;
    if (g.devices.length === 0) {
      add('full', undefined, r, g.allocatable - g.allocated);
      continue;
    }
    for (const d of g.devices) {
      if (!d.mig) {
        if (!d.holder) add('full', undefined, r, 1);
        continue;
      }
      for (const slot of d.slots) {
        if (slot.holder) continue;
        if (g.migStrategy === 'single') add('full', undefined, r, 1);
        else add('mig', slot.profile, r, 1);
      }
    }
  }
  return [...byKey.values()]
    .map(({ nodeSet, ...o }) => ({ ...o, nodes: nodeSet.size }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || (a.profile ?? '').localeCompare(b.profile ?? '', 'en', { numeric: true }) || b.free - a.free || a.pool.localeCompare(b.pool));
}
