import { useEffect, useState } from 'react';
import type { AuditEntry } from '../../../shared/model/audit.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { useAudit, type AuditFilter } from '../../stores/audit.ts';

const TONE: Record<AuditEntry['outcome'], Tone> = { succeeded: 'ok', failed: 'bad', started: 'info', cancelled: 'warn' };

function EntryRow({ e }: { e: AuditEntry }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr onClick={() => setOpen(!open)} className="clickable" data-testid="audit-row">
        <td className="mono small">{new Date(e.time).toLocaleString()}</td>
        <td>
          {e.actor.osUser}@{e.actor.host}
          {e.actor.kubeUser ? <span className="muted"> as {e.actor.kubeUser}</span> : null}
        </td>
        <td className="mono">{e.action}</td>
        <td>{e.targets.map((t) => `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`).join(', ')}</td>
        <td>{e.cluster ?? <span className="muted">local</span>}</td>
        <td>
          <Badge tone={TONE[e.outcome]}>{e.outcome}</Badge>
        </td>
        <td className="num muted small">#{e.seq}</td>
      </tr>
      {open && (
        <tr>
          <td colSpan={7}>
            {e.error && <div className="error">{e.error.message}</div>}
            <pre className="json">{JSON.stringify({ params: e.params, before: e.before, after: e.after, durationMs: e.durationMs, hash: e.hash }, null, 2)}</pre>
          </td>
        </tr>
      )}
    </>
  );
}

export function AuditPage() {
  const { filter, entries, nextBefore, loading, error, verify, setFilter, load, runVerify } = useAudit();
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="page">
      <div className="page-head">
        <h2>Audit trail</h2>
        <button onClick={() => void runVerify()}>Verify chain</button>
      </div>
      {verify && (
        <div className={verify.ok ? 'info' : 'error'} role="status" data-testid="audit-verify">
          {verify.ok ? `Intact: ${verify.entries} entries in ${verify.files} file(s), hash chain verified.` : `Broken: ${verify.firstProblem?.message ?? 'unknown problem'}`}
        </div>
      )}
      <p className="muted small">Every change Tessera makes is appended here, each entry hash-chained to the one before it. Click a row for its parameters.</p>
      <div className="filters">
        <input className="filter" placeholder="Search targets, parameters, errors" value={filter.text} onChange={(e) => setFilter({ text: e.target.value })} aria-label="search audit" />
        <input className="filter short" placeholder="action (e.g. mig)" value={filter.action} onChange={(e) => setFilter({ action: e.target.value })} aria-label="action" />
        <select aria-label="outcome" value={filter.outcome} onChange={(e) => setFilter({ outcome: e.target.value as AuditFilter['outcome'] })}>
          <option value="">outcome: all</option>
          <option value="succeeded">succeeded</option>
          <option value="failed">failed</option>
          <option value="started">started</option>
          <option value="cancelled">cancelled</option>
        </select>
        <select aria-label="period" value={filter.window} onChange={(e) => setFilter({ window: e.target.value as AuditFilter['window'] })}>
          <option value="24h">last 24 hours</option>
          <option value="7d">last 7 days</option>
          <option value="30d">last 30 days</option>
          <option value="all">all time</option>
        </select>
      </div>
      {error && <div className="error">{error.message}</div>}
      {!loading && entries.length === 0 && !error && <p className="empty">No changes recorded in this period.</p>}
      {entries.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Who</th>
              <th>Action</th>
              <th>Targets</th>
              <th>Cluster</th>
              <th>Outcome</th>
              <th className="num">Seq</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <EntryRow e={e} key={e.id} />
            ))}
          </tbody>
        </table>
      )}
      {nextBefore && (
        <button onClick={() => void load(true)} disabled={loading}>
          Older entries
        </button>
      )}
    </section>
  );
}
