import { useCallback, useEffect, useMemo, useState } from 'react';
import { FINAL_PHASES, type NodeProgress, type RolloutState } from '../../../shared/model/rollout.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { useRollouts } from '../../stores/rollouts.ts';
import { ACTION_NEEDS } from '../../../shared/model/permissions.ts';
import { deniedTitle, MissingPermission, usePermission } from '../../components/permission.tsx';
import { NodeDetail, nodeMatches, StageNodes, type NodeFilter, type NodeShow } from './RolloutNodes.tsx';

const PHASE_TONE: Record<string, Tone> = { succeeded: 'ok', 'rolled-back': 'warn', failed: 'bad', 'rollback-failed': 'bad', aborted: 'warn', paused: 'warn', 'waiting-approval': 'warn', 'rolling-back': 'bad', halting: 'bad' };
function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** One rollout: the stages as a timeline, per-node state and time in state, and the controls that matter now. */
export function RolloutView({ r }: { r: RolloutState }) {
  const { control, approve, busy, clusterId } = useRollouts();
  const now = useNow();
  const [filter, setFilter] = useState<NodeFilter>({ text: '', show: 'all' });
  const [selected, setSelected] = useState<string>();
  const select = useCallback((name: string) => setSelected((cur) => (cur === name ? undefined : name)), []);
  // One pass over the nodes per snapshot: per stage, every node (for the counts) and the ones the filter keeps.
  const byStage = useMemo(() => {
    const out = r.plan.stages.map(() => ({ all: [] as NodeProgress[], shown: [] as NodeProgress[] }));
    for (const n of r.nodes) {
      const st = out[n.stage];
      if (!st) continue;
      st.all.push(n);
      if (nodeMatches(n, filter)) st.shown.push(n);
    }
    return out;
  }, [r, filter]);
  const picked = selected ? r.nodes.find((n) => n.name === selected) : undefined;
  // Offered only with the permission: the same checks core makes before it acts.
  const decide = usePermission(clusterId, ACTION_NEEDS.rolloutDecide());
  const resume = usePermission(clusterId, ACTION_NEEDS.rolloutResume());
  const noDecide = busy !== undefined || decide.allowed === false;
  const final = FINAL_PHASES.includes(r.phase);
  const done = r.nodes.filter((n) => n.upgrade.step === 'done' || n.upgrade.step === 'failed').length;
  // The runner moves currentStage to the next stage and then waits for it to be approved.
  const waitingStage = r.phase === 'waiting-approval' && !r.control.approvedStages.includes(r.currentStage) ? r.plan.stages[r.currentStage] : undefined;
  return (
    <section className="rollout" aria-label={`rollout ${r.name}`} data-testid="rollout-view" data-phase={r.phase}>
      <div className="row">
        <h3>{r.name}</h3> <Badge tone={PHASE_TONE[r.phase] ?? 'info'}>{r.phase}</Badge>
        <span className="muted small">driver {r.plan.driverVersion} · {r.plan.executor.kind} · started {new Date(r.createdAt).toLocaleString()} by {r.createdBy}</span>
        {r.holder && <span className="muted small">· driven by {r.holder.identity}{r.holder.fresh ? '' : ' (lease expired: resume takes over)'}</span>}
      </div>
      {r.reason && <p className={r.phase === 'failed' || r.phase === 'rollback-failed' ? 'error' : 'muted'}>{r.reason}</p>}
      <div className="row">
        <progress max={r.nodes.length} value={done} aria-label="overall progress" /> {done}/{r.nodes.length} nodes
        {waitingStage && <button className="primary" disabled={noDecide} title={deniedTitle(decide)} onClick={() => void approve(waitingStage.index)} data-testid="rollout-approve">Approve stage {waitingStage.index} ({waitingStage.label})</button>}
        {!final && r.phase !== 'paused' && <button disabled={noDecide} title={deniedTitle(decide)} onClick={() => void control('pause')}>Pause</button>}
        {(r.phase === 'paused' || (!final && r.holder && !r.holder.fresh)) && <button disabled={busy !== undefined || resume.allowed === false} title={deniedTitle(resume)} onClick={() => void control('resume')} data-testid="rollout-resume">Resume</button>}
        {!final && <button disabled={noDecide} title={deniedTitle(decide)} onClick={() => void control('abort')}>Abort</button>}
        {r.phase !== 'rolled-back' && r.phase !== 'rolling-back' && <button disabled={noDecide} title={deniedTitle(decide)} onClick={() => void control('rollback')} data-testid="rollout-rollback">Roll back</button>}
      </div>
      <MissingPermission p={decide} what="pause, approve, abort or roll back this rollout" />
      <div className="row rollout-filter">
        <input type="search" placeholder="filter nodes by name" value={filter.text} onChange={(e) => setFilter({ ...filter, text: e.target.value.trim() })} aria-label="filter nodes" data-testid="rollout-filter" />
        <select value={filter.show} onChange={(e) => setFilter({ ...filter, show: e.target.value as NodeShow })} aria-label="show nodes" data-testid="rollout-show">
          <option value="all">all nodes</option>
          <option value="active">in flight</option>
          <option value="failed">failed</option>
          <option value="done">done</option>
          <option value="pending">not started</option>
        </select>
        <span className="muted small">click a node for its gates and log</span>
      </div>
      {picked && <NodeDetail n={picked} onClose={() => setSelected(undefined)} />}
      <ol className="timeline" data-testid="rollout-timeline">
        {r.plan.stages.map((st) => {
          const { all: nodes, shown } = byStage[st.index] ?? { all: [], shown: [] };
          const finished = nodes.filter((n) => n.upgrade.step === 'done').length;
          const failed = nodes.filter((n) => n.upgrade.step === 'failed').length;
          const state = st.index < r.currentStage || (final && finished + failed === nodes.length) ? 'past' : st.index === r.currentStage ? (r.phase === 'waiting-approval' ? 'waiting' : 'current') : 'future';
          return (
            <li key={st.index} className={`stage ${state}`} data-testid={`rollout-stage-${st.index}`}>
              <div className="row">
                <strong>Stage {st.index}: {st.label}</strong>
                <progress max={nodes.length} value={finished} /> <span className="small">{finished}/{nodes.length} done{failed ? `, ${failed} failed` : ''} · {st.maxUnavailable} at a time · tolerates {st.tolerateFailures}{shown.length < nodes.length ? ` · ${shown.length} shown` : ''}</span>
              </div>
              <StageNodes nodes={shown} now={now} selected={selected} onSelect={select} label={`stage ${st.index} nodes`} />
            </li>
          );
        })}
      </ol>
      <details>
        <summary>History ({r.history.length})</summary>
        <ul className="small">{r.history.slice(-200).reverse().map((h, i) => <li key={i}>{new Date(h.at).toLocaleTimeString()} {h.kind}{h.node ? ` ${h.node}` : ''}: {h.message}</li>)}</ul>
      </details>
    </section>
  );
}
