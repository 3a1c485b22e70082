import { useEffect, useState } from 'react';
import type { SshHost } from '../../../shared/model/host.ts';
import { Badge } from '../../components/Badge.tsx';
import { hostSelectors, useHosts, type TestState } from '../../stores/hosts.ts';
import { useTerminals } from '../../stores/terminals.ts';
import { useUi } from '../../stores/ui.ts';
import { downloadBytes } from '../../components/download.ts';
import { HostForm } from './HostForm.tsx';
import { MismatchNotice, TrustDialog } from './HostDialogs.tsx';
import { ExecPanel, ImportConfigPanel, ImportNodesPanel } from './HostPanels.tsx';
import { HostGpusPanel } from './HostGpus.tsx';

function TestCell({ t }: { t: TestState | undefined }) {
  if (!t) return <span className="muted">not tested</span>;
  if (t.running) return <Badge tone="info">testing…</Badge>;
  const r = t.result;
  if (r.ok)
    return (
      <span title={r.uname} data-testid="test-ok">
        <Badge tone="ok">ok</Badge> <span className="small muted">{r.authMethod}, {r.latencyMs} ms</span>
      </span>
    );
  if (r.unknownKey) return <Badge tone="warn">key not trusted</Badge>;
  return (
    <span title={r.error.message}>
      <Badge tone="bad">{r.error.code}</Badge>
    </span>
  );
}

function HostRow({ h, onEdit }: { h: SshHost; onEdit: (h: SshHost) => void }) {
  const { selected, tests, toggle, test, remove, bundle, bundling, readGpus } = useHosts();
  const gpusOpen = useHosts((s) => h.id in s.gpus);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const t = tests[h.id];
  const failure = t && !t.running && !t.result.ok ? t.result : null;
  return (
    <>
      <tr data-testid="host-row" data-host={h.id}>
        <td>
          <input type="checkbox" checked={selected.includes(h.id)} onChange={() => toggle(h.id)} aria-label={`select ${h.name}`} />
        </td>
        <td>{h.name}</td>
        <td className="mono small">
          {h.user}@{h.address.includes(':') ? `[${h.address}]` : h.address}:{h.port}
        </td>
        <td className="small">{h.proxyJump.length ? h.proxyJump.join(' → ') : <span className="muted">direct</span>}</td>
        <td className="small">{h.nodePool ?? ''}</td>
        <td className="small muted">{h.source.kind === 'kubernetes' ? `node of ${h.source.cluster}` : h.source.kind}</td>
        <td>
          <TestCell t={t} />
        </td>
        <td className="import">
          <button onClick={() => void test(h.id)} disabled={t?.running}>
            Test
          </button>
          <button
            onClick={() => {
              void useTerminals.getState().open({ kind: 'ssh', hostId: h.id, label: h.name });
              useUi.getState().go('terminals');
            }}
          >
            Open terminal
          </button>
          <button onClick={() => void readGpus(h.id)} disabled={gpusOpen} title="nvidia-smi on this host now: load, temperature, power, memory, MIG and processes">
            GPUs
          </button>
          <button onClick={() => onEdit(h)}>Edit</button>
          <button
            disabled={bundling !== null}
            onClick={() => void bundle(h.id).then((b) => b && downloadBytes(b.filename, b.base64, 'application/gzip'))}
            title="nvidia-smi, MIG, driver, kernel and GPU kernel messages in one .tar.gz"
          >
            {bundling === h.id ? 'Gathering…' : 'Support bundle'}
          </button>
          {confirmRemove ? (
            <>
              <button onClick={() => void remove(h.id)}>Confirm remove</button>
              <button onClick={() => setConfirmRemove(false)}>Keep</button>
            </>
          ) : (
            <button onClick={() => setConfirmRemove(true)}>Remove</button>
          )}
        </td>
      </tr>
      {gpusOpen && (
        <tr>
          <td colSpan={8}>
            <HostGpusPanel hostId={h.id} />
          </td>
        </tr>
      )}
      {failure && !failure.unknownKey && (
        <tr>
          <td colSpan={8}>{failure.mismatch ? <MismatchNotice m={failure.mismatch} /> : <div className="error">{failure.error.message}</div>}</td>
        </tr>
      )}
    </>
  );
}

export function HostsPage() {
  const { hosts, notice, error, lastImport, selected, selectAll, clearError, load } = useHosts();
  const [panel, setPanel] = useState<'none' | 'add' | 'config' | 'nodes'>('none');
  const [editing, setEditing] = useState<SshHost | null>(null);
  useEffect(() => void load(), [load]);
  const groups = hostSelectors.grouped(hosts);

  return (
    <section className="page">
      <div className="page-head">
        <h2>SSH hosts</h2>
        <div className="import">
          <button onClick={() => setPanel('add')}>Add host</button>
          <button onClick={() => setPanel('config')}>Import ssh config</button>
          <button onClick={() => setPanel('nodes')}>Import cluster nodes</button>
        </div>
      </div>
      <p className="muted small">GPU servers, edge boxes and cluster nodes reached over SSH. Host keys are checked against your known_hosts and Tessera's own store; a changed key is refused.</p>
      {notice && <div className="warning">{notice}</div>}
      {error && (
        <div className="error" role="alert">
          {error.message} <button onClick={clearError}>Dismiss</button>
        </div>
      )}
      <TrustDialog />
      {panel === 'add' && <HostForm onDone={() => setPanel('none')} />}
      {editing && <HostForm key={editing.id} host={editing} onDone={() => setEditing(null)} />}
      {panel === 'config' && <ImportConfigPanel onDone={() => setPanel('none')} />}
      {panel === 'nodes' && <ImportNodesPanel onDone={() => setPanel('none')} />}
      {lastImport && (
        <div className="info" data-testid="import-result">
          Imported: {lastImport.added.length} added, {lastImport.updated.length} updated, {lastImport.skipped.length} skipped
          {lastImport.skipped.length > 0 && <span className="muted small"> ({lastImport.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})</span>}
        </div>
      )}
      {hosts.length === 0 ? (
        <p className="empty">No hosts yet. Add one by hand, or import them from an OpenSSH config or a connected cluster.</p>
      ) : (
        <table className="table" aria-label="hosts">
          <thead>
            <tr>
              <th>
                <input type="checkbox" aria-label="select all" checked={selected.length === hosts.length} onChange={(e) => selectAll(e.target.checked ? hosts.map((h) => h.id) : [])} />
              </th>
              <th>Name</th>
              <th>Target</th>
              <th>Via</th>
              <th>Pool</th>
              <th>Source</th>
              <th>Connection</th>
              <th />
            </tr>
          </thead>
          {groups.map(([group, list]) => (
            <tbody key={group || '(none)'}>
              <tr>
                <th colSpan={8} className="small">
                  {group || '(no group)'} <span className="muted">· {list.length}</span>
                </th>
              </tr>
              {list.map((h) => (
                <HostRow key={h.id} h={h} onEdit={setEditing} />
              ))}
            </tbody>
          ))}
        </table>
      )}
      <ExecPanel />
    </section>
  );
}
