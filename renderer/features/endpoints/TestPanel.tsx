import { useEffect, useState } from 'react';
import { sampleBody, type EndpointDetail, type TestProtocol } from '../../../shared/model/endpoints.ts';
import { Badge } from '../../components/Badge.tsx';
import { Bar } from '../../components/Bar.tsx';
import { useEndpoints } from '../../stores/endpoints.ts';
import { ms, PROTOCOL_LABEL } from './ep-format.ts';

/** Pretty-prints a JSON body; anything else is shown as it came. */
function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/**
 * Talks to the endpoint the way a client would, through core (which only ever
 * sends to the InferenceService's own URL): readiness probes, one request in a
 * protocol the runtime speaks, and a short load test.
 */
export function TestPanel({ e }: { e: EndpointDetail }) {
  const action = useEndpoints((s) => s.actions.test);
  const probes = useEndpoints((s) => s.probes);
  const test = useEndpoints((s) => s.test);
  const load = useEndpoints((s) => s.load);
  const { probe, sendTest, startLoad, stopLoad } = useEndpoints.getState();
  const [protocol, setProtocol] = useState<TestProtocol | ''>(e.protocols[0] ?? '');
  const [body, setBody] = useState(protocol ? sampleBody(protocol, e.name) : '');
  const [target, setTarget] = useState('');
  const [requests, setRequests] = useState(100);
  const [concurrency, setConcurrency] = useState(4);
  const busy = !!action.busy;
  const bodyProblem = (() => {
    try {
      JSON.parse(body);
      return undefined;
    } catch (err) {
      return `the body is not JSON: ${(err as Error).message}`;
    }
  })();
  // A protocol the runtime no longer speaks (it changed in a canary) falls back to its first one.
  useEffect(() => {
    if (protocol && !e.protocols.includes(protocol) && e.protocols[0]) {
      setProtocol(e.protocols[0]);
      setBody(sampleBody(e.protocols[0], e.name));
    }
  }, [e.protocols, protocol, e.name]);

  const targets = e.traffic.length > 1 ? e.traffic : [];
  const noUrl = !e.url;

  return (
    <div className="ep-test" data-testid="ep-test">
      {noUrl && <div className="warning">The endpoint has no URL yet: it is set once the endpoint is Ready.</div>}
      <div className="filters">
        <button disabled={busy || noUrl} onClick={() => void probe(e)}>
          Run readiness probes
        </button>
      </div>
      {probes && (
        <table className="table" data-testid="ep-probes">
          <tbody>
            {probes.map((p) => (
              <tr key={p.path}>
                <td>{p.name}</td>
                <td className="mono small">
                  {p.method} {p.path}
                </td>
                <td>
                  <Badge tone={p.ok ? 'ok' : 'bad'}>{p.status ?? 'no answer'}</Badge>
                </td>
                <td className="num">{ms(p.latencyMs)}</td>
                <td className="small muted">{p.error ?? p.body?.slice(0, 80) ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>Request</h4>
      {e.protocols.length === 0 ? (
        <p className="muted small">The runtime declares no protocol Tessera can test.</p>
      ) : (
        <>
          <div className="filters">
            <select
              aria-label="protocol"
              value={protocol}
              onChange={(ev) => {
                const p = ev.target.value as TestProtocol;
                setProtocol(p);
                setBody(sampleBody(p, e.name));
              }}
            >
              {e.protocols.map((p) => (
                <option key={p} value={p}>
                  {PROTOCOL_LABEL[p]}
                </option>
              ))}
            </select>
            <select aria-label="target revision" value={target} onChange={(ev) => setTarget(ev.target.value)}>
              <option value="">the endpoint URL (split as traffic is)</option>
              {targets.map((t, i) => (
                <option key={`${i}:${t.revision}`} value={t.tag ?? t.revision}>
                  only {t.revision}
                  {t.tag ? ` (${t.tag})` : ''}
                </option>
              ))}
            </select>
            <button onClick={() => protocol && setBody(sampleBody(protocol, e.name))}>Reset body</button>
          </div>
          <textarea aria-label="request body" className="mono ep-body" rows={8} spellCheck={false} value={body} onChange={(ev) => setBody(ev.target.value)} />
          {bodyProblem && <div className="warning small">{bodyProblem}</div>}
          <div className="filters">
            <button className="primary" disabled={busy || noUrl || !protocol || !!bodyProblem} onClick={() => protocol && void sendTest(e, protocol, body, target || undefined)}>
              Send request
            </button>
          </div>
        </>
      )}
      {action.busy && (
        <div className="info" role="status">
          {action.busy}…
        </div>
      )}
      {action.error && (
        <div className="error" role="alert" data-testid="ep-test-error">
          {action.error.message}
        </div>
      )}
      {test && (
        <div className="panel" data-testid="ep-test-result">
          <div className="filters">
            <Badge tone={test.ok ? 'ok' : 'bad'}>HTTP {test.status}</Badge>
            <span>
              latency <b data-testid="ep-test-latency">{ms(test.latencyMs)}</b>
            </span>
            <span>
              revision <b className="mono">{test.revision ?? 'not said'}</b>
            </span>
            <span className="mono small muted">POST {test.url}</span>
          </div>
          <pre className="json" data-testid="ep-test-body">
            {pretty(test.body)}
            {test.truncated ? '\n… (cut at 64 KiB)' : ''}
          </pre>
        </div>
      )}
      <h4>Load test</h4>
      <div className="filters">
        <label className="toggle">
          requests (N){' '}
          <input aria-label="requests" className="filter short" type="number" min={1} max={10000} value={requests} onChange={(ev) => setRequests(Math.min(10000, Math.max(1, Number(ev.target.value) || 1)))} />
        </label>
        <label className="toggle">
          concurrency (C){' '}
          <input aria-label="concurrency" className="filter short" type="number" min={1} max={64} value={concurrency} onChange={(ev) => setConcurrency(Math.min(64, Math.max(1, Number(ev.target.value) || 1)))} />
        </label>
        {load?.running ? (
          <button onClick={() => stopLoad()}>Stop</button>
        ) : (
          <button className="primary" disabled={noUrl || !protocol || !!bodyProblem} onClick={() => protocol && startLoad(e, { protocol, body, requests, concurrency })}>
            Run load test
          </button>
        )}
      </div>
      {load?.progress && (load.running || !load.result) && (
        <div className="filters small" data-testid="ep-load-progress">
          <div style={{ width: 240 }}>
            <Bar value={load.progress.done} total={load.progress.total} tone="count" />
          </div>
          {load.progress.done}/{load.progress.total} done · {load.progress.errors} errors
        </div>
      )}
      {load?.error && (
        <div className="error" role="alert">
          {load.error.message}
        </div>
      )}
      {load?.result && (
        <div className="panel" data-testid="ep-load-result">
          <div className="stats">
            {(['p50', 'p95', 'p99'] as const).map((k) => (
              <div key={k} className="stat">
                <div className="stat-value" data-testid={`ep-load-${k}`}>
                  {ms(load.result!.latencyMs[k])}
                </div>
                <div className="stat-label">{k} latency</div>
              </div>
            ))}
          </div>
          <p className="small">
            {load.result.succeeded} of {load.result.requests} succeeded at concurrency {load.result.concurrency} in {ms(load.result.durationMs)} ({load.result.requestsPerSecond.toFixed(1)} req/s) · min {ms(load.result.latencyMs.min)} · mean {ms(load.result.latencyMs.mean)} · max {ms(load.result.latencyMs.max)}
          </p>
          <div className="two-col">
            <div>
              <h4>Errors</h4>
              {load.result.errors.length === 0 ? (
                <p className="small" data-testid="ep-load-errors">
                  none
                </p>
              ) : (
                <ul className="small" data-testid="ep-load-errors">
                  {load.result.errors.map((x) => (
                    <li key={x.kind}>
                      {x.kind}: {x.count}
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <div>
              <h4>Responses per revision</h4>
              <table className="table" data-testid="ep-load-revisions">
                <tbody>
                  {load.result.perRevision.map((r) => (
                    <tr key={r.revision}>
                      <td className="mono small">{r.revision}</td>
                      <td className="num">{r.count}</td>
                      <td className="num">{r.percent.toFixed(0)}%</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
