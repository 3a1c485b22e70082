import { useState } from 'react';
import type { ErrorShape } from '../../../shared/contract/errors.ts';
import type { HostInput, SshHost } from '../../../shared/model/host.ts';
import { useHosts } from '../../stores/hosts.ts';

type Fields = { name: string; address: string; port: string; user: string; identityFile: string; proxyJump: string; group: string; nodePool: string };

const fromHost = (h?: SshHost): Fields => ({
  name: h?.name ?? '',
  address: h?.address ?? '',
  port: String(h?.port ?? 22),
  user: h?.user ?? '',
  identityFile: h?.identityFile ?? '',
  proxyJump: h?.proxyJump.join(', ') ?? '',
  group: h?.group ?? '',
  nodePool: h?.nodePool ?? '',
});

const LABELS: [keyof Fields, string, string][] = [
  ['name', 'Name', 'gpu-node-01'],
  ['address', 'Address', '10.0.0.12 or gpu01.site.example'],
  ['port', 'Port', '22'],
  ['user', 'User', 'ops'],
  ['identityFile', 'Identity file', '~/.ssh/id_ed25519 (empty: agent and default keys)'],
  ['proxyJump', 'Jump hosts', 'host ids or user@host:port, comma-separated'],
  ['group', 'Group / site', 'site-a'],
  ['nodePool', 'Node pool', 'h100'],
];

/** Add or edit one host; core validates every field and the messages appear beside them. */
export function HostForm({ host, onDone }: { host?: SshHost; onDone: () => void }) {
  const save = useHosts((s) => s.save);
  const [f, setF] = useState<Fields>(fromHost(host));
  const [error, setError] = useState<ErrorShape | null>(null);
  const [busy, setBusy] = useState(false);
  const problems = (error?.details?.problems as { field: string; message: string }[] | undefined) ?? [];
  const problemFor = (field: string) => problems.filter((p) => p.field === field).map((p) => p.message).join('; ');

  const submit = async () => {
    const port = f.port.trim() === '' ? undefined : Number(f.port);
    if (port !== undefined && !Number.isFinite(port)) {
      setError({ code: 'INVALID_REQUEST', message: 'port must be a number', details: { problems: [{ field: 'port', message: 'port must be a number from 1 to 65535' }] } });
      return;
    }
    const input: HostInput = {
      name: f.name,
      address: f.address,
      user: f.user,
      ...(port !== undefined ? { port } : {}),
      ...(f.identityFile.trim() ? { identityFile: f.identityFile.trim() } : {}),
      proxyJump: f.proxyJump.split(',').map((s) => s.trim()).filter(Boolean),
      ...(f.group.trim() ? { group: f.group.trim() } : {}),
      ...(f.nodePool.trim() ? { nodePool: f.nodePool.trim() } : {}),
    };
    setBusy(true);
    const err = await save(input, host?.id);
    setBusy(false);
    setError(err);
    if (!err) onDone();
  };

  return (
    <form
      className="panel host-form"
      aria-label={host ? `edit ${host.name}` : 'add host'}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h3>{host ? `Edit ${host.name}` : 'Add a host'}</h3>
      <div className="form-grid">
        {LABELS.map(([key, label, placeholder]) => (
          <label key={key}>
            <span className="muted small">{label}</span>
            <input className="filter" name={key} value={f[key]} placeholder={placeholder} onChange={(e) => setF({ ...f, [key]: e.target.value })} aria-invalid={problemFor(key) ? true : undefined} />
            {problemFor(key) && (
              <span className="bad-text small" data-testid={`problem-${key}`}>
                {problemFor(key)}
              </span>
            )}
          </label>
        ))}
      </div>
      {error && problems.length === 0 && <div className="error">{error.message}</div>}
      <div className="import">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : host ? 'Save' : 'Add host'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
