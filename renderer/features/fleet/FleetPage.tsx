import { useMemo } from 'react';
import { summarizeFleet, type VersionCount } from '../../../shared/gpu/fleet-summary.ts';
import { inventoryCsv } from '../../../shared/gpu/inventory-export.ts';
import type { NodeRow } from '../../../shared/model/node.ts';
import { download } from '../../components/download.ts';
import { Bar } from '../../components/Bar.tsx';
import { useClusters } from '../../stores/clusters.ts';
import { metricTotals, useMetrics } from '../../stores/metrics.ts';
import { useNodes } from '../../stores/nodes.ts';
import { useUi } from '../../stores/ui.ts';

function Stat({ label, value, sub }: { label: string; value: string | number; sub?: string }) {
  return (
    <div className="stat">
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

/** A node that needs attention; its name opens it on the GPU map. */
function ProblemRow({ clusterId, node, cluster, text }: { clusterId: string; node: string; cluster: string; text: string }) {
  return (
    <div className="problem">
      <button
        className="link"
        onClick={() => {
          useUi.getState().go('gpumap');
          useUi.getState().openNode({ clusterId, name: node });
        }}
      >
        {node}
      </button>
      <span className="muted"> {cluster}</span>
      <span> — {text}</span>
    </div>
  );
}

function Histogram({ title, items, testId }: { title: string; items: VersionCount[]; testId: string }) {
  const max = Math.max(1, ...items.map((i) => i.gpus));
  return (
    <section className="panel" data-testid={testId}>
      <h3>{title}</h3>
      {items.length === 0 && <p className="muted">No GPU nodes.</p>}
      {items.map((i) => (
        <div className="hist-row" key={i.version}>
          <span className="mono">{i.version}</span>
          <Bar value={i.gpus} total={max} tone="count" label={`${i.gpus} GPUs on ${i.nodes} nodes`} />
          <span className="num">
            {i.gpus} GPUs · {i.nodes} nodes
          </span>
        </div>
      ))}
    </section>
  );
}

export function FleetPage() {
  const byCluster = useNodes((s) => s.byCluster);
  const clusters = useClusters((s) => s.clusters);
  const summary = useMemo(() => summarizeFleet(Object.entries(byCluster).map(([id, c]) => [id, c.rows.values()])), [byCluster]);
  const labels = useMemo(() => Object.fromEntries(clusters.map((c) => [c.id, c.context])), [clusters]);
  const metrics = useMetrics((s) => s.byCluster);
  const health = useMemo(() => metricTotals(Object.values(metrics)), [metrics]);
  const metricIssues = useMemo(() => {
    const out: { clusterId: string; node: string; text: string }[] = [];
    for (const [clusterId, snap] of Object.entries(metrics)) {
      for (const [node, nm] of Object.entries(snap.nodes)) {
        for (const g of nm.gpus) {
          if (g.erroring) out.push({ clusterId, node, text: `GPU ${g.index}: ${g.xid ? `XID ${g.xid}` : ''}${g.eccDbe ? ` ECC double-bit errors ${g.eccDbe}` : ''}${g.rowRemapFailure ? ' row-remap failure' : ''}`.trim() });
          if (g.hot) out.push({ clusterId, node, text: `GPU ${g.index}: ${g.tempC} °C (threshold ${snap.thresholds.hotC} °C)` });
        }
      }
      for (const f of snap.failures) out.push({ clusterId, node: f.node, text: `metrics: ${f.message}` });
    }
    return out;
  }, [metrics]);
  const metricsMessages = Object.entries(metrics).filter(([, m]) => m.message).map(([id, m]) => `${labels[id] ?? id}: ${m.message}`);
  const exportInventory = (format: 'csv' | 'json') => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const entries = Object.entries(byCluster).map(([id, c]): [string, NodeRow[]] => [id, [...c.rows.values()]]);
    if (format === 'csv') download(`tessera-inventory-${stamp}.csv`, inventoryCsv(entries), 'text/csv');
    else download(`tessera-inventory-${stamp}.json`, JSON.stringify({ exportedAt: new Date().toISOString(), summary, clusters: Object.fromEntries(entries) }, null, 2), 'application/json');
  };
  const pct = (a: number, b: number) => (b ? `${Math.round((a / b) * 100)}%` : '–');

  if (summary.clusters === 0) {
    return (
      <section className="page">
        <h2>Fleet</h2>
        <p className="empty">No cluster is connected. Connect one or more on the Clusters page to see their GPUs here.</p>
      </section>
    );
  }

  return (
    <section className="page" data-testid="fleet-page">
      <div className="page-head">
        <h2>Fleet</h2>
        <span className="muted">
          {summary.clusters} cluster{summary.clusters === 1 ? '' : 's'} · {summary.nodes} nodes ({summary.readyNodes} ready)
        </span>
        <button onClick={() => exportInventory('csv')}>Export CSV</button>
        <button onClick={() => exportInventory('json')}>Export JSON</button>
      </div>
      <div className="stats">
        <Stat label="GPUs" value={summary.gpus} sub={`on ${summary.gpuNodes} nodes`} />
        <Stat label="Whole GPUs allocated" value={`${summary.fullGpus.allocated} / ${summary.fullGpus.total}`} sub={`${pct(summary.fullGpus.allocated, summary.fullGpus.total)} · ${summary.fullGpus.total - summary.fullGpus.allocated} free`} />
        <Stat label="MIG instances allocated" value={`${summary.migInstances.allocated} / ${summary.migInstances.total}`} sub={`${pct(summary.migInstances.allocated, summary.migInstances.total)} · ${summary.migInstances.total - summary.migInstances.allocated} free`} />
        <Stat label="Schedulable devices in use" value={pct(summary.devices.allocated, summary.devices.total)} sub={`${summary.devices.allocated} of ${summary.devices.total}`} />
        <Stat label="Nodes needing attention" value={summary.problems.length} sub={summary.problems.length ? 'see below' : 'none'} />
      </div>
      <div className="stats" data-testid="gpu-health">
        <Stat label="Idle devices" value={health.idle} sub={`held, under ${Object.values(metrics)[0]?.thresholds.idlePct ?? 5}% for ${Object.values(metrics)[0]?.thresholds.idleMinutes ?? 30} min`} />
        <Stat label="Hot GPUs" value={health.hot} sub={`at or over ${Object.values(metrics)[0]?.thresholds.hotC ?? 85} °C`} />
        <Stat label="GPUs with errors" value={health.erroring} sub="XID, ECC double-bit, row remap" />
        <Stat label="GPUs reporting metrics" value={health.reporting} sub={`from dcgm-exporter on ${Object.values(metrics).reduce((n, m) => n + Object.keys(m.nodes).length, 0)} nodes`} />
      </div>
      {metricsMessages.map((m) => (
        <div className="info" key={m}>
          {m}
        </div>
      ))}

      <section className="panel" data-testid="models">
        <h3>By model</h3>
        <table className="table">
          <thead>
            <tr>
              <th>Model</th>
              <th className="num">Nodes</th>
              <th className="num">GPUs</th>
              <th className="num">MIG instances</th>
              <th className="num">Devices in use</th>
              <th>Use</th>
            </tr>
          </thead>
          <tbody>
            {summary.byModel.map((m) => (
              <tr key={m.model}>
                <td>{m.model}</td>
                <td className="num">{m.nodes}</td>
                <td className="num">{m.gpus}</td>
                <td className="num">{m.migInstances || '–'}</td>
                <td className="num">
                  {m.allocated} / {m.devices}
                </td>
                <td style={{ width: 200 }}>
                  <Bar value={m.allocated} total={m.devices} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <div className="two-col">
        <Histogram title="Driver versions" items={summary.drivers} testId="drivers" />
        <Histogram title="CUDA versions" items={summary.cuda} testId="cuda" />
      </div>

      <section className="panel" data-testid="problems">
        <h3>Needs attention</h3>
        {summary.problems.length === 0 && metricIssues.length === 0 && <p className="muted">Every GPU node is ready, its MIG configuration applied, and no GPU reports errors.</p>}
        {summary.problems.map((p) => (
          <ProblemRow key={`${p.clusterId}/${p.node}`} clusterId={p.clusterId} node={p.node} cluster={labels[p.clusterId] ?? p.clusterId} text={p.reasons.join('; ')} />
        ))}
        {metricIssues.map((p, i) => (
          <ProblemRow key={`m${i}`} clusterId={p.clusterId} node={p.node} cluster={labels[p.clusterId] ?? p.clusterId} text={p.text} />
        ))}
      </section>
    </section>
  );
}
