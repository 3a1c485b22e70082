import { nodeProblems } from '../../../shared/gpu/fleet-summary.ts';
import type { FleetRow } from '../../stores/nodes.ts';

export interface MapFilter {
  text: string;
  cluster: string;
  model: string;
  pool: string;
  namespace: string;
  state: 'all' | 'free' | 'full' | 'attention';
}

export const EMPTY_FILTER: MapFilter = { text: '', cluster: '', model: '', pool: '', namespace: '', state: 'all' };

function namespacesOf(r: FleetRow): Set<string> {
  const out = new Set<string>();
  for (const d of r.gpu?.devices ?? []) {
    if (d.holder) out.add(d.holder.namespace);
    for (const s of d.slots) if (s.holder) out.add(s.holder.namespace);
  }
  return out;
}

export function matches(r: FleetRow, f: MapFilter): boolean {
  if (!r.gpu) return false;
  if (f.cluster && r.clusterId !== f.cluster) return false;
  if (f.model && r.gpu.model !== f.model) return false;
  if (f.pool && r.pool !== f.pool) return false;
  if (f.namespace && !namespacesOf(r).has(f.namespace)) return false;
  if (f.state === 'free' && r.gpu.allocated >= r.gpu.allocatable) return false;
  if (f.state === 'full' && (r.gpu.allocatable === 0 || r.gpu.allocated < r.gpu.allocatable)) return false;
  if (f.state === 'attention' && nodeProblems(r).length === 0) return false;
  const t = f.text.trim().toLowerCase();
  if (t && !`${r.name} ${r.gpu.model} ${r.gpu.driverVersion ?? ''} ${r.pool ?? ''} ${r.gpu.migConfig ?? ''}`.toLowerCase().includes(t)) return false;
  return true;
}

/** The values each filter can take, from the rows themselves. */
export function filterOptions(rows: FleetRow[]): { models: string[]; pools: string[]; namespaces: string[] } {
  const models = new Set<string>();
  const pools = new Set<string>();
  const namespaces = new Set<string>();
  for (const r of rows) {
    if (!r.gpu) continue;
    models.add(r.gpu.model);
    if (r.pool) pools.add(r.pool);
    for (const n of namespacesOf(r)) namespaces.add(n);
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { models: sorted(models), pools: sorted(pools), namespaces: sorted(namespaces) };
}
