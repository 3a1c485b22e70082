import { useEffect, useState } from 'react';
import { Badge } from '../../components/Badge.tsx';
import { useClusters } from '../../stores/clusters.ts';
import { endpointSelectors, useEndpoints } from '../../stores/endpoints.ts';
import type { EndpointDetail, RevisionInfo } from '../../../shared/model/endpoints.ts';
import { EndpointActions } from './EndpointActions.tsx';
import { age, heldLabel, STATE_TONE } from './ep-format.ts';
import { TestPanel } from './TestPanel.tsx';
import { TrafficBar } from './TrafficBar.tsx';

type Tab = 'overview' | 'activity' | 'test';

const COND_TONE = { True: 'ok', False: 'bad', Unknown: 'info' } as const;
/** Events shown before "show all": enough for a canary's story without pushing the logs off the panel. */
const EVENTS_SHOWN = 10;

/** One endpoint: readiness, traffic by revision, actions; events, pods and logs; the test panel. Refreshed every 3 s. */
export function EndpointDetailPanel() {
  const selected = useEndpoints((s) => s.selected);
  const detail = useEndpoints((s) => s.detail);
  const row = useEndpoints(endpointSelectors.row);
  const detailError = useEndpoints((s) => s.detailError);
  const { select, refreshDetail, loadFormData } = useEndpoints.getState();
  const clusterName = useClusters((s) => s.clusters.find((c) => c.id === selected?.clusterId)?.context);
  const [tab, setTab] = useState<Tab>('overview');

  useEffect(() => {
    const t = setInterval(() => void refreshDetail(), 3000);
    return () => clearInterval(t);
  }, [selected, refreshDetail]);
  useEffect(() => {
    // Runtimes (for a canary's runtime choice) and this user's permissions in the namespace.
    if (selected) void loadFormData(selected.clusterId, selected.namespace);
  }, [selected, loadFormData]);

  if (!selected) return null;
  // The detail (fetched) may lag the live row by a few seconds; readiness shows the newer of the two.
  const e = detail && detail.name === selected.name && detail.namespace === selected.namespace && detail.clusterId === selected.clusterId ? detail : undefined;
  const state = row ?? e;

  return (
    <aside className="detail ep-detail" data-testid="ep-detail" aria-label={`endpoint ${selected.name}`}>
      <button className="close" onClick={() => select(null)} aria-label="close">
        ×
      </button>
      <h3>
        {selected.namespace}/{selected.name} {state && <Badge tone={STATE_TONE[state.state]}>{state.state}</Badge>}
      </h3>
      {detailError && (
        <div className="error" role="alert">
          {detailError.message}
        </div>
      )}
      {!e && !detailError && <p className="muted">Loading…</p>}
      {state && state.ready !== 'True' && (state.reason || state.message) && (
        <div className={state.state === 'failed' ? 'error' : 'info'} data-testid="ep-reason">
          {state.reason ? <b>{state.reason}</b> : null}
          {state.message ? `: ${state.message}` : ''}
        </div>
      )}
      {e?.failure && (
        <div className="error">
          Model load failed: <b>{e.failure.reason}</b>
          {e.failure.message ? ` — ${e.failure.message}` : ''}
        </div>
      )}
      <div className="segmented" role="tablist">
        {(['overview', 'activity', 'test'] as const).map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? 'active' : ''} onClick={() => setTab(t)}>
            {t === 'overview' ? 'Overview' : t === 'activity' ? 'Events, pods, logs' : 'Test'}
          </button>
        ))}
      </div>
      {e && tab === 'overview' && <Overview e={e} clusterName={clusterName ?? e.clusterId} />}
      {e && tab === 'activity' && <Activity e={e} />}
      {e && tab === 'test' && <TestPanel e={e} />}
    </aside>
  );
}

