import { useEffect, useState } from 'react';
import type { Issue } from '../../../shared/contract/schema.ts';
import type { Settings } from '../../../shared/model/settings.ts';
import { useSettings, type SettingsPatch } from '../../stores/settings.ts';

/** The form keeps what the person typed as text; numbers are parsed only on save, and core has the last word. */
interface Draft {
  utilizationPercent: string;
  minutes: string;
  intervalSeconds: string;
  defaultMaxParallel: string;
  currency: string;
  prometheusUrl: string;
  mirrorEvents: boolean;
  gzip: boolean;
  prices: { model: string; profile: string; price: string }[];
}

function draftOf(s: Settings): Draft {
  return {
    utilizationPercent: String(s.idle.utilizationPercent),
    minutes: String(s.idle.minutes),
    intervalSeconds: String(s.metrics.intervalSeconds),
    defaultMaxParallel: String(s.mig.defaultMaxParallel),
    currency: s.showback.currency,
    prometheusUrl: s.showback.prometheusUrl ?? '',
    mirrorEvents: s.audit.mirrorEvents,
    gzip: s.connection.gzip,
    prices: s.showback.prices.map((p) => ({ model: p.model, profile: p.profile ?? '', price: String(p.price) })),
  };
}

/** Text that is not a number is sent as text so core names the field in its refusal. */
const num = (v: string): number => (v.trim() === '' || Number.isNaN(Number(v)) ? (v as unknown as number) : Number(v));

function patchOf(d: Draft): SettingsPatch {
  return {
    idle: { utilizationPercent: num(d.utilizationPercent), minutes: num(d.minutes) },
    metrics: { intervalSeconds: num(d.intervalSeconds) },
    mig: { defaultMaxParallel: num(d.defaultMaxParallel) },
    audit: { mirrorEvents: d.mirrorEvents },
    connection: { gzip: d.gzip },
    showback: {
      currency: d.currency.trim(),
      prometheusUrl: d.prometheusUrl.trim(),
      prices: d.prices.map((p) => ({ model: p.model.trim(), ...(p.profile.trim() ? { profile: p.profile.trim() } : {}), price: num(p.price) })),
    },
  };
}

const FIELDS: [keyof Omit<Draft, 'prices' | 'currency' | 'prometheusUrl' | 'mirrorEvents' | 'gzip'>, string, string, string][] = [
  ['utilizationPercent', 'idle.utilizationPercent', 'Idle below utilization (%)', 'A GPU under this utilization counts as idle.'],
  ['minutes', 'idle.minutes', 'Idle for (minutes)', 'How long it must stay under the threshold.'],
  ['intervalSeconds', 'metrics.intervalSeconds', 'Metrics interval (seconds)', 'How often dcgm-exporter is scraped.'],
  ['defaultMaxParallel', 'mig.defaultMaxParallel', 'MIG applies in parallel (default)', 'Nodes changed at once when applying a MIG layout.'],
];

