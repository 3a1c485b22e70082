import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { PodShell } from '../../../shared/contract/terminals.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { clusterSelectors, useClusters } from '../../stores/clusters.ts';
import { useHosts } from '../../stores/hosts.ts';
import { terminalSelectors, useTerminals, type TerminalTab } from '../../stores/terminals.ts';
import { XtermView, xtermHandle } from './XtermView.tsx';

const STATE_TONE: Record<TerminalTab['state'], Tone> = { opening: 'info', open: 'ok', exited: 'idle', failed: 'bad' };

function SshOpener() {
  const hosts = useHosts((s) => s.hosts);
  const open = useTerminals((s) => s.open);
  const [hostId, setHostId] = useState('');
  const [address, setAddress] = useState('');
  const [port, setPort] = useState('22');
  const [user, setUser] = useState('');
  useEffect(() => void useHosts.getState().load(), []);
  const portNum = Number(port);
  const byAddress = address.trim() !== '' && user.trim() !== '' && Number.isInteger(portNum) && portNum > 0 && portNum < 65536;
  return (
    <div className="term-open-row">
      <label>
        Saved host{' '}
        <select value={hostId} onChange={(e) => setHostId(e.target.value)} aria-label="saved SSH host">
          <option value="">{hosts.length ? 'choose…' : 'none saved'}</option>
          {hosts.map((h) => (
            <option key={h.id} value={h.id}>
              {h.name} ({h.user}@{h.address}:{h.port})
            </option>
          ))}
        </select>
      </label>
      <button disabled={!hostId} onClick={() => void open({ kind: 'ssh', hostId, label: hosts.find((h) => h.id === hostId)?.name ?? hostId })}>
        Open
      </button>
      <span className="muted small">or by address</span>
      <input aria-label="SSH address" placeholder="address" value={address} onChange={(e) => setAddress(e.target.value)} size={16} />
      <input aria-label="SSH port" placeholder="port" value={port} onChange={(e) => setPort(e.target.value)} size={5} />
      <input aria-label="SSH user" placeholder="user" value={user} onChange={(e) => setUser(e.target.value)} size={10} />
      <button disabled={!byAddress} onClick={() => void open({ kind: 'ssh', target: { address: address.trim(), port: portNum, user: user.trim() }, label: address.trim() })}>
        Open SSH terminal
      </button>
    </div>
  );
}

function PodOpener() {
  const connected = useClusters(useShallow((s) => clusterSelectors.connected(s)));
  const picker = useTerminals((s) => s.picker);
  const namespaces = useTerminals(useShallow(terminalSelectors.namespaces));
  const { open, loadPods, checkExec } = useTerminals.getState();
  const [clusterId, setClusterId] = useState('');
  const [namespace, setNamespace] = useState('');
  const [pod, setPod] = useState('');
  const [container, setContainer] = useState('');
  const [shell, setShell] = useState<PodShell>('auto');
  const pods = (picker?.pods ?? []).filter((p) => p.namespace === namespace);
  const chosen = pods.find((p) => p.name === pod);
  const access = picker?.access?.namespace === namespace ? picker.access : undefined;

  useEffect(() => {
    if (clusterId) void loadPods(clusterId);
    setNamespace('');
  }, [clusterId]);
  useEffect(() => {
    setPod('');
    if (clusterId && namespace) void checkExec(clusterId, namespace);
  }, [clusterId, namespace]);
  useEffect(() => setContainer(chosen?.containers[0] ?? ''), [pod]);

  return (
    <div className="term-open-row">
      <select value={clusterId} onChange={(e) => setClusterId(e.target.value)} aria-label="cluster">
        <option value="">{connected.length ? 'cluster…' : 'no connected cluster'}</option>
        {connected.map((c) => (
          <option key={c.id} value={c.id}>
            {c.context}
          </option>
        ))}
      </select>
      <select value={namespace} onChange={(e) => setNamespace(e.target.value)} aria-label="namespace" disabled={!picker || picker.loading}>
        <option value="">{picker?.loading ? 'loading…' : 'namespace…'}</option>
        {namespaces.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <select value={pod} onChange={(e) => setPod(e.target.value)} aria-label="pod" disabled={!namespace}>
        <option value="">pod…</option>
        {pods.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}
            {p.node ? ` (${p.node})` : ''}
          </option>
        ))}
      </select>
      <select value={container} onChange={(e) => setContainer(e.target.value)} aria-label="container" disabled={!chosen}>
        {(chosen?.containers ?? []).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      <select value={shell} onChange={(e) => setShell(e.target.value as PodShell)} aria-label="shell">
        <option value="auto">bash, else sh</option>
        <option value="bash">/bin/bash</option>
        <option value="sh">/bin/sh</option>
      </select>
      <button
        disabled={!chosen || !container || !access?.allowed}
        title={access && !access.allowed ? access.reason : undefined}
        onClick={() => void open({ kind: 'pod', clusterId, namespace, pod, container, shell, label: `${namespace}/${pod}` })}
      >
        Open pod shell
      </button>
      {access && !access.allowed && <span className="small bad-text">missing permission: {access.reason}</span>}
      {picker?.error && <span className="small bad-text">{picker.error.message}</span>}
    </div>
  );
}

