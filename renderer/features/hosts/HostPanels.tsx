import { useRef, useState } from 'react';
import { useClusters } from '../../stores/clusters.ts';
import { useHosts } from '../../stores/hosts.ts';

/** OpenSSH config by content (pasted or picked): the renderer never hands core a path to read. */
export function ImportConfigPanel({ onDone }: { onDone: () => void }) {
  const importConfig = useHosts((s) => s.importConfig);
  const [text, setText] = useState('');
  const [group, setGroup] = useState('');
  const file = useRef<HTMLInputElement>(null);
  return (
    <div className="panel" aria-label="import ssh config">
      <h3>Import from an OpenSSH config</h3>
      <p className="muted small">Host, HostName, Port, User, IdentityFile, ProxyJump and Include are read; patterns with * or ? are skipped.</p>
      <textarea className="filter full" rows={8} value={text} onChange={(e) => setText(e.target.value)} placeholder={'Host gpu01\n  HostName 10.0.0.11\n  User ops'} aria-label="ssh config text" />
      <div className="import">
        <label className="button">
          Choose file…
          <input ref={file} type="file" hidden onChange={(e) => void e.target.files?.[0]?.text().then(setText)} />
        </label>
        <input className="filter short" placeholder="group (optional)" value={group} onChange={(e) => setGroup(e.target.value)} aria-label="import group" />
        <button
          disabled={!text.trim()}
          onClick={() =>
            void importConfig(text, group.trim() || undefined).then(() => {
              setText('');
              onDone();
            })
          }
        >
          Import
        </button>
        <button onClick={onDone}>Close</button>
      </div>
    </div>
  );
}

export function ImportNodesPanel({ onDone }: { onDone: () => void }) {
  const importNodes = useHosts((s) => s.importNodes);
  const clusters = useClusters((s) => s.clusters);
  const connected = clusters.filter((c) => c.state === 'connected' || c.state === 'reconnecting');
  const [cluster, setCluster] = useState('');
  const [user, setUser] = useState('');
  const [key, setKey] = useState('');
  const [group, setGroup] = useState('');
  const chosen = cluster || connected[0]?.id || '';
  return (
    <div className="panel" aria-label="import nodes">
      <h3>Import the nodes of a cluster</h3>
      {connected.length === 0 ? (
        <p className="muted">Connect a cluster first (Clusters page).</p>
      ) : (
        <div className="import">
          <select value={chosen} onChange={(e) => setCluster(e.target.value)} aria-label="cluster">
            {connected.map((c) => (
              <option key={c.id} value={c.id}>
                {c.context}
              </option>
            ))}
          </select>
          <input className="filter short" placeholder="SSH user" value={user} onChange={(e) => setUser(e.target.value)} aria-label="node user" />
          <input className="filter" placeholder="identity file (optional)" value={key} onChange={(e) => setKey(e.target.value)} aria-label="node identity file" />
          <input className="filter short" placeholder="group (default: context)" value={group} onChange={(e) => setGroup(e.target.value)} aria-label="node group" />
          <button disabled={!user.trim()} onClick={() => void importNodes(chosen, user.trim(), key.trim() || undefined, group.trim() || undefined).then(onDone)}>
            Import nodes
          </button>
        </div>
      )}
      <button onClick={onDone}>Close</button>
    </div>
  );
}

/** One named operation across the selected hosts, confirmed first, with each host's result. */
export function ExecPanel() {
  const { operations, selected, exec, hosts, runOperation, cancelRun } = useHosts();
  const [op, setOp] = useState('');
  const [args, setArgs] = useState<Record<string, string>>({});
  const [sudo, setSudo] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const spec = operations.find((o) => o.name === op) ?? operations[0];
  const names = selected.map((id) => hosts.find((h) => h.id === id)?.name ?? id);
  const go = () => {
    if (!spec) return;
    setConfirming(false);
    void runOperation(
      spec.name,
      spec.params.filter((p) => (args[p.name] ?? '') !== '').map((p) => ({ name: p.name, value: args[p.name]! })),
      sudo && spec.sudo,
    );
  };
  return (
    <div className="panel" aria-label="run operation">
      <h3>Run an operation</h3>
      <div className="import">
        <select value={spec?.name ?? ''} onChange={(e) => setOp(e.target.value)} aria-label="operation">
          {operations.map((o) => (
            <option key={o.name} value={o.name}>
              {o.name}: {o.description}
            </option>
          ))}
        </select>
        {spec?.params.map((p) => (
          <input key={p.name} className="filter short" placeholder={`${p.name}${p.optional ? ' (optional)' : ''}`} title={p.description} value={args[p.name] ?? ''} onChange={(e) => setArgs({ ...args, [p.name]: e.target.value })} aria-label={`argument ${p.name}`} />
        ))}
        {spec?.sudo && (
          <label className="toggle">
            <input type="checkbox" checked={sudo} onChange={(e) => setSudo(e.target.checked)} /> with sudo
          </label>
        )}
        <button disabled={selected.length === 0 || exec.running} onClick={() => setConfirming(true)}>
          {exec.running ? `Running… ${Object.keys(exec.done).length}/${selected.length}` : `Run on ${selected.length} selected`}
        </button>
        {exec.running && <button onClick={() => void cancelRun()}>Stop</button>}
      </div>
      {confirming && (
        <div className="confirm" role="alertdialog" aria-label="confirm run">
          Run <b className="mono">{spec?.name}</b>
          {sudo ? ' with sudo' : ''} on {names.join(', ')}?{' '}
          <button onClick={go}>Run</button> <button onClick={() => setConfirming(false)}>Cancel</button>
        </div>
      )}
      {exec.error && <div className="error">{exec.error.message}</div>}
      {exec.run && (
        <table className="table" data-testid="exec-results">
          <thead>
            <tr>
              <th>Host</th>
              <th>Result</th>
              <th className="num">ms</th>
              <th>Output</th>
            </tr>
          </thead>
          <tbody>
            {exec.run.results.map((r) => (
              <tr key={r.hostId} data-testid="exec-row">
                <td>{r.name}</td>
                <td className={r.ok ? '' : 'bad-text'}>{r.ok ? `exit ${r.exitCode}` : `${r.error?.code}: ${r.error?.message}`}</td>
                <td className="num">{r.durationMs}</td>
                <td>
                  <pre className="json small">{(r.stdout || r.stderr).slice(0, 4000)}</pre>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
