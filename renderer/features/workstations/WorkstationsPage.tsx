import { useEffect, useMemo } from 'react';
import { Badge } from '../../components/Badge.tsx';
import { clusterSelectors, useClusters } from '../../stores/clusters.ts';
import { useWorkstations, workstationSelectors } from '../../stores/workstations.ts';
import { CreateWorkstation } from './CreateWorkstation.tsx';
import { WorkstationDetail } from './WorkstationDetail.tsx';
import { useMetrics } from '../../stores/metrics.ts';
import { age, liveGpu, STATE_TONE } from './ws-format.ts';

/** Every workstation on the connected clusters; refreshed every few seconds while open. */
export function WorkstationsPage() {
  const { list, loaded, error, actionError, notice, busy, creating, load, select, setCreating } = useWorkstations();
  const selected = useWorkstations(workstationSelectors.selected);
  // Selectors return stable values (a number, the store's own array): a fresh object each time would re-render forever.
  const connected = useClusters((s) => clusterSelectors.connected(s).length);
  const clusters = useClusters((s) => s.clusters);
  const metrics = useMetrics((s) => s.byCluster);
  const names = useMemo(() => new Map(clusters.map((c) => [c.id, c.context])), [clusters]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, [load, connected]);

  return (
    <section className="page">
      <div className="page-head">
        <h2>Workstations</h2>
        <button className="primary" onClick={() => setCreating(!creating)} disabled={!connected}>
          {creating ? 'Close form' : 'New workstation'}
        </button>
      </div>
      {!connected && <div className="warning">No cluster is connected.</div>}
      {busy && <div className="info" role="status">{busy}…</div>}
      {actionError && <div className="error" role="alert" data-testid="ws-error">{actionError.message}</div>}
      {notice && !busy && <div className="info" role="status">{notice}</div>}
      {error && <div className="error">{error.message}</div>}
      {creating && <CreateWorkstation />}
      <table className="table" data-testid="ws-list">
        <thead>
          <tr>
            <th>Cluster</th>
            <th>Namespace</th>
            <th>Name</th>
            <th>State</th>
            <th>GPU</th>
            <th>Util</th>
            <th>Node</th>
            <th className="num">Age</th>
            <th className="num">GPU-hours</th>
            <th>Owner</th>
          </tr>
        </thead>
        <tbody>
          {list.map((w) => (
            <tr key={workstationSelectors.key(w)} className={`clickable${selected && workstationSelectors.key(selected) === workstationSelectors.key(w) ? ' selected' : ''}`} data-testid="ws-row" onClick={() => select({ clusterId: w.clusterId, namespace: w.namespace, name: w.name })}>
              <td className="small">{names.get(w.clusterId) ?? w.clusterId}</td>
              <td>{w.namespace}</td>
              <td className="mono">{w.name}</td>
              <td title={w.reason ?? w.stoppedReason}>
                <Badge tone={STATE_TONE[w.state]}>{w.state}</Badge>
                {w.state === 'pending-no-capacity' && w.reason ? <div className="muted small">{w.reason}</div> : null}
                {w.stoppedReason ? <div className="muted small">{w.stoppedReason.split(';')[0]}</div> : null}
              </td>
              <td>{w.gpuLabel}</td>
              <td className="small" data-testid="ws-util">
                {(() => {
                  const live = liveGpu(metrics[w.clusterId], w);
                  if (!live) return '';
                  return (
                    <>
                      {live.utilPct !== undefined ? `${Math.round(live.utilPct)} %` : ''}
                      {live.idleSince && !w.idle ? (
                        <Badge tone="warn" title={`GPU idle since ${new Date(live.idleSince).toLocaleString()}`}>
                          idle
                        </Badge>
                      ) : null}
                    </>
                  );
                })()}
                {w.idle ? (
                  <Badge tone={w.idle.flagged ? 'warn' : 'idle'} title={`GPU below ${w.idle.policy.belowPct}% since ${new Date(w.idle.since).toLocaleString()}`}>
                    {w.idle.flagged ? `idle ${age(w.idle.seconds)}` : `quiet ${age(w.idle.seconds)}`}
                  </Badge>
                ) : null}
              </td>
              <td className="small">{w.node ?? ''}</td>
              <td className="num">{age(w.ageSeconds)}</td>
              <td className="num">{w.gpuHours.toFixed(2)}</td>
              <td className="small">{w.owner ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {loaded && list.length === 0 && <p className="empty">No workstations yet.</p>}
      {selected && <WorkstationDetail w={selected} onClose={() => select(null)} />}
    </section>
  );
}
