import type { NodeRow } from '../model/node.ts';

const HEADER = ['cluster', 'node', 'ready', 'cordoned', 'pool', 'model', 'driver', 'cuda', 'mig_strategy', 'mig_config', 'mig_config_state', 'gpu', 'instance', 'placement', 'held_by_namespace', 'held_by_pod', 'workload'];

function cell(v: string | number | boolean | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV row per GPU or MIG instance (a node without GPUs gets one row), RFC 4180 quoting. */
export function inventoryCsv(clusters: Iterable<[clusterId: string, rows: Iterable<NodeRow>]>): string {
  const lines = [HEADER.join(',')];
  for (const [clusterId, rows] of clusters) {
    for (const r of rows) {
      const g = r.gpu;
      const base = [clusterId, r.name, r.ready, r.unschedulable, r.pool, g?.model, g?.driverVersion, g?.cudaVersion, g?.migStrategy, g?.migConfig, g?.migConfigState];
      if (!g || g.devices.length === 0) {
        lines.push([...base, '', '', '', '', '', ''].map(cell).join(','));
        continue;
      }
      for (const d of g.devices) {
        const items = d.mig ? d.slots.map((s) => ({ instance: s.profile, placement: `${s.start}:${s.size}`, holder: s.holder })) : [{ instance: 'whole', placement: '', holder: d.holder }];
        for (const it of items) lines.push([...base, d.index, it.instance, it.placement, it.holder?.namespace, it.holder?.name, it.holder?.workload].map(cell).join(','));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
