import { useEffect, useState } from 'react';
import type { MigModel } from '../../../shared/gpu/mig-geometry.ts';
import { Badge } from '../../components/Badge.tsx';
import { useHosts } from '../../stores/hosts.ts';
import { useMig } from '../../stores/mig.ts';

/** For nodes and edge boxes without the GPU Operator: the planned layout at its exact placements, with nvidia-smi over SSH. */
export function MigSshPanel({ model, valid }: { model: MigModel; valid: boolean }) {
  const hosts = useHosts((s) => s.hosts);
  const { applySsh, sshResult, busy, sameForAll } = useMig();
  const [hostId, setHostId] = useState('');
  const [gpus, setGpus] = useState('0');
  const [force, setForce] = useState(false);
  useEffect(() => void useHosts.getState().load(), []);
  const gpuList = gpus.split(',').map((g) => Number(g.trim())).filter((g) => Number.isInteger(g) && g >= 0);
  return (
    <section className="mig-apply" aria-label="apply over SSH">
      <h3>Apply over SSH</h3>
      <p className="muted small">For hosts without the GPU Operator: enables MIG mode if needed, destroys the old instances, creates the planned ones at their exact placements with nvidia-smi, and reads the result back.{sameForAll ? '' : ' The layout of GPU 0 is applied to every GPU named here.'}</p>
      <div className="row">
        <label>Host <select aria-label="ssh host" value={hostId} onChange={(e) => setHostId(e.target.value)}><option value="">choose…</option>{hosts.map((h) => <option key={h.id} value={h.id}>{h.name} ({h.user}@{h.address})</option>)}</select></label>
        <label>GPUs <input value={gpus} onChange={(e) => setGpus(e.target.value)} style={{ width: '6em' }} aria-label="gpu indexes" /></label>
        <label><input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Even if GPU processes run (they lose their device)</label>
        <button disabled={!valid || !hostId || gpuList.length === 0 || busy !== undefined} onClick={() => void applySsh(hostId, gpuList, model, force)}>{busy === 'ssh' ? 'Applying…' : 'Apply over SSH'}</button>
      </div>
      {sshResult && (
        <div data-testid="mig-ssh-result">
          <Badge tone={sshResult.ok ? 'ok' : 'bad'}>{sshResult.ok ? (sshResult.unchanged ? 'already at this layout' : 'applied and read back') : sshResult.refused ? 'refused' : 'failed'}</Badge>{' '}
          {sshResult.refused?.problems.join(' ')} {sshResult.failed && `${sshResult.failed.step}: ${sshResult.failed.message}`}
          <table className="table compact"><tbody>{sshResult.steps.map((s, i) => <tr key={i}><td><Badge tone={s.ok ? 'ok' : 'bad'}>{s.ok ? 'ok' : `exit ${s.exitCode}`}</Badge></td><td><code>{s.command}</code></td><td className="muted small">{s.durationMs} ms</td><td>{s.message}</td></tr>)}</tbody></table>
          {sshResult.mismatches.length > 0 && <p className="error">Read-back differs from the plan: {sshResult.mismatches.map((m) => `GPU ${m.gpu} missing ${m.missing.join(', ') || '—'}, unexpected ${m.unexpected.join(', ') || '—'}`).join('; ')}</p>}
        </div>
      )}
    </section>
  );
}
