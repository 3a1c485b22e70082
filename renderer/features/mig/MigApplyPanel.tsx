import { useState } from 'react';
import type { MigModel } from '../../../shared/gpu/mig-geometry.ts';
import type { MigApplyJob } from '../../../shared/model/mig.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { useMig } from '../../stores/mig.ts';

const STEP_TONE: Record<string, Tone> = { succeeded: 'ok', skipped: 'ok', failed: 'bad', 'timed-out': 'bad', refused: 'bad', cancelled: 'warn' };
const toneOf = (step: string): Tone => STEP_TONE[step] ?? 'info';

/** Save, check and apply the planned layout, then follow it node by node. */
export function MigApplyPanel({ model, valid }: { model: MigModel; valid: boolean }) {
  const s = useMig();
  const [maxParallel, setMaxParallel] = useState(1);
  const [drain, setDrain] = useState(false);
  const [pointPolicy, setPointPolicy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const check = s.check;
  const denied = check?.permissions.filter((p) => !p.allowed) ?? [];
  const blocked = check?.nodes.filter((n) => n.problems.length > 0 || (n.pods.length > 0 && !drain)) ?? [];
  const isKnown = Boolean(s.configs?.configs[s.configName]);
  const canApply = check && denied.length === 0 && blocked.length === 0 && (!check.needsPolicyChange || pointPolicy);

  return (
    <section className="mig-apply" aria-label="apply">
      <h3>Apply through the GPU Operator</h3>
      <p className="muted small">The MIG manager applies instance counts and picks placements itself; the plan shows one legal arrangement.</p>
      <div className="row">
        <label>
          Config name{' '}
          <input value={s.configName} onChange={(e) => s.setConfigName(e.target.value.trim())} placeholder="e.g. team-a-3g-2g-1g" data-testid="mig-config-name" />
        </label>
        <button disabled={!valid || !s.configName || s.busy !== undefined} onClick={() => void s.save(model)} data-testid="mig-save">
          Save as custom layout
        </button>
        <button disabled={!isKnown || s.busy !== undefined} onClick={() => void s.runCheck()} data-testid="mig-check">
          Check {s.selected.length} node{s.selected.length === 1 ? '' : 's'}
        </button>
      </div>
      {!isKnown && s.configName && <p className="muted small">Save the layout first: the MIG manager has no config named “{s.configName}”.</p>}
      {check && (
        <div className="mig-check" data-testid="mig-check-result">
          <table className="table compact">
            <thead>
              <tr><th>Node</th><th>Now</th><th>GPU pods that would lose their device</th><th>Problems</th></tr>
            </thead>
            <tbody>
              {check.nodes.map((n) => (
                <tr key={n.node}>
                  <td>{n.node}</td>
                  <td>{n.migConfig ?? '—'} {n.migConfigState && <Badge tone={n.migConfigState === 'failed' ? 'bad' : 'info'}>{n.migConfigState}</Badge>}</td>
                  <td>{n.pods.map((p) => `${p.namespace}/${p.name}`).join(', ') || 'none'}</td>
                  <td>{n.problems.join(' ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {denied.map((d) => (
            <p key={d.what} className="error">Missing permission to {d.what}: {d.reason}</p>
          ))}
          <div className="row">
            <label>At most <input type="number" min={1} max={100} value={maxParallel} onChange={(e) => setMaxParallel(Math.max(1, Number(e.target.value) || 1))} style={{ width: '4em' }} /> nodes at once</label>
            <label><input type="checkbox" checked={drain} onChange={(e) => setDrain(e.target.checked)} /> Drain GPU pods first (cordon, evict respecting PodDisruptionBudgets)</label>
            {check.needsPolicyChange && (
              <label><input type="checkbox" checked={pointPolicy} onChange={(e) => setPointPolicy(e.target.checked)} data-testid="mig-point-policy" /> Point the ClusterPolicy's MIG manager at {check.configs.own.namespace}/{check.configs.own.name} (it now reads {check.configs.active.name})</label>
            )}
          </div>
          {blocked.length > 0 && <p className="error" data-testid="mig-blocked">{blocked.length} node(s) cannot be changed now: {blocked.map((b) => b.node).join(', ')}{drain ? '' : ' (GPU pods run there: choose to drain first)'}.</p>}
          {!confirming ? (
            <button className="primary" disabled={!canApply || s.busy !== undefined} onClick={() => setConfirming(true)} data-testid="mig-apply">Apply…</button>
          ) : (
            <div className="confirm" role="alertdialog" aria-label="confirm apply">
              <p>Set <code>nvidia.com/mig.config={s.configName}</code> on {s.selected.length} node(s), {maxParallel} at a time{drain ? ', draining GPU pods first' : ''}? Every GPU instance on these nodes is destroyed and recreated.</p>
              <button className="primary" onClick={() => (setConfirming(false), void s.apply({ maxParallel, drain, pointPolicy }))} data-testid="mig-confirm">Apply now</button>
              <button onClick={() => setConfirming(false)}>Cancel</button>
            </div>
          )}
        </div>
      )}
      {s.jobs.map((j) => <JobView key={j.applyId} job={j} />)}
    </section>
  );
}

function JobView({ job }: { job: MigApplyJob }) {
  const { cancel, revert } = useMig();
  const done = job.nodes.filter((n) => ['succeeded', 'skipped', 'failed', 'timed-out', 'cancelled', 'refused'].includes(n.step)).length;
  const canRevert = job.state !== 'running' && job.nodes.some((n) => (n.step === 'failed' || n.step === 'timed-out') && n.previousConfig);
  return (
    <div className="mig-job" data-testid="mig-job" data-state={job.state}>
      <div className="row">
        <strong>Apply {job.applyId}</strong> <Badge tone={job.state === 'succeeded' ? 'ok' : job.state === 'running' ? 'info' : 'bad'}>{job.state}</Badge>
        <progress max={job.nodes.length} value={done} /> {done}/{job.nodes.length}
        {job.state === 'running' && <button onClick={() => void cancel(job.applyId)}>Stop starting nodes</button>}
        {canRevert && <button onClick={() => void revert(job.applyId)} data-testid="mig-revert">Return failed nodes to their previous config</button>}
      </div>
      <table className="table compact">
        <tbody>
          {job.nodes.map((n) => (
            <tr key={n.node} data-testid={`mig-node-${n.node}`} data-step={n.step}>
              <td>{n.node}</td>
              <td><Badge tone={toneOf(n.step)}>{n.step}</Badge></td>
              <td className="muted small">since {new Date(n.since).toLocaleTimeString()}</td>
              <td>
                {n.message}
                {n.report && n.report.length > 0 && <pre className="report">{n.report.join('\n')}</pre>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
