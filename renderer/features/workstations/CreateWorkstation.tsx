import { useEffect, useMemo, useState } from 'react';
import type { WorkstationTemplate } from '../../../shared/model/workstation.ts';
import { useClusters } from '../../stores/clusters.ts';
import { draftSpec, useWorkstations, type WsDraft } from '../../stores/workstations.ts';
import { GpuOfferSelect, offerValue } from '../../components/GpuOfferSelect.tsx';

const EMPTY: Omit<WsDraft, 'clusterId'> = { name: '', namespace: '', image: 'registry.local/jupyter/scipy-notebook:2024.1', gpuChoice: 'none', gpuCount: 1, cpu: '2', memory: '8Gi', volumeSize: '20Gi', storageClass: '', env: '' };

function fromTemplate(t: WorkstationTemplate, d: WsDraft): WsDraft {
  const gpuChoice = t.gpu.kind === 'none' ? 'none' : t.gpu.kind === 'full' ? `full:${t.nodePool ?? ''}` : `mig:${t.gpu.profile}${t.nodePool ? `@${t.nodePool}` : ''}`;
  return { ...d, image: t.image, gpuChoice, gpuCount: t.gpu.kind === 'none' ? 1 : t.gpu.count, cpu: t.cpu, memory: t.memory, volumeSize: t.volumeSize, storageClass: t.storageClass ?? '', env: (t.env ?? []).map((e) => `${e.name}=${e.value}`).join('\n') };
}

/** The create form: GPU choices come from where capacity is free right now; quota and RBAC are checked before submit. */
export function CreateWorkstation() {
  const all = useClusters((s) => s.clusters);
  const clusters = useMemo(() => all.filter((c) => c.state === 'connected' || c.state === 'reconnecting'), [all]);
  const { options, offers, templates, check, busy, loadFormData, runCheck, create, setCreating, saveTemplate } = useWorkstations();
  const [d, setD] = useState<WsDraft>({ clusterId: clusters[0]?.id ?? '', ...EMPTY });
  const [templateName, setTemplateName] = useState('');
  const opts = options[d.clusterId];
  const offerList = offers[d.clusterId] ?? [];

  useEffect(() => {
    if (d.clusterId) void loadFormData(d.clusterId);
  }, [d.clusterId, loadFormData]);
  useEffect(() => {
    if (opts && !d.namespace) setD((x) => ({ ...x, namespace: opts.namespaces.find((n) => n.startsWith('team')) ?? opts.namespaces[0] ?? '' }));
  }, [opts, d.namespace]);

  const spec = useMemo(() => draftSpec(d), [d]);
  const set = (patch: Partial<WsDraft>) => setD((x) => ({ ...x, ...patch }));
  const chosen = offerList.find((o) => offerValue(o) === d.gpuChoice);
  const ready = d.clusterId && d.name && d.namespace && d.image;

  return (
    <div className="panel ws-form" data-testid="ws-create">
      <h3>New workstation</h3>
      {!clusters.length && <div className="warning">Connect a cluster first.</div>}
      <div className="ws-grid">
        <label>
          Cluster
          <select aria-label="cluster" value={d.clusterId} onChange={(e) => set({ clusterId: e.target.value, namespace: '' })}>
            {clusters.map((c) => (
              <option key={c.id} value={c.id}>
                {c.context}
              </option>
            ))}
          </select>
        </label>
        <label>
          Template
          <select
            aria-label="template"
            value=""
            onChange={(e) => {
              const t = templates.find((x) => x.name === e.target.value);
              if (t) setD((x) => fromTemplate(t, x));
            }}
          >
            <option value="">{templates.length ? 'apply a template…' : 'no templates saved'}</option>
            {templates.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
                {t.description ? ` — ${t.description}` : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input aria-label="name" value={d.name} placeholder="e.g. alice-lab" onChange={(e) => set({ name: e.target.value.toLowerCase() })} />
        </label>
        <label>
          Namespace (team)
          <select aria-label="namespace" value={d.namespace} onChange={(e) => set({ namespace: e.target.value })}>
            {(opts?.namespaces ?? []).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          Image (from the site registry)
          <input aria-label="image" value={d.image} onChange={(e) => set({ image: e.target.value.trim() })} />
        </label>
        <label className="wide">
          GPU
          <GpuOfferSelect offers={offerList} value={d.gpuChoice} onChange={(v) => set({ gpuChoice: v })} />
        </label>
        {d.gpuChoice !== 'none' && (
          <label>
            Count
            <input aria-label="gpu count" type="number" min={1} max={16} value={d.gpuCount} onChange={(e) => set({ gpuCount: Math.max(1, Number(e.target.value) || 1) })} />
            {chosen && d.gpuCount > chosen.free && <span className="warning small">only {chosen.free} free now: it will wait for capacity</span>}
          </label>
        )}
        <label>
          CPU
          <input aria-label="cpu" value={d.cpu} onChange={(e) => set({ cpu: e.target.value.trim() })} />
        </label>
        <label>
          Memory
          <input aria-label="memory" value={d.memory} onChange={(e) => set({ memory: e.target.value.trim() })} />
        </label>
        <label>
          Home volume
          <input aria-label="volume size" value={d.volumeSize} onChange={(e) => set({ volumeSize: e.target.value.trim() })} />
        </label>
        <label>
          Storage class
          <select aria-label="storage class" value={d.storageClass} onChange={(e) => set({ storageClass: e.target.value })}>
            <option value="">default{opts?.storageClasses.find((c) => c.default) ? ` (${opts.storageClasses.find((c) => c.default)!.name})` : ''}</option>
            {(opts?.storageClasses ?? []).map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          Environment (NAME=value, one per line)
          <textarea aria-label="environment" rows={2} value={d.env} onChange={(e) => set({ env: e.target.value })} />
        </label>
      </div>
      {opts && <p className="muted small">Kept as {opts.kind === 'notebook' ? 'a Kubeflow Notebook' : 'a StatefulSet, PVC and Service labelled tessera.dev/workstation'}{opts.snapshotApi ? '; CSI snapshots available' : '; no VolumeSnapshot API on this cluster'}.</p>}
      {check && (
        <div className={check.ok ? 'info' : 'error'} data-testid="ws-check">
          {check.ok ? 'Quota and permissions allow this workstation.' : check.problems.map((p) => <div key={p}>{p}</div>)}
        </div>
      )}
      <div className="filters">
        <button disabled={!ready || !!busy} onClick={() => void runCheck(d.clusterId, spec)}>
          Check quota and access
        </button>
        <button
          className="primary"
          disabled={!ready || !!busy}
          onClick={async () => {
            const c = await runCheck(d.clusterId, spec);
            if (c?.ok) await create(d.clusterId, spec);
          }}
        >
          Create workstation
        </button>
        <button onClick={() => setCreating(false)}>Cancel</button>
        <span className="legend">
          <input aria-label="template name" className="filter short" placeholder="save as template…" value={templateName} onChange={(e) => setTemplateName(e.target.value.toLowerCase())} />
          <button
            disabled={!templateName || !!busy}
            onClick={() => {
              const { name: _n, namespace: _ns, ...rest } = spec;
              void saveTemplate({ ...rest, name: templateName });
            }}
          >
            Save template
          </button>
        </span>
      </div>
    </div>
  );
}
