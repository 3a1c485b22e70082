import { nodeProblems } from '../../../shared/gpu/fleet-summary.ts';
import { Badge } from '../../components/Badge.tsx';
import { useEffect } from 'react';
import { Sparkline } from '../../components/Sparkline.tsx';
import { isIdle, migMetricsFor, useMetrics, utilHistory } from '../../stores/metrics.ts';
import { nodeKey, useNodeDetail } from '../../stores/node-detail.ts';
import { useNodes } from '../../stores/nodes.ts';
import { useUi, type NodeKey } from '../../stores/ui.ts';
import { GpuTile } from './GpuTile.tsx';

export function NodeDetail({ node }: { node: NodeKey }) {
  const row = useNodes((s) => s.byCluster[node.clusterId]?.rows.get(node.name));
  const snap = useMetrics((s) => s.byCluster[node.clusterId]);
  const nm = snap?.nodes[node.name];
  const idleMinutes = snap?.thresholds.idleMinutes ?? 30;
  useMetrics((s) => s.historyVersion);
  const events = useNodeDetail((s) => s.events[nodeKey(node.clusterId, node.name)]);
  const description = useNodeDetail((s) => s.descriptions[nodeKey(node.clusterId, node.name)]);
  useEffect(() => {
    const load = () => void useNodeDetail.getState().loadEvents(node.clusterId, node.name);
    load();
    void useNodeDetail.getState().loadDescription(node.clusterId, node.name);
    const t = setInterval(load, 30_000);
    return () => clearInterval(t);
  }, [node.clusterId, node.name]);
  const close = () => useUi.getState().openNode(null);
  if (!row) {
    return (
      <aside className="detail" aria-label="node detail">
        <button className="close" onClick={close} aria-label="close">
          ×
        </button>
        <p className="muted">Node {node.name} is no longer in the cluster.</p>
      </aside>
    );
  }
  const g = row.gpu;
  const problems = nodeProblems(row);
  return (
    <aside className="detail" aria-label="node detail" data-testid="node-detail">
      <button className="close" onClick={close} aria-label="close">
        ×
      </button>
      <h3 className="mono">{row.name}</h3>
      <div>
        <Badge tone={row.ready === 'True' ? 'ok' : 'bad'}>{row.ready === 'True' ? 'Ready' : `Ready=${row.ready}`}</Badge>
        {row.unschedulable && <Badge tone="warn">cordoned</Badge>}
        {row.pool && <Badge tone="idle">pool {row.pool}</Badge>}
      </div>
      {problems.map((p) => (
        <div className="warning" key={p}>
          ⚠ {p}
        </div>
      ))}
      {g && (
        <dl className="facts">
          <dt>Product</dt>
          <dd>{g.product}</dd>
          <dt>GPUs</dt>
          <dd>
            {g.count} physical · {g.allocatable} schedulable devices · {g.allocated} in use
          </dd>
          <dt>Driver / CUDA</dt>
          <dd className="mono">
            {g.driverVersion ?? '?'} / {g.cudaVersion ?? '?'}
          </dd>
          <dt>MIG</dt>
          <dd>
            {g.migStrategy ?? 'none'}
            {g.migConfig ? ` · config ${g.migConfig}` : ''}
            {g.migConfigState ? ` (${g.migConfigState})` : ''}
          </dd>
          {g.memoryMiB !== undefined && (
            <>
              <dt>Memory</dt>
              <dd>{g.memoryMiB} MiB per device</dd>
            </>
          )}
          <dt>Labels</dt>
          <dd>{g.labelGeneration === 'deprecated' ? 'old GFD label names only' : g.labelGeneration === 'both' ? 'current and deprecated GFD names' : g.labelGeneration}</dd>
        </dl>
      )}
      {g?.inferred && <p className="muted small">Placement and which GPU a pod holds are inferred from counts; Kubernetes does not report them.</p>}
      <table className="table">
        <thead>
          <tr>
            <th>GPU</th>
            <th>Layout</th>
            <th>Instance</th>
            <th>Held by</th>
            <th>Live</th>
          </tr>
        </thead>
        <tbody>
          {(g?.devices ?? []).flatMap((d) => {
            const gm = nm?.gpus.find((m) => m.index === d.index);
            const migM = d.mig ? migMetricsFor(d, gm) : [];
            const live = (util: number | undefined, idleSince: string | undefined, fb: number | undefined, gi?: number) =>
              gm ? (
                <span className="small live">
                  <Sparkline values={utilHistory(node.clusterId, node.name, d.index, gi)} />
                  {util !== undefined ? `${util}%` : '–'}
                  {fb !== undefined ? ` · ${Math.round(fb / 1024)} GiB` : ''}
                  {isIdle(idleSince, idleMinutes) ? <Badge tone="warn">idle</Badge> : null}
                </span>
              ) : (
                <span className="muted small">no metrics</span>
              );
            const items = d.mig ? d.slots : [{ profile: 'whole GPU', start: 0, size: g?.memorySlices ?? 8, holder: d.holder }];
            if (items.length === 0) {
              return [
                <tr key={`${d.index}-empty`}>
                  <td>{d.index}</td>
                  <td />
                  <td className="muted">MIG enabled, no instances</td>
                  <td />
                  <td />
                </tr>,
              ];
            }
            return items.map((s, i) => (
              <tr key={`${d.index}-${s.start}`} data-testid="instance-row">
                <td>{i === 0 ? d.index : ''}</td>
                <td>{i === 0 ? <GpuTile gpu={d} slices={g?.memorySlices ?? 8} metrics={gm} idleMinutes={idleMinutes} /> : null}</td>
                <td>
                  {s.profile}
                  {d.mig ? <span className="muted"> @{s.start}</span> : null}
                </td>
                <td>{s.holder ? `${s.holder.namespace}/${s.holder.name}${s.holder.workload ? ` · ${s.holder.workload}` : ''}` : <span className="muted">free</span>}</td>
                <td>
                  {d.mig ? live(migM[i]?.utilPct, migM[i]?.idleSince, migM[i]?.fbUsedMiB, migM[i]?.gpuInstanceId) : live(gm?.utilPct, gm?.idleSince, gm?.fbUsedMiB)}
                  {i === 0 && gm ? (
                    <div className="muted small">
                      {gm.tempC !== undefined ? `${gm.tempC} °C` : ''}
                      {gm.powerW !== undefined ? ` · ${gm.powerW} W` : ''}
                      {gm.erroring ? <Badge tone="bad">{gm.xid ? `XID ${gm.xid}` : 'errors'}</Badge> : null}
                      {gm.hot ? <Badge tone="bad">hot</Badge> : null}
                    </div>
                  ) : null}
                </td>
              </tr>
            ));
          })}
        </tbody>
      </table>
      {description && 'error' in description && <div className="error">{description.error}</div>}
      {description && 'labels' in description && (
        <>
          <h4>Conditions and taints</h4>
          <ul className="events">
            {description.conditions.map((c) => (
              <li key={c.type}>
                <Badge tone={(c.type === 'Ready') === (c.status === 'True') ? 'idle' : 'warn'}>{`${c.type}=${c.status}`}</Badge> <span className="muted small">{c.reason ?? ''} {c.message ?? ''}</span>
              </li>
            ))}
            {description.taints.map((t) => (
              <li key={`${t.key}:${t.effect}`} className="mono small">
                taint {t.key}
                {t.value ? `=${t.value}` : ''}:{t.effect}
              </li>
            ))}
          </ul>
          <details data-testid="node-labels">
            <summary>Labels ({Object.keys(description.labels).length})</summary>
            <ul className="labels mono small">
              {Object.entries(description.labels)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => (
                  <li key={k}>
                    {k}={v}
                  </li>
                ))}
            </ul>
          </details>
        </>
      )}
      <h4>Recent events</h4>
      {events?.error && <div className="error">{events.error}</div>}
      {events && !events.loading && !events.error && events.items.length === 0 && <p className="muted small">No recent events about this node.</p>}
      <ul className="events" data-testid="node-events">
        {(events?.items ?? []).map((e, i) => (
          <li key={i}>
            <Badge tone={e.type === 'Warning' ? 'warn' : 'idle'}>{e.reason || e.type}</Badge> {e.message}
            <span className="muted small">
              {' '}
              {e.count > 1 ? `×${e.count} ` : ''}
              {e.lastSeen ? new Date(e.lastSeen).toLocaleString() : ''}
              {e.source ? ` · ${e.source}` : ''}
            </span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
