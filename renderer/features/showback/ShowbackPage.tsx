import { useCallback, useEffect } from 'react';
import type { ShowbackReport, ShowbackRow } from '../../../shared/model/showback.ts';
import { showbackCsv } from '../../../shared/showback/showback-math.ts';
import { ClusterSelect } from '../../components/ClusterSelect.tsx';
import { download } from '../../components/download.ts';
import { useShowback, type ShowbackPeriod } from '../../stores/showback.ts';

const h = (v: number | null) => (v === null ? 'unknown' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const money = (v: number, cur: string) => `${v.toFixed(2)} ${cur}`;

/**
 * GPU-hours per team as stacked horizontal bars: used, idle, and hours whose
 * utilization nobody measured. Plain SVG; the numbers are printed beside the bars.
 */
function TeamChart({ rows, currency }: { rows: ShowbackRow[]; currency: string }) {
  const top = rows.slice(0, 12);
  const max = Math.max(...top.map((r) => r.gpuHours), 1e-9);
  const W = 760;
  const label = 150;
  const barW = 400;
  const rowH = 26;
  const H = top.length * rowH + 28;
  return (
    <svg className="showback-chart" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label="GPU-hours per team" data-testid="showback-chart">
      {top.map((r, i) => {
        const y = i * rowH + 4;
        const scale = (v: number) => (v / max) * barW;
        const used = scale(r.usedHours ?? 0);
        const idle = scale(r.idleHours ?? 0);
        const unknown = scale(r.unknownIdleHours);
        return (
          <g key={r.key} data-team={r.key}>
            <text x={label - 8} y={y + 15} textAnchor="end" className="chart-label">
              {r.key}
            </text>
            <rect x={label} y={y} width={used} height={18} className="chart-used">
              <title>{`${r.key}: ${h(r.usedHours)} GPU-h used`}</title>
            </rect>
            <rect x={label + used} y={y} width={idle} height={18} className="chart-idle">
              <title>{`${r.key}: ${h(r.idleHours)} GPU-h allocated but idle`}</title>
            </rect>
            <rect x={label + used + idle} y={y} width={unknown} height={18} className="chart-unknown">
              <title>{`${r.key}: ${h(r.unknownIdleHours)} GPU-h with no utilization samples`}</title>
            </rect>
            <text x={label + barW + 10} y={y + 15} className="chart-value">
              {h(r.gpuHours)} GPU-h · {money(r.cost, currency)}
            </text>
          </g>
        );
      })}
      <g transform={`translate(${label}, ${H - 10})`} className="chart-legend">
        <rect width={10} height={10} y={-9} className="chart-used" />
        <text x={14}>used</text>
        <rect x={60} width={10} height={10} y={-9} className="chart-idle" />
        <text x={74}>idle</text>
        <rect x={116} width={10} height={10} y={-9} className="chart-unknown" />
        <text x={130}>utilization unknown</text>
      </g>
    </svg>
  );
}

function RowsTable({ title, rows, currency, testid, limit = 50 }: { title: string; rows: ShowbackRow[]; currency: string; testid: string; limit?: number }) {
  return (
    <div className="panel">
      <h3>{title}</h3>
      <table className="table" data-testid={testid}>
        <thead>
          <tr>
            <th>{title.replace(/^By /, '')}</th>
            <th className="num">GPU-hours</th>
            <th className="num">used</th>
            <th className="num">idle</th>
            <th className="num">unknown</th>
            <th className="num">cost</th>
            <th className="num">pods</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, limit).map((r) => (
            <tr key={r.key} data-key={r.key}>
              <td className={title === 'By workload' ? 'mono small' : ''}>{r.key}</td>
              <td className="num" data-testid="gpu-hours">
                {h(r.gpuHours)}
              </td>
              <td className="num">{h(r.usedHours)}</td>
              <td className="num">{h(r.idleHours)}</td>
              <td className="num muted">{h(r.unknownIdleHours)}</td>
              <td className="num" title={r.unpricedHours > 0 ? `${h(r.unpricedHours)} GPU-h have no price` : undefined}>
                {money(r.cost, currency)}
                {r.unpricedHours > 0 ? '*' : ''}
              </td>
              <td className="num">{r.pods}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > limit && <p className="muted small">{rows.length - limit} more in the CSV export.</p>}
    </div>
  );
}

function Report({ r }: { r: ShowbackReport }) {
  return (
    <>
      <div className={r.partial ? 'warning' : 'info'} data-testid="showback-source">
        <b>{r.partial ? 'Partial data' : 'Source'}</b>: {r.sourceNote.replace(/^Partial:\s*/, '')}
      </div>
      {r.warnings.map((w) => (
        <div key={w} className="warning small">
          {w}
        </div>
      ))}
      <div className="stats">
        <div className="stat">
          <div className="stat-value" data-testid="showback-total">
            {h(r.totals.gpuHours)}
          </div>
          <div className="stat-label">GPU-hours allocated</div>
          <div className="stat-sub">
            {new Date(r.from).toLocaleString()} – {new Date(r.to).toLocaleString()}
          </div>
        </div>
        <div className="stat">
          <div className="stat-value">{h(r.totals.usedHours)}</div>
          <div className="stat-label">used</div>
          <div className="stat-sub">{r.partial ? 'estimated from dcgm-exporter samples' : 'from dcgm-exporter utilization'}</div>
        </div>
        <div className="stat">
          <div className="stat-value">{h(r.totals.idleHours)}</div>
          <div className="stat-label">allocated but idle</div>
          <div className="stat-sub">{h(r.totals.unknownIdleHours)} GPU-h not measured</div>
        </div>
        <div className="stat">
          <div className="stat-value">{money(r.totals.cost, r.currency)}</div>
          <div className="stat-label">cost at Settings prices</div>
          {r.totals.unpricedHours > 0 && <div className="stat-sub">{h(r.totals.unpricedHours)} GPU-h unpriced</div>}
        </div>
      </div>
      <div className="panel">
        <h3>GPU-hours per team</h3>
        {r.byTeam.length ? <TeamChart rows={r.byTeam} currency={r.currency} /> : <p className="empty">No GPU use in this period.</p>}
      </div>
      <RowsTable title="By team" rows={r.byTeam} currency={r.currency} testid="showback-teams" />
      <RowsTable title="By namespace" rows={r.byNamespace} currency={r.currency} testid="showback-namespaces" />
      <RowsTable title="By workload" rows={r.byWorkload} currency={r.currency} testid="showback-workloads" />
    </>
  );
}

export function ShowbackPage() {
  const { clusterId, period, report, loading, error, load } = useShowback();
  const pick = useCallback((id: string) => void load(id), [load]);
  useEffect(() => {
    if (clusterId) void load(clusterId);
  }, [clusterId, load]);
  return (
    <section className="page">
      <div className="page-head">
        <h2>GPU showback</h2>
        <ClusterSelect value={clusterId} onChange={pick} />
        <select aria-label="period" value={period} onChange={(e) => clusterId && void load(clusterId, e.target.value as ShowbackPeriod)}>
          <option value="24h">last 24 hours</option>
          <option value="7d">last 7 days</option>
          <option value="30d">last 30 days</option>
          <option value="month">this month</option>
        </select>
        <button onClick={() => clusterId && void load(clusterId)} disabled={!clusterId || loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
        <button disabled={!report} onClick={() => report && download(`showback-${report.from.slice(0, 10)}-${report.to.slice(0, 10)}.csv`, showbackCsv(report, report.currency), 'text/csv')}>
          Export CSV
        </button>
      </div>
      <p className="muted small">GPU-hours count whole GPUs as 1 and MIG slices by their share of the GPU's memory slices (1g.10gb on an H100 = 1/8). Prices per GPU model and MIG profile, and the Prometheus to read from, are set in Settings.</p>
      {error && <div className="error">{error.message}</div>}
      {report && <Report r={report} />}
    </section>
  );
}
