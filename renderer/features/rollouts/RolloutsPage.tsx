import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { RolloutPlan } from '../../../shared/model/rollout.ts';
import { Badge } from '../../components/Badge.tsx';
import { clusterSelectors, useClusters } from '../../stores/clusters.ts';
import { useRollouts } from '../../stores/rollouts.ts';
import { RolloutFormView } from './RolloutForm.tsx';
import { RolloutView } from './RolloutView.tsx';
import { ACTION_NEEDS } from '../../../shared/model/permissions.ts';
import { deniedTitle, MissingPermission, usePermission } from '../../components/permission.tsx';

function PlanView({ plan }: { plan: RolloutPlan }) {
  const { start, clearPlan, busy, clusterId } = useRollouts();
  const [confirming, setConfirming] = useState(false);
  const may = usePermission(clusterId, ACTION_NEEDS.rolloutStart());
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const total = plan.stages.reduce((s, st) => s + st.nodes.length, 0);
  return (
    <section className="rollout-plan" aria-label="rollout plan" data-testid="rollout-plan-view">
      <h3>Plan: driver {plan.driverVersion} on {total} node(s) in {plan.stages.length} stage(s)</h3>
      {plan.warnings.map((w) => <p key={w} className="notice small">{w}</p>)}
      {(plan.blockers ?? []).map((b) => <p key={b} className="error small" data-testid="rollout-blocker">Cannot start: {b}</p>)}
      {plan.blockingPdbs.length > 0 && (
        <p className="error" data-testid="rollout-pdbs">PodDisruptionBudgets that will block a drain: {plan.blockingPdbs.map((p) => `${p.namespace}/${p.name} (allows ${p.disruptionsAllowed}; on ${p.nodes.join(', ')})`).join('; ')}</p>
      )}
      {plan.cordoned.length > 0 && <p className="muted small">Already cordoned (they stay cordoned after): {plan.cordoned.join(', ')}</p>}
      {plan.skipped.length > 0 && <p className="muted small">Skipped: {plan.skipped.map((s) => `${s.name} (${s.detail})`).join('; ')}</p>}
      <table className="table compact">
        <thead><tr><th>Stage</th><th>Nodes</th><th>Workloads evicted</th></tr></thead>
        <tbody>
          {plan.stages.map((st) => (
            <tr key={st.index}>
              <td>{st.index}: {st.label} <span className="muted small">({st.maxUnavailable} at a time)</span></td>
              <td>{st.nodes.map((n) => `${n} (${byName.get(n)?.currentVersion ?? '?'})`).join(', ')}</td>
              <td className="small">{st.nodes.flatMap((n) => byName.get(n)?.evictions ?? []).map((e) => `${e.namespace}/${e.owner ?? e.name}`).filter((v, i, a) => a.indexOf(v) === i).join(', ') || 'none'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!confirming ? (
        <>
          <button className="primary" disabled={total === 0 || busy !== undefined || may.allowed === false || !!plan.blockers?.length} title={plan.blockers?.length ? 'fix what the plan says cannot start, then plan again' : deniedTitle(may)} onClick={() => setConfirming(true)} data-testid="rollout-start">Start rollout…</button>
          <MissingPermission p={may} what="start a rollout" />
        </>
      ) : (
        <div className="confirm" role="alertdialog" aria-label="confirm rollout">
          <p>Upgrade the driver to {plan.driverVersion} on {total} node(s)? Each node is cordoned, drained, upgraded, verified and uncordoned; a failed stage {plan.autoRollback ? 'rolls back the upgraded nodes' : 'halts the rollout'}.</p>
          <button className="primary" onClick={() => (setConfirming(false), void start())} data-testid="rollout-confirm">Start</button>
          <button onClick={() => setConfirming(false)}>Cancel</button>
        </div>
      )}
      <button onClick={clearPlan}>Discard plan</button>
    </section>
  );
}

export function RolloutsPage() {
  const clusters = useClusters(useShallow((s) => clusterSelectors.connected(s)));
  const s = useRollouts();
  const clusterId = s.clusterId ?? clusters[0]?.id;
  useEffect(() => useRollouts.getState().setCluster(clusterId), [clusterId]);
  useEffect(() => {
    const t = setInterval(() => void useRollouts.getState().refresh(), 10_000);
    return () => clearInterval(t);
  }, []);
  if (!clusterId) return <section className="page"><h2>Driver rollouts</h2><p className="muted">Connect a cluster first (Clusters page).</p></section>;
  return (
    <section className="page rollouts-page" aria-label="driver rollouts">
      <h2>Driver rollouts</h2>
      <div className="row">
        <label>Cluster <select aria-label="cluster" value={clusterId} onChange={(e) => s.setCluster(e.target.value)}>{clusters.map((c) => <option key={c.id} value={c.id}>{c.context}</option>)}</select></label>
      </div>
      {s.error && <p className="error" role="alert" data-testid="rollout-error">{s.error.message}</p>}
      <div className="rollouts-layout">
        <div>
          <RolloutFormView clusterId={clusterId} />
          <h3>History</h3>
          <table className="table compact rollout-history" data-testid="rollout-history">
            <tbody>
              {s.list.map((r) => (
                <tr key={r.id} className={s.open?.id === r.id ? 'selected' : ''} onClick={() => s.openRollout(r.id)} style={{ cursor: 'pointer' }}>
                  <td>{r.name}</td><td>{r.driverVersion}</td><td><Badge tone={r.phase === 'succeeded' ? 'ok' : r.phase === 'failed' || r.phase === 'rollback-failed' ? 'bad' : 'info'}>{r.phase}</Badge></td>
                  <td className="small">{r.nodes.done}/{r.nodes.total}{r.nodes.failed ? `, ${r.nodes.failed} failed` : ''}{r.nodes.rolledBack ? `, ${r.nodes.rolledBack} rolled back` : ''}</td>
                  <td className="muted small">{new Date(r.createdAt).toLocaleString()}</td>
                </tr>
              ))}
              {s.list.length === 0 && <tr><td className="muted">No rollouts recorded in this cluster.</td></tr>}
            </tbody>
          </table>
        </div>
        <div>
          {s.plan && <PlanView plan={s.plan} />}
          {s.open && <RolloutView r={s.open} />}
        </div>
      </div>
    </section>
  );
}
