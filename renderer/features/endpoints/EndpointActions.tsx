import { useState } from 'react';
import { ENDPOINT_ACTION_VERBS, type EndpointAction, type EndpointChange, type EndpointDetail } from '../../../shared/model/endpoints.ts';
import { formKey, useEndpoints } from '../../stores/endpoints.ts';
import { compatibleRuntimes } from './ep-draft.ts';

type Pending = EndpointAction;

/**
 * Canary, promote and roll back (Serverless), update with readiness gating
 * (RawDeployment, where KServe has no canary) and delete. Each asks first,
 * says what it is doing while it runs, and shows its error in place.
 * Buttons this user may not press are disabled with the permission named.
 */
export function EndpointActions({ e }: { e: EndpointDetail }) {
  const action = useEndpoints((s) => s.actions.detail);
  const access = useEndpoints((s) => s.access[formKey(e.clusterId, e.namespace)]);
  const disc = useEndpoints((s) => s.discovery[formKey(e.clusterId, e.namespace)]);
  const deletePlan = useEndpoints((s) => s.deletePlan);
  const updating = useEndpoints((s) => !!s.updating);
  const { canary, promote, rollback, update, stopUpdate, planDelete, remove } = useEndpoints.getState();
  const [pending, setPending] = useState<Pending | null>(null);
  const [uri, setUri] = useState(e.storageUri ?? '');
  const [runtime, setRuntime] = useState('');
  const [percent, setPercent] = useState(10);
  const serverless = e.mode === 'Serverless';
  const busy = !!action.busy;
  // The same verb core checks for each action (canary and update are a PUT: `update`; promote and roll back: `patch`).
  const denied = (a: EndpointAction): string | undefined => {
    const verb = ENDPOINT_ACTION_VERBS[a];
    const check = access?.[verb];
    return check && !check.allowed ? check.reason || `${verb} inferenceservices.serving.kserve.io in ${e.namespace} is denied` : undefined;
  };
  const deleteDenied = denied('delete');
  const changeDenied = [...new Set((serverless ? (['canary', 'promote', 'rollback'] as const) : (['update'] as const)).map(denied).filter(Boolean))].join('; ') || undefined;
  const inCanary = e.traffic.length > 1 || (e.canaryTrafficPercent !== undefined && e.canaryTrafficPercent > 0);
  const rolledOut = e.latestRolledoutRevision;
  const runtimes = compatibleRuntimes(disc?.runtimes ?? [], e.modelFormat ?? '', e.namespace);

  const change: EndpointChange = { ...(uri && uri !== e.storageUri ? { storageUri: uri } : {}), ...(runtime ? { runtime } : {}) };
  const changed = Object.keys(change).length > 0;
  const what = [change.storageUri ? `model ${change.storageUri}` : '', change.runtime ? `runtime ${change.runtime}` : ''].filter(Boolean).join(' and ');

  const question: Record<Pending, string> = {
    canary: `Start a canary of ${e.name}: a new revision with ${what || 'the same spec'} receives ${percent}% of the traffic; ${rolledOut ?? 'the current revision'} keeps ${100 - percent}%. Both revisions' pods run until you promote or roll back.`,
    promote: `Promote ${e.latestCreatedRevision ?? 'the latest revision'}: it receives 100% of the traffic and ${rolledOut ?? 'the previous revision'} scales to zero.`,
    rollback: `Roll back ${e.name}: 100% of the traffic returns to ${rolledOut ?? 'the previous rolled-out revision'}; ${e.latestCreatedRevision ?? 'the latest revision'} stays deployed with 0%.`,
    update: `Update ${e.name} in place with ${what || 'the same spec'}: new pods start, and the old ones go only once the new ones are Ready (progress is shown here; it stops with an error after 5 minutes).`,
    delete: deletePlan ? deletePlan.summary : `Reading what deleting ${e.name} removes…`,
  };

  const confirm = async () => {
    const p = pending;
    setPending(null);
    if (p === 'canary') await canary(e, change, percent);
    if (p === 'promote') await promote(e);
    if (p === 'rollback') await rollback(e);
    if (p === 'update') await update(e, change);
    if (p === 'delete') await remove(e);
  };

  return (
    <div className="panel ep-actions" data-testid="ep-actions">
      <h3>{serverless ? 'Canary, promote, roll back' : 'Update'}</h3>
      {!serverless && <p className="muted small">This endpoint runs in {e.mode} mode, where KServe has no canary or traffic split. An update replaces its pods, gated on readiness.</p>}
      <div className="ws-grid">
        <label className="wide">
          New model storage URI
          <input aria-label="new storage uri" value={uri} onChange={(ev) => setUri(ev.target.value.trim())} />
        </label>
        <label>
          Runtime
          <select aria-label="new runtime" value={runtime} onChange={(ev) => setRuntime(ev.target.value)}>
            <option value="">keep {e.runtime ?? 'the current one'}</option>
            {runtimes
              .filter((r) => r.name !== e.runtime)
              .map((r) => (
                <option key={`${r.kind}/${r.name}`} value={r.name}>
                  {r.name}
                </option>
              ))}
          </select>
        </label>
        {serverless && (
          <label>
            Canary traffic %
            <input aria-label="canary percent" type="number" min={1} max={99} value={percent} onChange={(ev) => setPercent(Math.min(99, Math.max(1, Number(ev.target.value) || 1)))} />
          </label>
        )}
      </div>
      <div className="filters">
        {serverless ? (
          <>
            <button className="primary" disabled={busy || !changed || !!denied('canary')} title={denied('canary')} onClick={() => setPending('canary')}>
              Start canary…
            </button>
            <button disabled={busy || !inCanary || !!denied('promote')} title={denied('promote') ?? (inCanary ? undefined : 'no canary is running')} onClick={() => setPending('promote')}>
              Promote
            </button>
            <button disabled={busy || (!inCanary && !e.previousRolledoutRevision) || !!denied('rollback')} title={denied('rollback')} onClick={() => setPending('rollback')}>
              Roll back
            </button>
          </>
        ) : (
          <button className="primary" disabled={busy || !changed || !!denied('update')} title={denied('update')} onClick={() => setPending('update')}>
            Update…
          </button>
        )}
        <button
          className="danger"
          disabled={busy || !!deleteDenied}
          title={deleteDenied}
          onClick={() => {
            setPending('delete');
            void planDelete(e);
          }}
        >
          Delete…
        </button>
      </div>
      {changeDenied && <div className="muted small">Changes disabled: {changeDenied}.</div>}
      {deleteDenied && <div className="muted small">Delete disabled: {deleteDenied}.</div>}
      {pending && (
        <div className="warning" role="alertdialog" data-testid="ep-confirm">
          <div>{question[pending]}</div>
          {pending === 'delete' && deletePlan && (
            <div className="small ep-delete-plan">
              <div>
                Goes: {deletePlan.deletes.map((d) => `${d.kind} ${d.namespace}/${d.name}`).join(', ') || 'nothing'}
              </div>
              <div>
                Stays: {deletePlan.keeps.map((k) => `${k.kind} ${k.namespace ? `${k.namespace}/` : ''}${k.name} (${k.note})`).join(', ') || 'nothing'}
              </div>
            </div>
          )}
          <button className="primary" disabled={pending === 'delete' && !deletePlan} onClick={() => void confirm()}>
            Confirm
          </button>{' '}
          <button onClick={() => setPending(null)}>Cancel</button>
        </div>
      )}
      {action.busy && (
        <div className="info" role="status">
          {action.busy}…{' '}
          {updating && (
            <button className="small" title="The change already sent stays applied; only the waiting stops" onClick={stopUpdate}>
              Stop waiting
            </button>
          )}
        </div>
      )}
      {action.steps && (
        <ol className="small" data-testid="ep-steps">
          {action.steps.map((s) => (
            <li key={`${s.at}${s.message}`}>
              <span className="muted">{new Date(s.at).toLocaleTimeString()}</span> {s.message}
            </li>
          ))}
        </ol>
      )}
      {action.error && (
        <div className="error" role="alert" data-testid="ep-action-error">
          {action.error.message}
        </div>
      )}
      {action.notice && !action.busy && (
        <div className="info" role="status">
          {action.notice}
        </div>
      )}
    </div>
  );
}
