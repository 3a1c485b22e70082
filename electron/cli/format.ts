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
