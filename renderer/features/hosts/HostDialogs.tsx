import { useState } from 'react';
import type { HostMismatchInfo, SecretPromptEvent } from '../../../shared/model/host.ts';
import { useHosts } from '../../stores/hosts.ts';

/** First contact: the key type and fingerprint, and an explicit decision. */
export function TrustDialog() {
  const pending = useHosts((s) => s.pendingTrust);
  const hosts = useHosts((s) => s.hosts);
  const decide = useHosts((s) => s.decideTrust);
  if (!pending) return null;
  const name = hosts.find((h) => h.id === pending.hostId)?.name ?? pending.hostId;
  const k = pending.key;
  return (
    <div className="confirm panel" role="alertdialog" aria-label="confirm host key">
      <h3>Unknown host key</h3>
      <p>
        Tessera has never seen the key of <b className="mono">{k.host.includes(':') ? `[${k.host}]` : k.host}:{k.port}</b>
        {` (connecting to ${name})`}. Compare it with the host's own fingerprint (<span className="mono">ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</span> on the host) before trusting it.
      </p>
      <dl className="facts">
        <dt>Key type</dt>
        <dd className="mono">{k.keyType}</dd>
        <dt>Fingerprint</dt>
        <dd className="mono" data-testid="trust-fingerprint">
          {k.sha256Fingerprint}
        </dd>
      </dl>
      <div className="import">
        <button onClick={() => void decide(true)}>Trust this key</button>
        <button onClick={() => void decide(false)}>Reject</button>
      </div>
    </div>
  );
}

/** A changed key: a refusal with both fingerprints; nothing here can override it. */
export function MismatchNotice({ m }: { m: HostMismatchInfo }) {
  return (
    <div className="error" role="alert" data-testid="hostkey-mismatch">
      <b>Refused: the host key of {m.host}:{m.port} has changed.</b>
      <div className="mono small">Expected: {m.expected.map((e) => `${e.sha256Fingerprint} (${e.type}, ${e.source})`).join(', ') || 'unknown'}</div>
      <div className="mono small">
        Presented: {m.sha256Fingerprint} ({m.keyType})
      </div>
      <div className="small">Someone could be intercepting the connection, or the host was reinstalled. If it was reinstalled, remove its old key from your known_hosts files on this machine, then test again.</div>
    </div>
  );
}

function PromptForm({ p }: { p: SecretPromptEvent }) {
  const answer = useHosts((s) => s.answer);
  const [secret, setSecret] = useState('');
  const [remember, setRemember] = useState(false);
  return (
    <form
      className="confirm panel"
      role="dialog"
      aria-label="secret prompt"
      onSubmit={(e) => {
        e.preventDefault();
        void answer(p.id, secret, remember);
        setSecret('');
      }}
    >
      <div>{p.message}</div>
      <input className="filter" type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} aria-label="secret" autoFocus />
      <label className="toggle" title={p.rememberNote}>
        <input type="checkbox" checked={remember} disabled={!p.canRemember} onChange={(e) => setRemember(e.target.checked)} /> Remember in the OS keychain
        {!p.canRemember && <span className="muted small"> — {p.rememberNote ?? 'not remembered on this host'}</span>}
      </label>
      <div className="import">
        <button type="submit">OK</button>
        <button type="button" onClick={() => void answer(p.id, undefined, false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Passphrase, password and sudo prompts from core; the text never leaves this form except as the answer. */
export function SecretPrompts() {
  const prompts = useHosts((s) => s.prompts);
  if (prompts.length === 0) return null;
  return (
    <div className="prompt-overlay">
      {prompts.map((p) => (
        <PromptForm key={p.id} p={p} />
      ))}
    </div>
  );
}