function Toolbar({ tab }: { tab: TerminalTab }) {
  const { close, reconnect } = useTerminals.getState();
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<boolean | null>(null);
  const [note, setNote] = useState('');
  const h = () => xtermHandle(tab.key);
  const find = (backwards: boolean) => setFound(query ? (h()?.find(query, backwards) ?? false) : null);
  return (
    <div className="term-toolbar">
      <span className="mono term-banner" data-testid="terminal-banner" title={tab.banner}>
        {tab.banner}
      </span>
      {tab.exit && <span className="small muted">{tab.exit.code !== null ? `exit ${tab.exit.code}: ` : ''}{tab.exit.reason}</span>}
      {tab.state === 'failed' && tab.error && <span className="small bad-text">{tab.error.message}</span>}
      <input
        aria-label="search scrollback"
        placeholder="search scrollback"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setFound(null);
          if (!e.target.value) h()?.clearSearch();
        }}
        onKeyDown={(e) => e.key === 'Enter' && find(e.shiftKey)}
        size={18}
      />
      <button onClick={() => find(true)} aria-label="previous match">
        ↑
      </button>
      <button onClick={() => find(false)} aria-label="next match">
        ↓
      </button>
      {found === false && <span className="small muted">no match</span>}
      <button onClick={() => void h()?.copy().then((ok) => setNote(ok ? 'copied' : 'select text first'), () => setNote('clipboard refused'))} title="Ctrl+Shift+C">
        Copy
      </button>
      <button onClick={() => void h()?.paste().catch(() => setNote('clipboard refused'))} title="Ctrl+Shift+V" disabled={tab.state !== 'open'}>
        Paste
      </button>
      {note && <span className="small muted">{note}</span>}
      {(tab.state === 'exited' || tab.state === 'failed') && <button onClick={() => void reconnect(tab.key)}>Reconnect</button>}
      <button onClick={() => void close(tab.key)}>{tab.state === 'open' ? 'Close session' : 'Close tab'}</button>
    </div>
  );
}

export function TerminalsPage() {
  const tabs = useTerminals((s) => s.tabs);
  const active = useTerminals((s) => s.active);
  const activeTab = useTerminals(terminalSelectors.activeTab);
  const { select, close } = useTerminals.getState();
  const [mode, setMode] = useState<'ssh' | 'pod'>('ssh');

  useEffect(() => {
    if (active) xtermHandle(active)?.focus();
  }, [active]);

  return (
    <section className="page terminals">
      <div className="page-head">
        <h2>Terminals</h2>
        <div className="segmented" role="group" aria-label="open a terminal on">
          <button className={mode === 'ssh' ? 'active' : ''} onClick={() => setMode('ssh')}>
            SSH host
          </button>
          <button className={mode === 'pod' ? 'active' : ''} onClick={() => setMode('pod')}>
            Pod
          </button>
        </div>
      </div>
      <div className="panel">{mode === 'ssh' ? <SshOpener /> : <PodOpener />}</div>
      {tabs.length > 0 && (
        <div className="term-tabs" role="tablist">
          {tabs.map((t) => (
            <span key={t.key} className={`term-tab ${t.key === active ? 'active' : ''}`}>
              <button role="tab" aria-selected={t.key === active} onClick={() => select(t.key)} title={t.banner}>
                {t.spec.kind === 'pod' ? 'pod ' : 'ssh '}
                {t.title}
                <Badge tone={STATE_TONE[t.state]}>{t.state}</Badge>
              </button>
              <button className="term-tab-close" aria-label={`close ${t.title}`} onClick={() => void close(t.key)}>
                ×
              </button>
            </span>
          ))}
        </div>
      )}
      {activeTab && <Toolbar tab={activeTab} />}
      <div className="term-stack">
        {tabs.length === 0 && <p className="muted">No terminal open. Choose an SSH host or a pod above.</p>}
        {tabs.map((t) => (
          <div key={t.key} className={`term-pane ${t.key === active ? 'active' : ''}`} data-testid="terminal-pane" data-state={t.state}>
            <XtermView tabKey={t.key} />
          </div>
        ))}
      </div>
    </section>
  );
}