function Overview({ e, clusterName }: { e: EndpointDetail; clusterName: string }) {
  const latestPct = e.traffic.find((t) => t.latest)?.percent;
  return (
    <>
      <dl className="facts">
        <dt>Cluster</dt>
        <dd>{clusterName}</dd>
        <dt>Mode</dt>
        <dd>{e.mode}</dd>
        <dt>URL</dt>
        <dd className="mono" data-testid="ep-url">
          {e.url ?? <span className="muted">none yet (set when Ready)</span>}
        </dd>
        <dt>Runtime</dt>
        <dd>
          {e.runtime ?? 'auto-selected'} <span className="muted">· {e.modelFormat ?? '?'}{e.protocolVersion ? ` · ${e.protocolVersion}` : ''}</span>
        </dd>
        <dt>Model</dt>
        <dd className="mono">{e.storageUri ?? '—'}</dd>
        <dt>GPU</dt>
        <dd>
          {e.gpuLabel} per replica{e.gpusHeld.length ? <span className="muted"> · holds {heldLabel(e.gpusHeld)} now</span> : null}
        </dd>
        <dt>Replicas</dt>
        <dd>
          {e.replicas.ready} ready of {e.replicas.total}
          {e.replicas.min !== undefined || e.replicas.max !== undefined ? <span className="muted"> · scale {e.replicas.min ?? 1}–{e.replicas.max ?? '∞'}</span> : null}
        </dd>
        <dt>Generation</dt>
        <dd>
          {e.generation ?? '?'} {e.upToDate ? <span className="muted">(status is current)</span> : <span className="warning small">status describes generation {e.observedGeneration ?? '?'}</span>}
        </dd>
        <dt>Age</dt>
        <dd>{age(e.ageSeconds)}</dd>
      </dl>
      <h4>Conditions</h4>
      <table className="table" data-testid="ep-conditions">
        <thead>
          <tr>
            <th>Type</th>
            <th>Status</th>
            <th>Reason</th>
            <th>Message</th>
            <th>Since</th>
          </tr>
        </thead>
        <tbody>
          {e.conditions.map((c) => (
            <tr key={c.type}>
              <td>{c.type}</td>
              <td>
                {/* Stopped is the one condition where True is the news. */}
                <Badge tone={c.type === 'Stopped' ? (c.status === 'True' ? 'warn' : 'idle') : COND_TONE[c.status]}>{c.status}</Badge>
              </td>
              <td className="small">{c.reason ?? ''}</td>
              <td className="small">{c.message ?? ''}</td>
              <td className="small muted">{c.lastTransitionTime ? new Date(c.lastTransitionTime).toLocaleTimeString() : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {e.conditions.length === 0 && <p className="muted small">No conditions reported yet.</p>}
      <h4>Traffic by revision</h4>
      <TrafficBar traffic={e.traffic} />
      {e.mode === 'Serverless' && e.canaryTrafficPercent !== undefined && (
        <p className="small muted">
          canaryTrafficPercent is {e.canaryTrafficPercent}
          {latestPct !== undefined ? `; the latest revision receives ${latestPct}%` : ''}.
        </p>
      )}
      {e.revisions.length > 0 && <Revisions revs={e.revisions} metricsNote={e.metricsNote} />}
      <EndpointActions e={e} />
    </>
  );
}

/** Revisions side by side: during a canary, the new and the previous one with readiness and GPU utilisation. */
function Revisions({ revs, metricsNote }: { revs: RevisionInfo[]; metricsNote?: string }) {
  const shown = revs.filter((r) => r.percent > 0 || r.latest).slice(0, 3);
  return (
    <div className="ep-revisions" data-testid="ep-revisions">
      {shown.map((r) => (
        <div key={r.name} className="card" data-testid="ep-revision">
          <header>
            <h3 className="mono">{r.name}</h3>
            <Badge tone={COND_TONE[r.ready]}>{r.ready === 'True' ? 'ready' : r.ready === 'False' ? 'failed' : 'starting'}</Badge>
          </header>
          <dl>
            <dt>Traffic</dt>
            <dd>
              {r.percent}%{r.tag ? ` · tag ${r.tag}` : ''}
              {r.latest ? ' · latest' : ''}
            </dd>
            <dt>Pods</dt>
            <dd>
              {r.readyPods}/{r.pods} ready
            </dd>
            <dt>GPU util</dt>
            <dd>{r.gpuUtilPct !== undefined ? `${Math.round(r.gpuUtilPct)} %` : <span className="muted">{metricsNote ?? 'no data'}</span>}</dd>
            {r.storageUri && (
              <>
                <dt>Model</dt>
                <dd className="mono small">{r.storageUri}</dd>
              </>
            )}
            {r.reason && (
              <>
                <dt>Reason</dt>
                <dd className={r.ready === 'False' ? 'bad-text' : ''}>
                  {r.reason}
                  {r.message ? `: ${r.message}` : ''}
                </dd>
              </>
            )}
          </dl>
        </div>
      ))}
    </div>
  );
}

function Activity({ e }: { e: EndpointDetail }) {
  const logs = useEndpoints((s) => s.logs);
  const loadLogs = useEndpoints((s) => s.loadLogs);
  const [pod, setPod] = useState('');
  const [previous, setPrevious] = useState(false);
  const [allEvents, setAllEvents] = useState(false);
  const events = allEvents ? e.events : e.events.slice(0, EVENTS_SHOWN);
  return (
    <>
      <h4>Predictor pods</h4>
      <table className="table" data-testid="ep-pods">
        <thead>
          <tr>
            <th>Pod</th>
            <th>Revision</th>
            <th>Phase</th>
            <th>Node</th>
            <th>GPU</th>
            <th className="num">Util</th>
            <th className="num">Restarts</th>
          </tr>
        </thead>
        <tbody>
          {e.pods.map((p) => (
            <tr key={p.name}>
              <td className="mono small">{p.name}</td>
              <td className="small">{p.revision?.replace(/^.*-predictor-/, '') ?? ''}</td>
              <td>
                <Badge tone={p.ready ? 'ok' : p.phase === 'Failed' || p.reason ? 'bad' : 'info'}>{p.ready ? 'ready' : p.phase}</Badge>
                {p.reason && <div className="small bad-text">{p.reason}</div>}
              </td>
              <td className="small">{p.node ?? ''}</td>
              <td className="small">{heldLabel(p.gpus)}</td>
              <td className="num">{p.gpuUtilPct !== undefined ? `${Math.round(p.gpuUtilPct)} %` : ''}</td>
              <td className="num">{p.restarts}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {e.pods.length === 0 && <p className="muted small">No predictor pods.</p>}
      {e.metricsNote && <p className="muted small">{e.metricsNote}</p>}
      <h4>Recent events</h4>
      <table className="table" data-testid="ep-events">
        <thead>
          <tr>
            <th>Type</th>
            <th>Reason</th>
            <th>Object</th>
            <th>Message</th>
            <th className="num">Count</th>
            <th>Last</th>
          </tr>
        </thead>
        <tbody>
          {events.map((v, i) => (
            <tr key={`${v.object}|${v.reason}|${i}`}>
              <td>
                <Badge tone={v.type === 'Warning' ? 'warn' : 'idle'}>{v.type}</Badge>
              </td>
              <td className="small">{v.reason}</td>
              <td className="small mono">{v.object}</td>
              <td className="small">{v.message}</td>
              <td className="num">{v.count}</td>
              <td className="small muted">{v.lastSeen ? new Date(v.lastSeen).toLocaleTimeString() : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {e.events.length === 0 && <p className="muted small">No recent events.</p>}
      {e.events.length > EVENTS_SHOWN && (
        <button className="link" onClick={() => setAllEvents(!allEvents)}>
          {allEvents ? `show the latest ${EVENTS_SHOWN}` : `show all ${e.events.length} events`}
        </button>
      )}
      <h4>Logs (kserve-container)</h4>
      <div className="filters">
        <select aria-label="log pod" value={pod} onChange={(ev) => setPod(ev.target.value)}>
          <option value="">every predictor pod</option>
          {e.pods.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        <label title="the log of the run before the container's last restart: why a crash-looping model server died">
          <input type="checkbox" checked={previous} onChange={(ev) => setPrevious(ev.target.checked)} /> before the last restart
        </label>
        <button onClick={() => void loadLogs(pod || undefined, previous)}>{logs ? 'Reload logs' : 'Show logs'}</button>
      </div>
      {logs?.map((l) => (
        <div key={`${l.pod}/${l.container}`} data-testid="ep-logs">
          <div className="muted small mono">
            {l.pod} {l.container}
            {l.previous ? ' (before the last restart)' : ''}
            {l.restarts ? ` · restarted ${l.restarts}×` : ''}
          </div>
          {/* No earlier run is a plain fact, not a failure. */}
          {l.error ? <div className={l.previous && !l.restarts ? 'muted small' : 'error small'}>{l.error}</div> : <pre className="json">{l.text || '(empty)'}</pre>}
        </div>
      ))}
    </>
  );
}