export function SettingsPage() {
  const { settings, notice, loading, saving, error, savedAt, load, save } = useSettings();
  const [draft, setDraft] = useState<Draft | null>(null);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    if (settings) setDraft(draftOf(settings));
  }, [settings]);

  const issues = (error?.details?.issues as Issue[] | undefined) ?? [];
  const problemAt = (path: string) => issues.find((i) => i.path === `patch.${path}` || i.path === path)?.message;
  const setPrice = (i: number, patch: Partial<Draft['prices'][number]>) => draft && setDraft({ ...draft, prices: draft.prices.map((p, j) => (j === i ? { ...p, ...patch } : p)) });

  return (
    <section className="page">
      <div className="page-head">
        <h2>Settings</h2>
      </div>
      <p className="muted small">Kept in settings.json in Tessera's data folder, written atomically with a backup. Passwords, passphrases and tokens are never kept here: the desktop app keeps those in the OS keychain.</p>
      {notice && (
        <div className="warning" role="alert" data-testid="settings-notice">
          {notice}
        </div>
      )}
      {loading && !draft && <div className="muted">Loading…</div>}
      {draft && (
        <form
          className="panel host-form"
          aria-label="settings"
          onSubmit={(e) => {
            e.preventDefault();
            void save(patchOf(draft));
          }}
        >
          <h3>GPU idle, metrics and MIG</h3>
          <div className="form-grid">
            {FIELDS.map(([key, path, label, hint]) => (
              <label key={key}>
                <span className="muted small">{label}</span>
                <input className="filter" name={key} inputMode="decimal" value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} aria-invalid={problemAt(path) ? true : undefined} title={hint} />
                {problemAt(path) && (
                  <span className="bad-text small" data-testid={`problem-${key}`}>
                    {problemAt(path)}
                  </span>
                )}
              </label>
            ))}
          </div>
          <h3>Cluster connections</h3>
          <label className="toggle">
            <input type="checkbox" name="gzip" checked={draft.gzip} onChange={(e) => setDraft({ ...draft, gzip: e.target.checked })} /> Ask API servers to compress large answers (gzip)
          </label>
          <p className="muted small">For clusters behind a slow link, such as an edge site's uplink: lists of thousands of nodes or pods travel in a fraction of the bytes. Off by default, since on a LAN it costs the API server more CPU than it saves. Applies at once; a cluster whose kubeconfig says disable-compression: true is never asked.</p>
          <h3>Audit trail</h3>
          <label className="toggle">
            <input type="checkbox" name="mirrorEvents" checked={draft.mirrorEvents} onChange={(e) => setDraft({ ...draft, mirrorEvents: e.target.checked })} /> Also record each change as a Kubernetes Event on the object changed
          </label>
          <p className="muted small">Best effort: reason TesseraChange, with who did it and the outcome, visible in kubectl describe. Needs permission to create events; a failure is a warning and never blocks the change.</p>
          <h3>Showback prices</h3>
          <p className="muted small">Price per GPU-hour by GPU model (as GPU Feature Discovery names it, or * for any), and per slice-hour for a MIG profile.</p>
          <label>
            <span className="muted small">Currency </span>
            <input className="filter short" name="currency" value={draft.currency} onChange={(e) => setDraft({ ...draft, currency: e.target.value })} aria-invalid={problemAt('showback.currency') ? true : undefined} />
          </label>
          <label>
            <span className="muted small">Prometheus URL for showback (empty: Tessera's own, partial observations) </span>
            <input className="filter" name="prometheusUrl" placeholder="http://prometheus.monitoring:9090" value={draft.prometheusUrl} onChange={(e) => setDraft({ ...draft, prometheusUrl: e.target.value })} aria-invalid={problemAt('showback.prometheusUrl') ? true : undefined} />
          </label>
          <table className="table" aria-label="prices">
            <thead>
              <tr>
                <th>GPU model</th>
                <th>MIG profile</th>
                <th className="num">Price / hour</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {draft.prices.map((p, i) => (
                <tr key={i} data-testid="price-row">
                  <td>
                    <input className="filter" aria-label={`model ${i + 1}`} value={p.model} placeholder="NVIDIA-H100-80GB-HBM3" onChange={(e) => setPrice(i, { model: e.target.value })} />
                  </td>
                  <td>
                    <input className="filter short" aria-label={`profile ${i + 1}`} value={p.profile} placeholder="whole GPU" onChange={(e) => setPrice(i, { profile: e.target.value })} />
                  </td>
                  <td className="num">
                    <input className="filter short" aria-label={`price ${i + 1}`} inputMode="decimal" value={p.price} onChange={(e) => setPrice(i, { price: e.target.value })} />
                  </td>
                  <td>
                    <button type="button" onClick={() => setDraft({ ...draft, prices: draft.prices.filter((_, j) => j !== i) })}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="import">
            <button type="button" onClick={() => setDraft({ ...draft, prices: [...draft.prices, { model: '', profile: '', price: '' }] })}>
              Add price
            </button>
          </div>
          {error && (
            <div className="error" role="alert" data-testid="settings-error">
              {error.message}
            </div>
          )}
          {savedAt && !error && (
            <div className="info" role="status">
              Saved.
            </div>
          )}
          <div className="import">
            <button type="submit" disabled={saving}>
              {saving ? 'Saving…' : 'Save settings'}
            </button>
            <button type="button" disabled={saving || !settings} onClick={() => settings && setDraft(draftOf(settings))}>
              Discard changes
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
