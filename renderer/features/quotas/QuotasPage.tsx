import { useCallback, useEffect } from 'react';
import type { NamespaceQuota, QuotaLine } from '../../../shared/contract/quotas.ts';
import { Badge } from '../../components/Badge.tsx';
import { Bar } from '../../components/Bar.tsx';
import { ClusterSelect } from '../../components/ClusterSelect.tsx';
import { draftChanges, useQuotas } from '../../stores/quotas.ts';

const resourceLabel = (r: string) => (r === 'nvidia.com/gpu' ? 'GPU' : r.replace('nvidia.com/mig-', 'MIG '));

function UsageCell({ l }: { l: QuotaLine }) {
  if (!l.quota) return <span className="muted">no quota</span>;
  const full = l.quota.used >= l.quota.hard;
  return (
    <div className="quota-usage">
      <Bar value={l.quota.used} total={l.quota.hard} label={`${l.quota.used} of ${l.quota.hard} in use (${l.quota.name})`} />
      <span className={`num${full ? ' full' : ''}`} data-testid="quota-used">
        {l.quota.used} / {l.quota.hard}
      </span>
    </div>
  );
}

function NamespaceRows({ row }: { row: NamespaceQuota }) {
  const edit = useQuotas((s) => s.edit);
  const lines = row.lines.length ? row.lines : [undefined];
  return (
    <>
      {lines.map((l, i) => (
        <tr key={l?.resource ?? 'none'} data-testid={i === 0 ? 'quota-ns' : undefined} data-namespace={row.namespace}>
          {i === 0 && (
            <td rowSpan={lines.length}>
              <b>{row.namespace}</b>
              {row.team && <Badge tone="info">team {row.team}</Badge>}
            </td>
          )}
          <td>{l ? resourceLabel(l.resource) : <span className="muted">no GPU pods</span>}</td>
          <td className="num" data-testid={l ? `running-${l.resource}` : undefined}>
            {l?.running ?? ''}
          </td>
          <td className="num">{l?.pending ? <span className="full">{l.pending}</span> : l ? 0 : ''}</td>
          <td className="mono small">{l?.quota ? `${l.quota.name}: ${l.quota.key}` : ''}</td>
          <td>{l && <UsageCell l={l} />}</td>
          {i === 0 && (
            <td rowSpan={lines.length}>
              <button disabled={!row.canEdit.allowed} title={row.canEdit.reason} onClick={() => edit(row)}>
                {row.quotas.length ? 'Edit quota' : 'Add quota'}
              </button>
              {!row.canEdit.allowed && (
                <div className="muted small" data-testid="quota-permission">
                  {row.canEdit.reason}
                </div>
              )}
            </td>
          )}
        </tr>
      ))}
      {(row.refusals.length > 0 || row.pendingPods.length > 0) && (
        <tr>
          <td />
          <td colSpan={6}>
            {row.refusals.map((r) => (
              <div key={r.owner} className="warning small" data-testid="quota-refusal">
                <b>{r.owner}</b> could not create pods ({r.count}×{r.lastSeen ? `, last ${new Date(r.lastSeen).toLocaleString()}` : ''}): {r.message}
                {r.lastSeen && row.quotas.some((q) => q.specChangedAt && q.specChangedAt > r.lastSeen!) && <span className="muted"> (before the quota was last changed; it may have room now)</span>}
              </div>
            ))}
            {row.pendingPods.map((p) => (
              <div key={p.name} className="muted small">
                Pending {p.name}: {p.reason}
              </div>
            ))}
          </td>
        </tr>
      )}
    </>
  );
}

/** Devices in use per team (namespaces labelled tessera.dev/team), summed over its namespaces. */
function TeamTotals({ rows }: { rows: NamespaceQuota[] }) {
  const teams = new Map<string, Map<string, number>>();
  for (const r of rows) {
    if (!r.team) continue;
    const t = teams.get(r.team) ?? new Map<string, number>();
    for (const l of r.lines) if (l.running) t.set(l.resource, (t.get(l.resource) ?? 0) + l.running);
    teams.set(r.team, t);
  }
  if (teams.size === 0) return null;
  return (
    <div className="totals small" data-testid="quota-teams">
      {[...teams].map(([team, res]) => (
        <span key={team}>
          <b>team {team}</b>: {[...res].map(([r, n]) => `${n} ${resourceLabel(r)}`).join(', ') || 'no GPUs'}
        </span>
      ))}
    </div>
  );
}

