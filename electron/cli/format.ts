import type { FleetSummary } from '../../shared/gpu/fleet-summary.ts';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import type { NodeRow } from '../../shared/model/node.ts';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function contextsTable(clusters: ClusterSummary[]): string {
  return table(
    ['CURRENT', 'CONTEXT', 'CLUSTER', 'SERVER', 'USER', 'AUTH', 'WARNINGS'],
    clusters.map((c) => [c.isCurrent ? '*' : '', c.context, c.cluster, c.server, c.user, c.authKind, c.warnings.join('; ')]),
  );
}

export function nodesTable(nodes: NodeRow[]): string {
  return table(
    ['NAME', 'READY', 'GPU MODEL', 'GPUS', 'DEVICES', 'ALLOCATED', 'DRIVER', 'CUDA', 'MIG'],
    nodes.map((n) => [
      n.name + (n.unschedulable ? ' (cordoned)' : ''),
      n.ready,
      n.gpu?.model ?? '-',
      n.gpu ? `${n.gpu.count}` : '-',
      n.gpu ? `${n.gpu.allocatable}` : '-',
      n.gpu ? `${n.gpu.allocated}` : '-',
      n.gpu?.driverVersion ?? '-',
      n.gpu?.cudaVersion ?? '-',
      n.gpu?.migInvalid ? 'INVALID' : (n.gpu?.migProfile ?? n.gpu?.migStrategy ?? '-'),
    ]),
  );
}

export function inventoryText(s: FleetSummary, elapsedMs: number): string {
  const lines = [
    `${s.nodes} nodes (${s.readyNodes} ready), ${s.gpuNodes} with GPUs: ${s.gpus} GPUs, ${s.migInstances.total} MIG instances`,
    `in use: ${s.fullGpus.allocated}/${s.fullGpus.total} whole GPUs, ${s.migInstances.allocated}/${s.migInstances.total} MIG instances (${s.devices.allocated}/${s.devices.total} devices)`,
    '',
    table(['MODEL', 'NODES', 'GPUS', 'MIG', 'IN USE'], s.byModel.map((m) => [m.model, `${m.nodes}`, `${m.gpus}`, `${m.migInstances}`, `${m.allocated}/${m.devices}`])),
    '',
    table(['DRIVER', 'GPUS', 'NODES'], s.drivers.map((d) => [d.version, `${d.gpus}`, `${d.nodes}`])),
  ];
  if (s.problems.length) lines.push('', 'needs attention:', ...s.problems.map((p) => `  ${p.node}: ${p.reasons.join('; ')}`));
  lines.push('', `inventory in ${elapsedMs} ms`);
  return lines.join('\n');
}

/** An age in seconds as kubectl prints it: 45s, 12m, 5h, 3d. */
export function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
