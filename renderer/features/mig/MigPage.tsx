import { useEffect, useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { configCountsFor } from '../../../shared/gpu/mig-parted.ts';
import { layoutDiff, validateLayout } from '../../../shared/gpu/mig-layout.ts';
import type { NodeRow } from '../../../shared/model/node.ts';
import { clusterSelectors, useClusters } from '../../stores/clusters.ts';
import { migSelectors, useMig } from '../../stores/mig.ts';
import { useNodes } from '../../stores/nodes.ts';
import { MigApplyPanel } from './MigApplyPanel.tsx';
import { MigSshPanel } from './MigSshPanel.tsx';
import { CurrentTrack, PlannedTrack } from './MigTrack.tsx';

export function MigPage() {
  const clusters = useClusters(useShallow((s) => clusterSelectors.connected(s)));
  const s = useMig();
  const clusterId = s.clusterId ?? clusters[0]?.id;
  useEffect(() => useMig.getState().setCluster(clusterId), [clusterId]);
  const version = useNodes((st) => (clusterId ? st.byCluster[clusterId]?.version : 0));
  const rowsMap = useNodes((st) => (clusterId ? st.byCluster[clusterId]?.rows : undefined));
  const migNodes = useMemo(() => [...(rowsMap?.values() ?? [])].filter((r) => r.gpu?.memorySlices !== undefined).sort((a, b) => a.name.localeCompare(b.name)), [rowsMap, version]);
  const selectedRows = s.selected.map((n) => rowsMap?.get(n)).filter((r): r is NodeRow => r !== undefined);
  const ref = selectedRows[0];
  const model = migSelectors.model(selectedRows);
  const gpus = ref?.gpu?.devices.length ?? 0;

  if (clusters.length === 0) return <section className="page"><h2>MIG layouts</h2><p className="muted">Connect a cluster first (Clusters page).</p></section>;
  const allValid = model ? s.planned.every((g) => validateLayout(model, g).ok) : false;
  const presets = model && s.configs ? Object.keys(s.configs.configs).filter((name) => Array.from({ length: Math.max(1, gpus) }, (_, i) => i).some((i) => configCountsFor(s.configs!.configs[name]!, model, i) !== null)).sort() : [];

  return (
    <section className="page mig-page" aria-label="MIG layouts">
      <h2>MIG layouts</h2>
      <div className="row">
        <label>Cluster <select aria-label="cluster" value={clusterId} onChange={(e) => s.setCluster(e.target.value)}>{clusters.map((c) => <option key={c.id} value={c.id}>{c.context}</option>)}</select></label>
        {s.configs?.problems.map((p) => <span key={p} className="error small">{p}</span>)}
      </div>
      <div className="mig-layout">
        <aside className="mig-nodes" aria-label="MIG-capable nodes">
          <p className="muted small">{migNodes.length} MIG-capable node(s). Select nodes of one model.</p>
          {migNodes.map((r) => {
            const other = model !== undefined && migSelectors.model([r]) !== model;
            return (
              <label key={r.name} className={`mig-node${other ? ' muted' : ''}`} title={other ? `a different GPU model (${r.gpu?.model}) than the selected nodes` : r.gpu?.product}>
                <input type="checkbox" disabled={other} checked={s.selected.includes(r.name)} onChange={() => s.toggleNode(r)} data-testid={`mig-select-${r.name}`} />
                {r.name} <span className="muted small">{r.gpu?.model} · {r.gpu?.migConfig ?? '—'} {r.gpu?.migConfigState ?? ''}</span>
              </label>
            );
          })}
        </aside>
        <div className="mig-editor">
          {!ref || !model ? (
            <p className="muted">Select a node to see its layout and plan a new one.</p>
          ) : (
            <>
              <div className="row">
                <strong>{model.label}</strong> <span className="muted">{gpus} GPU(s) per node, {model.memorySlices} memory slices each{ref.gpu?.inferred ? ' · current placement inferred from counts' : ''}</span>
              </div>
              <div className="row">
                <label>Preset <select aria-label="preset" value="" onChange={(e) => e.target.value && s.usePreset(e.target.value, model, gpus)} data-testid="mig-preset"><option value="">choose…</option>{presets.map((p) => <option key={p} value={p}>{p}{s.configs?.custom.includes(p) ? ' (custom)' : ''}</option>)}</select></label>
                <label><input type="checkbox" checked={s.sameForAll} onChange={(e) => s.setSameForAll(e.target.checked)} /> Same layout on every GPU</label>
              </div>
              <div className="mig-palette" role="toolbar" aria-label="profiles">
                <span className="muted small">Place:</span>
                {model.profiles.map((p) => (
                  <button key={p.name} className={s.brush === p.name ? 'active' : ''} onClick={() => s.setBrush(s.brush === p.name ? undefined : p.name)} title={`${p.memorySlices} memory / ${p.computeSlices} compute slices, starts at ${p.starts.join(', ')}, at most ${p.maxCount}`} data-testid={`mig-brush-${p.name}`}>
                    {p.name}
                  </button>
                ))}
                <button onClick={() => s.setPlanned(0, [])} title="Remove every planned instance (MIG stays enabled)">Clear</button>
              </div>
              {Array.from({ length: s.sameForAll ? Math.min(1, gpus) : gpus }, (_, i) => {
                const current = ref.gpu!.devices[i]!;
                const planned = s.planned[i] ?? [];
                const diff = layoutDiff(current.slots.map((x) => ({ profile: x.profile, start: x.start })), planned);
                const losing = current.slots.filter((x) => x.holder && diff.removed.some((r) => r.profile === x.profile && r.start === x.start));
                return (
                  <div key={i} className="mig-gpu">
                    <div className="muted small">{s.sameForAll ? `Every GPU (shown: GPU 0 of ${ref.name})` : `GPU ${i}`}</div>
                    <div className="mig-label">now</div>
                    <CurrentTrack model={model} slots={current.slots} />
                    <div className="mig-label">plan</div>
                    <PlannedTrack model={model} gpu={i} items={planned} brush={s.brush} onChange={(items) => s.setPlanned(i, items)} />
                    <div className="small" data-testid={`mig-diff-${i}`}>
                      {diff.removed.length + diff.added.length === 0 ? <span className="muted">No change.</span> : <>Removes {diff.removed.map((x) => `${x.profile}@${x.start}`).join(', ') || 'nothing'}; adds {diff.added.map((x) => `${x.profile}@${x.start}`).join(', ') || 'nothing'}.</>}
                      {losing.length > 0 && <span className="error"> Pods losing their device: {losing.map((x) => `${x.holder!.namespace}/${x.holder!.name}`).join(', ')}.</span>}
                    </div>
                  </div>
                );
              })}
              {s.notice && <p className="notice" data-testid="mig-notice">{s.notice}</p>}
              {s.error && <p className="error" role="alert" data-testid="mig-error">{s.error.message}</p>}
              <MigApplyPanel model={model} valid={allValid} />
              <MigSshPanel model={model} valid={allValid} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}