function QuotaEditor() {
  const { draft, draftError, saving, setValue, cancel, review, save } = useQuotas();
  if (!draft) return null;
  const plan = draftChanges(draft);
  return (
    <div className="panel" role="form" aria-label="edit quota">
      <h3>
        {draft.resourceVersion ? 'Edit' : 'Create'} ResourceQuota {draft.namespace}/{draft.name}
      </h3>
      <p className="muted small">Whole devices. Leave a field empty to remove that key. Only GPU keys are changed; the quota's other limits stay as they are.</p>
      <div className="filters">
        {Object.keys(draft.values).map((k) => (
          <label key={k} className="small">
            <span className="mono">{k}</span>{' '}
            <input className="filter short" aria-label={k} value={draft.values[k]} inputMode="numeric" onChange={(e) => setValue(k, e.target.value)} />
          </label>
        ))}
      </div>
      {draftError && (
        <div className="error" role="alert" data-testid="quota-error">
          {draftError}
        </div>
      )}
      {draft.confirming && 'changes' in plan ? (
        <div className="confirm" data-testid="quota-confirm">
          <b>Apply this change{draft.resourceVersion ? ` (resourceVersion ${draft.resourceVersion})` : ''}?</b>
          <table className="table small">
            <thead>
              <tr>
                <th>Key</th>
                <th className="num">Before</th>
                <th className="num">After</th>
              </tr>
            </thead>
            <tbody>
              {plan.changes.map((c) => (
                <tr key={c.resource}>
                  <td className="mono">{c.resource}</td>
                  <td className="num">{draft.before[c.resource] ?? '—'}</td>
                  <td className="num">{c.value ?? 'removed'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button onClick={() => void save()} disabled={saving}>
            {saving ? 'Applying…' : 'Apply'}
          </button>{' '}
          <button onClick={cancel}>Cancel</button>
        </div>
      ) : (
        <div>
          <button onClick={review}>Review change</button> <button onClick={cancel}>Cancel</button>
        </div>
      )}
    </div>
  );
}

export function QuotasPage() {
  const { clusterId, list, loading, error, saved, load } = useQuotas();
  const pick = useCallback((id: string) => void load(id), [load]);
  useEffect(() => {
    if (clusterId) void load(clusterId);
  }, [clusterId, load]);
  return (
    <section className="page">
      <div className="page-head">
        <h2>Team GPU quotas</h2>
        <ClusterSelect value={clusterId} onChange={pick} />
        <button onClick={() => clusterId && void load(clusterId)} disabled={!clusterId || loading}>
          {loading ? 'Loading…' : 'Reload'}
        </button>
      </div>
      <p className="muted small">
        Per namespace: GPU and MIG devices requested by Running and Pending pods, against the namespace's ResourceQuotas (status.used of spec.hard). Pods a quota refused never exist; their owners' FailedCreate events are shown instead.
      </p>
      {list?.notes.map((n) => (
        <div className="info small" key={n}>
          {n}
        </div>
      ))}
      {saved && (
        <div className="info" role="status">
          Saved ResourceQuota {saved.namespace}/{saved.name} (resourceVersion {saved.resourceVersion}); recorded in the audit trail.
        </div>
      )}
      {error && <div className="error">{error.message}</div>}
      <QuotaEditor />
      {list && <TeamTotals rows={list.namespaces} />}
      {list && list.namespaces.length === 0 && <p className="empty">No namespace has GPU pods or a GPU quota.</p>}
      {list && list.namespaces.length > 0 && (
        <table className="table" data-testid="quota-table">
          <thead>
            <tr>
              <th>Namespace</th>
              <th>Device</th>
              <th className="num">Running</th>
              <th className="num">Pending</th>
              <th>Quota key</th>
              <th>Quota used / hard</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.namespaces.map((r) => (
              <NamespaceRows key={r.namespace} row={r} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
