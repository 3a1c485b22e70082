import { useMemo, useState } from 'react';
import { Badge } from '../../components/Badge.tsx';
import { VirtualRows } from '../../components/VirtualRows.tsx';
import { useClusters } from '../../stores/clusters.ts';
import { nodeSelectors, useNodes, type FleetRow } from '../../stores/nodes.ts';

const COLUMNS = 'minmax(200px,2fr) 90px minmax(180px,1.6fr) 70px 90px 110px 70px minmax(120px,1fr) minmax(120px,1fr)';

function modeOf(r: FleetRow) {
  const g = r.gpu;
  if (!g) return '–';
  if (g.migInvalid)
    return (
      <Badge tone="bad" title="GPU Feature Discovery reports MIG-INVALID: MIG is enabled but has no instances, or MIG and non-MIG GPUs are mixed on the node">
        MIG invalid
      </Badge>
    );
  if (g.migProfile) return `MIG ${g.migProfile}`;
  if (g.migStrategy === 'mixed') return 'MIG mixed';
  return 'full GPUs';
}

function Row({ r, clusterLabel }: { r: FleetRow; clusterLabel: string }) {
  const g = r.gpu;
  const full = g && g.allocatable > 0 && g.allocated >= g.allocatable;
  return (
    <div className="grid-row" style={{ gridTemplateColumns: COLUMNS }} data-testid="node-row">
      <span className="mono" title={r.name}>
        {r.name}
        {r.unschedulable && <Badge tone="warn">cordoned</Badge>}
      </span>
      <span>
        <Badge tone={r.ready === 'True' ? 'ok' : 'bad'}>{r.ready === 'True' ? 'Ready' : r.ready === 'False' ? 'NotReady' : 'Unknown'}</Badge>
      </span>
      <span title={g?.product}>
        {g ? g.model : <span className="muted">no GPU</span>}
      </span>
      <span className="num" title={g && g.count !== g.allocatable ? `${g.count} GPUs exposed as ${g.allocatable} schedulable devices` : undefined}>
        {g ? g.count : '–'}
      </span>
      <span className={`num ${full ? 'full' : ''}`}>{g ? `${g.allocated} / ${g.allocatable}` : '–'}</span>
      <span className="mono">{g?.driverVersion ?? '–'}</span>
      <span className="mono">{g?.cudaVersion ?? '–'}</span>
      <span>{modeOf(r)}</span>
      <span className="muted" title={r.clusterId}>
        {clusterLabel}
        {r.pool ? ` · ${r.pool}` : ''}
      </span>
    </div>
  );
}

export function NodesPage() {
  const byCluster = useNodes((s) => s.byCluster);
  const clusters = useClusters((s) => s.clusters);
  const [text, setText] = useState('');
  const [gpuOnly, setGpuOnly] = useState(true);

  const rows = useMemo(() => nodeSelectors.rows(byCluster, { text, gpuOnly }), [byCluster, text, gpuOnly]);
  const totals = useMemo(() => nodeSelectors.totals(rows), [rows]);
  const labels = useMemo(() => Object.fromEntries(clusters.map((c) => [c.id, c.context])), [clusters]);
  const watched = Object.entries(byCluster);

  return (
    <section className="page nodes">
      <div className="page-head">
        <h2>Nodes</h2>
        <input className="filter" placeholder="Filter by name, model, driver, pool" value={text} onChange={(e) => setText(e.target.value)} aria-label="filter nodes" />
        <label className="toggle">
          <input type="checkbox" checked={gpuOnly} onChange={(e) => setGpuOnly(e.target.checked)} /> GPU nodes only
        </label>
      </div>
      {watched.length === 0 && <p className="empty">No cluster is connected. Connect one on the Clusters page.</p>}
      {watched.map(([id, c]) =>
        c.status !== 'live' ? (
          <div className={c.error ? 'error' : 'info'} key={id} role="status">
            {labels[id] ?? id}: {c.status === 'syncing' ? 'loading nodes…' : `watch interrupted, reconnecting${c.error ? ` (${c.error.message})` : ''}`}
          </div>
        ) : null,
      )}
      <div className="totals" data-testid="node-totals">
        <span>
          <b>{totals.nodes}</b> nodes
        </span>
        <span>
          <b>{totals.gpuNodes}</b> with GPUs
        </span>
        <span>
          <b>{totals.allocated}</b> / <b>{totals.gpus}</b> GPU devices allocated (GPUs and MIG slices)
        </span>
        <span className={totals.notReady ? 'bad-text' : ''}>
          <b>{totals.notReady}</b> not ready
        </span>
      </div>
      <div className="grid-head" style={{ gridTemplateColumns: COLUMNS }} role="row">
        <span>Node</span>
        <span>Status</span>
        <span>GPU model</span>
        <span className="num">GPUs</span>
        <span className="num">Allocated</span>
        <span>Driver</span>
        <span>CUDA</span>
        <span>Mode</span>
        <span>Cluster · pool</span>
      </div>
      <VirtualRows items={rows} rowHeight={34} getKey={(r) => `${r.clusterId}/${r.name}`} render={(r) => <Row r={r} clusterLabel={labels[r.clusterId] ?? r.clusterId} />} label="nodes" />
    </section>
  );
}
