import { useEffect, useState } from 'react';
import type { Workstation, WorkstationSnapshot } from '../../../shared/model/workstation.ts';
import { Badge } from '../../components/Badge.tsx';
import { useWorkstations } from '../../stores/workstations.ts';
import { useMetrics } from '../../stores/metrics.ts';
import { useTerminals } from '../../stores/terminals.ts';
import { useUi } from '../../stores/ui.ts';
import { age, idleLine, liveGpu, policyLine, STATE_TONE } from './ws-format.ts';
import { ACTION_NEEDS } from '../../../shared/model/permissions.ts';
import { deniedTitle, MissingPermission, usePermission } from '../../components/permission.tsx';

type Pending = { kind: 'stop' | 'start' | 'snapshot' | 'delete' | 'cloneVolume' } | { kind: 'restore' | 'clone'; snap: WorkstationSnapshot };

/** One workstation: facts, its snapshots, and actions that each ask for confirmation first. */
export function WorkstationDetail({ w, onClose }: { w: Workstation; onClose: () => void }) {
  const { snapshots, options, busy, start, stop, snapshot, restore, clone, cloneVolume, remove, loadSnapshots, forwards, openIde, loadForwards, closeForward, cloneTargets, loadCloneTargets } = useWorkstations();
  const openTerminal = useTerminals((s) => s.open);
  const go = useUi((s) => s.go);
  const [targetCluster, setTargetCluster] = useState('');
  const mineForwards = forwards.filter((f) => f.clusterId === w.clusterId && f.namespace === w.namespace && f.name === w.name);
  useEffect(() => {
    // With every list refresh (a new w): request counts move, and forwards close when the pod goes.
    void loadForwards();
  }, [loadForwards, w]);
  const [pending, setPending] = useState<Pending | null>(null);
  const [className, setClassName] = useState('');
  const [deleteVolume, setDeleteVolume] = useState(false);
  const [target, setTarget] = useState({ namespace: '', name: `${w.name}-copy` });
  const loadFormData = useWorkstations((s) => s.loadFormData);
  const live = liveGpu(useMetrics((s) => s.byCluster[w.clusterId]), w);
  const known = !!options[w.clusterId];
  useEffect(() => {
    // Snapshot classes and whether the snapshot API exists, for the actions below.
    if (!known) void loadFormData(w.clusterId);
  }, [known, w.clusterId, loadFormData]);
  const snapClasses = options[w.clusterId]?.snapshotClasses ?? [];
  const mine = snapshots.filter((s) => s.workstation === w.name || s.sourceClaim?.startsWith(`${w.name}-home`));
  const running = w.state === 'running' || w.state === 'starting' || w.state === 'pending-no-capacity';
  // Each action is offered only with the permission core will check for it.
  const mayPatch = usePermission(w.clusterId, ACTION_NEEDS.workstationPatch(w.kind, w.namespace));
  const maySnapshot = usePermission(w.clusterId, ACTION_NEEDS.workstationSnapshot(w.namespace));
  const mayDelete = usePermission(w.clusterId, ACTION_NEEDS.workstationDelete(w.kind, w.namespace, w.name));
  const mayNewVolume = usePermission(w.clusterId, [...ACTION_NEEDS.workstationNewVolume(w.namespace), ...ACTION_NEEDS.workstationPatch(w.kind, w.namespace)]);

  const confirm = async () => {
    const p = pending;
    setPending(null);
    if (!p) return;
    if (p.kind === 'stop') await stop(w);
    if (p.kind === 'start') await start(w);
    if (p.kind === 'snapshot') await snapshot(w, className || undefined);
    if (p.kind === 'delete') await remove(w, deleteVolume);
    if (p.kind === 'cloneVolume') await cloneVolume(w, target.name);
    if (p.kind === 'restore') await restore(w, p.snap.name);
    if (p.kind === 'clone') await clone(p.snap, { namespace: target.namespace || w.namespace, name: target.name }, targetCluster || undefined);
  };
  const question = !pending
    ? ''
    : pending.kind === 'stop'
      ? `Stop ${w.name}? The GPU is freed; the volume ${w.volume?.claim ?? ''} is kept.`
      : pending.kind === 'start'
        ? `Start ${w.name}? It asks for ${w.gpuLabel} again (quota is checked).`
        : pending.kind === 'snapshot'
          ? `Snapshot the volume of ${w.name}${className ? ` with class ${className}` : ' with the default class'}?`
          : pending.kind === 'cloneVolume'
            ? `Clone the volume of ${w.name} (CSI clone, same namespace) into a new workstation ${w.namespace}/${target.name}?`
          : pending.kind === 'delete'
            ? `Delete ${w.name}${deleteVolume ? ' AND its volumes (data is lost)' : ' (its volume is kept)'}?`
            : pending.kind === 'restore' && 'snap' in pending
              ? `Restore ${w.name} from ${pending.snap.name}? It is stopped, given a new volume from the snapshot and started again; the old volume is kept.`
              : `Clone ${'snap' in pending ? pending.snap.name : ''} into ${target.namespace || w.namespace}/${target.name}${targetCluster ? ` on ${targetCluster}` : ''}?`;
  const targetsOfPending = pending?.kind === 'clone' ? cloneTargets[`${pending.snap.clusterId}|${pending.snap.namespace}|${pending.snap.name}`] : undefined;
  const idle = idleLine(w);

  return (
    <aside className="detail" data-testid="ws-detail" aria-label={`workstation ${w.name}`}>
      <button className="close" onClick={onClose} aria-label="close">
        ×
      </button>
      <h3>
        {w.namespace}/{w.name} <Badge tone={STATE_TONE[w.state]}>{w.state}</Badge>
      </h3>
      {w.reason && <div className={w.state === 'failed' ? 'error' : w.state === 'pending-no-capacity' ? 'warning' : 'info'}>{w.reason}</div>}
      {w.stoppedReason && (
        <div className="warning" data-testid="ws-stopped-reason">
          Stopped by Tessera: {w.stoppedReason}
        </div>
      )}
      {w.idle && (
        <div className={w.idle.flagged ? 'warning' : 'info'} data-testid="ws-idle">
          <Badge tone={w.idle.flagged ? 'warn' : 'idle'}>{w.idle.flagged ? 'idle' : 'quiet'}</Badge> {idle}
        </div>
      )}
      <div className="filters" data-testid="ws-open">
        <button className="primary" disabled={!!busy || w.state !== 'running'} title={w.state === 'running' ? `Forward port ${w.spec.port ?? 8888} of ${w.pod ?? 'the pod'} to 127.0.0.1 through the API server` : 'start the workstation first'} onClick={() => void openIde(w)}>
          Open IDE
        </button>
        <button
          disabled={w.state !== 'running' || !w.pod}
          title="A shell in the workstation container (pod exec)"
          onClick={() => {
            void openTerminal({ kind: 'pod', clusterId: w.clusterId, namespace: w.namespace, pod: w.pod!, container: 'workstation', shell: 'auto', label: `${w.namespace}/${w.name}` });
            go('terminals');
          }}
        >
          Terminal
        </button>
        {mineForwards.map((f) => (
          <span key={f.id} className="small" data-testid="ws-forward">
            <a href={f.url} target="_blank" rel="noopener noreferrer" className="mono" style={{ color: 'var(--info)' }} title="Opens the IDE in your browser; the link carries this forward's token">
              127.0.0.1:{f.localPort}
            </a>{' '}
            <span className="muted">→ {f.pod}:{f.remotePort} · {f.requests} requests</span>{' '}
            <button className="small" onClick={() => void closeForward(f.id)}>
              Close
            </button>
          </span>
        ))}
      </div>
      <dl className="facts">
        <dt>Kept as</dt>
        <dd>{w.kind === 'notebook' ? 'Kubeflow Notebook' : 'StatefulSet + PVC + Service'}</dd>
        <dt>Image</dt>
        <dd className="mono">{w.spec.image}</dd>
        <dt>GPU</dt>
        <dd>{w.gpuLabel}{w.spec.nodePool ? <span className="muted"> · pool {w.spec.nodePool}</span> : null}</dd>
        <dt>Live</dt>
        <dd data-testid="ws-live">{live ? `${live.utilPct !== undefined ? `${Math.round(live.utilPct)} % GPU activity` : 'no utilisation reported'}${live.idleSince ? ` · idle since ${new Date(live.idleSince).toLocaleString()}` : ''}` : w.state === 'running' ? 'waiting for dcgm-exporter' : '—'}</dd>
        <dt>Idle policy</dt>
        <dd className="small" data-testid="ws-policy">{policyLine(w)}</dd>
        <dt>CPU / memory</dt>
        <dd>{w.spec.cpu} / {w.spec.memory}</dd>
        <dt>Volume</dt>
        <dd>{w.volume ? `${w.volume.claim} · ${w.volume.size ?? w.spec.volumeSize} · ${w.volume.storageClass ?? 'default'} · ${w.volume.phase ?? '?'}` : 'none'}</dd>
        <dt>Node / pod</dt>
        <dd>{w.node ?? '—'} {w.pod ? <span className="muted">({w.pod})</span> : null}</dd>
        <dt>Age</dt>
        <dd>{age(w.ageSeconds)}{w.runningSince ? <span className="muted"> · running since {new Date(w.runningSince).toLocaleString()}</span> : null}</dd>
        <dt>GPU-hours</dt>
        <dd>{w.gpuHours.toFixed(3)}</dd>
        <dt>Owner</dt>
        <dd>{w.owner ?? '—'}</dd>
        {w.lastActivity && (
          <>
            <dt>Last activity</dt>
            <dd>{new Date(w.lastActivity).toLocaleString()}</dd>
          </>
        )}
        {(w.spec.env ?? []).length > 0 && (
          <>
            <dt>Environment</dt>
            <dd className="mono small">{(w.spec.env ?? []).map((e) => `${e.name}=${e.value}`).join('  ')}</dd>
          </>
        )}
      </dl>
      <div className="filters">
        {running ? (
          <button disabled={!!busy || mayPatch.allowed === false} title={deniedTitle(mayPatch)} onClick={() => setPending({ kind: 'stop' })}>
            Stop
          </button>
        ) : (
          <button disabled={!!busy || w.state === 'stopping' || mayPatch.allowed === false} title={deniedTitle(mayPatch)} onClick={() => setPending({ kind: 'start' })}>
            Start
          </button>
        )}
        <select aria-label="snapshot class" value={className} onChange={(e) => setClassName(e.target.value)}>
          <option value="">default snapshot class</option>
          {snapClasses.map((c) => (
            <option key={c.name} value={c.name}>
              {c.name} ({c.deletionPolicy})
            </option>
          ))}
        </select>
        <button disabled={!!busy || maySnapshot.allowed === false} title={deniedTitle(maySnapshot)} onClick={() => setPending({ kind: 'snapshot' })}>
          Snapshot
        </button>
        <label className="toggle">
          <input type="checkbox" checked={deleteVolume} onChange={(e) => setDeleteVolume(e.target.checked)} /> also delete volumes
        </label>
        <button disabled={!!busy || mayDelete.allowed === false} title={deniedTitle(mayDelete)} onClick={() => setPending({ kind: 'delete' })}>
          Delete
        </button>
      </div>
      <MissingPermission p={mayPatch} what={running ? 'stop this workstation' : 'start this workstation'} />
      <MissingPermission p={maySnapshot} what="snapshot its volume" />
      <MissingPermission p={mayDelete} what="delete it" />
      {pending && (
        <div className="warning" role="alertdialog" data-testid="ws-confirm">
          {question}{' '}
          {pending.kind === 'clone' && (
            <select aria-label="target cluster" value={targetCluster} onChange={(e) => setTargetCluster(e.target.value)}>
              <option value="">this cluster</option>
              {(targetsOfPending ?? []).map((t) => (
                <option key={t.clusterId} value={t.clusterId} disabled={!t.ok} title={t.reason}>
                  {t.clusterId}
                  {t.ok ? ` (${t.snapshotClass} → ${t.storageClass})` : ` — ${t.reason}`}
                </option>
              ))}
            </select>
          )}{' '}
          <button className="primary" onClick={() => void confirm()}>
            Confirm
          </button>{' '}
          <button onClick={() => setPending(null)}>Cancel</button>
        </div>
      )}
      {options[w.clusterId] && !options[w.clusterId]!.snapshotApi && <div className="warning">This cluster has no VolumeSnapshot API (no CSI snapshot controller). Clone volume still works where the storage class's CSI driver supports cloning.</div>}
      <h4>
        Snapshots <button className="small" onClick={() => void loadSnapshots(w.clusterId, w.namespace)}>refresh</button>
      </h4>
      {mine.length === 0 ? (
        <p className="muted small">No snapshots of this workstation yet.</p>
      ) : (
        <table className="table" data-testid="ws-snapshots">
          <thead>
            <tr>
              <th>Name</th>
              <th>Class</th>
              <th>Ready</th>
              <th>Size</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {mine.map((s) => (
              <tr key={s.name}>
                <td className="mono small">{s.name}</td>
                <td className="small">{s.className ?? ''}</td>
                <td>{s.readyToUse ? <Badge tone="ok">ready</Badge> : s.error ? <Badge tone="bad" title={s.error}>error</Badge> : <Badge tone="info">cutting</Badge>}</td>
                <td>{s.restoreSize ?? ''}</td>
                <td>
                  <button disabled={!s.readyToUse || !!busy || mayNewVolume.allowed === false} title={deniedTitle(mayNewVolume)} onClick={() => setPending({ kind: 'restore', snap: s })}>
                    Restore
                  </button>{' '}
                  <button
                    disabled={!s.readyToUse || !!busy}
                    onClick={() => {
                      setTargetCluster('');
                      setPending({ kind: 'clone', snap: s });
                      void loadCloneTargets(s);
                    }}
                  >
                    Clone…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="filters small">
        Clone target:
        <input aria-label="clone namespace" className="filter short" placeholder={`namespace (${w.namespace})`} value={target.namespace} onChange={(e) => setTarget({ ...target, namespace: e.target.value.trim() })} />
        <input aria-label="clone name" className="filter short" value={target.name} onChange={(e) => setTarget({ ...target, name: e.target.value.trim() })} />
        <button disabled={!!busy} onClick={() => setPending({ kind: 'cloneVolume' })} title="A CSI clone of the home volume, in this namespace; works without the snapshot API">
          Clone volume
        </button>
      </div>
    </aside>
  );
}
