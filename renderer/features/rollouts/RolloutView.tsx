import { useEffect, useState } from 'react';
import { FINAL_PHASES, type NodePhase, type NodeProgress, type RolloutState } from '../../../shared/model/rollout.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { useRollouts } from '../../stores/rollouts.ts';
import { ACTION_NEEDS } from '../../../shared/model/permissions.ts';
import { deniedTitle, MissingPermission, usePermission } from '../../components/permission.tsx';

const PHASE_TONE: Record<string, Tone> = { succeeded: 'ok', 'rolled-back': 'warn', failed: 'bad', 'rollback-failed': 'bad', aborted: 'warn', paused: 'warn', 'waiting-approval': 'warn', 'rolling-back': 'bad', halting: 'bad' };
const stepTone = (p: NodePhase): Tone => (p.step === 'done' ? 'ok' : p.step === 'failed' ? 'bad' : p.step === 'pending' ? 'idle' : 'info');

function since(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function NodeRowView({ n, now }: { n: NodeProgress; now: number }) {
  const phase = n.rollback ?? n.upgrade;
  return (
    <tr data-testid={`rollout-node-${n.name}`} data-step={n.upgrade.step} data-rollback={n.rollback?.step ?? ''}>
      <td>{n.name}</td>
      <td className="small">{n.before?.version ?? '?'} → {n.upgrade.toVersion}{n.rollback ? ` → ${n.rollback.toVersion}` : ''}</td>
      <td>
        <Badge tone={stepTone(n.upgrade)}>{n.upgrade.step}</Badge>
        {n.rollback && <> <Badge tone={stepTone(n.rollback)}>rollback {n.rollback.step}</Badge></>}
      </td>
      <td className="muted small">{phase.finishedAt ? '' : since(phase.stepAt ?? phase.startedAt, now)}</td>
      <td className="small">
        {(phase.gates ?? []).map((g) => <Badge key={g.gate} tone={g.ok ? 'ok' : 'bad'} title={g.detail}>{g.gate}</Badge>)}
        {phase.error && <span className="error"> {phase.error}</span>}
        {(n.upgrade.log.length > 0 || (n.rollback?.log.length ?? 0) > 0) && (
          <details>
            <summary>log</summary>
            <pre className="report">{[...n.upgrade.log, ...(n.rollback?.log ?? [])].join('\n')}</pre>
          </details>
        )}
      </td>
    </tr>
  );
}

/** One rollout: the stages as a timeline, per-node state and time in state, and the controls that matter now. */
export function RolloutView({ r }: { r: RolloutState }) {
  const { control, approve, busy, clusterId } = useRollouts();
  const now = useNow();
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
      <ol className="timeline" data-testid="rollout-timeline">
        {r.plan.stages.map((st) => {
          const nodes = r.nodes.filter((n) => n.stage === st.index);
          const finished = nodes.filter((n) => n.upgrade.step === 'done').length;
          const failed = nodes.filter((n) => n.upgrade.step === 'failed').length;
          const state = st.index < r.currentStage || (final && finished + failed === nodes.length) ? 'past' : st.index === r.currentStage ? (r.phase === 'waiting-approval' ? 'waiting' : 'current') : 'future';
          return (
            <li key={st.index} className={`stage ${state}`} data-testid={`rollout-stage-${st.index}`}>
              <div className="row">
                <strong>Stage {st.index}: {st.label}</strong>
                <progress max={nodes.length} value={finished} /> <span className="small">{finished}/{nodes.length} done{failed ? `, ${failed} failed` : ''} · {st.maxUnavailable} at a time · tolerates {st.tolerateFailures}</span>
              </div>
              <table className="table compact"><tbody>{nodes.map((n) => <NodeRowView key={n.name} n={n} now={now} />)}</tbody></table>
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
