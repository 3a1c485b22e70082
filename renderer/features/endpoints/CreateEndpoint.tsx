import { useEffect, useMemo, useState } from 'react';
import { useClusters } from '../../stores/clusters.ts';
import { formKey, useEndpoints } from '../../stores/endpoints.ts';
import { autoRuntime, compatibleRuntimes, draftSpec, draftStorageUri, EMPTY_DRAFT, formatsOffered, POOL_LABEL, unreachableHint, type EpDraft } from './ep-draft.ts';
import { PreviewReport } from './PreviewReport.tsx';
import { GpuOfferSelect, offerValue } from '../../components/GpuOfferSelect.tsx';

type Tab = 'form' | 'yaml';

/** "namespace/name" of the object a preview checked (for edited YAML, the names typed there). */
function objectName(obj: Record<string, unknown>): string | undefined {
  const md = obj.metadata as { name?: unknown; namespace?: unknown } | undefined;
  return typeof md?.name === 'string' && typeof md.namespace === 'string' ? `${md.namespace}/${md.name}` : undefined;
}

/**
 * The create form. Formats and runtimes come from the cluster's
 * (Cluster)ServingRuntimes, storage from its PVCs, GPUs from where capacity is
 * free now. The YAML tab shows exactly what will be applied; an expert may
 * edit it, and then the edited YAML is what is submitted.
 */
export function CreateEndpoint() {
  const all = useClusters((s) => s.clusters);
  const clusters = useMemo(() => all.filter((c) => c.state === 'connected' || c.state === 'reconnecting'), [all]);
  const { discovery, offers, access, preview, previewing, actions, loadFormData, runPreview, create, setCreating } = useEndpoints();
  const [d, setD] = useState<EpDraft>({ clusterId: clusters[0]?.id ?? '', ...EMPTY_DRAFT });
  const [tab, setTab] = useState<Tab>('form');
  const [yaml, setYaml] = useState('');
  const [yamlEdited, setYamlEdited] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const set = (patch: Partial<EpDraft>) => {
    setConfirming(false);
    setD((x) => ({ ...x, ...patch }));
  };

  // The first look (no namespace) gives the namespaces; then the chosen namespace's runtimes and PVCs.
  const first = discovery[formKey(d.clusterId, '')];
  const disc = discovery[formKey(d.clusterId, d.namespace)] ?? first;
  const acc = access[formKey(d.clusterId, d.namespace)];
  const offerList = offers[d.clusterId] ?? [];
  useEffect(() => {
    if (d.clusterId) void loadFormData(d.clusterId, '');
  }, [d.clusterId, loadFormData]);
  useEffect(() => {
    if (d.clusterId && d.namespace) void loadFormData(d.clusterId, d.namespace);
  }, [d.clusterId, d.namespace, loadFormData]);
  useEffect(() => {
    if (first && !d.namespace) setD((x) => ({ ...x, namespace: first.namespaces.find((n) => n === 'inference') ?? first.namespaces.find((n) => n.startsWith('team')) ?? first.namespaces[0] ?? '' }));
  }, [first, d.namespace]);

  const runtimes = disc?.runtimes ?? [];
  const formats = useMemo(() => formatsOffered(runtimes, d.namespace), [runtimes, d.namespace]);
  const compatible = useMemo(() => compatibleRuntimes(runtimes, d.modelFormat, d.namespace), [runtimes, d.modelFormat, d.namespace]);
  const auto = useMemo(() => autoRuntime(runtimes, d.modelFormat, d.namespace), [runtimes, d.modelFormat, d.namespace]);
  const chosenRuntime = compatible.find((r) => r.name === d.runtime) ?? (d.runtime ? undefined : auto);
  const protocols = (chosenRuntime?.protocolVersions ?? []).filter((p): p is 'v1' | 'v2' => p === 'v1' || p === 'v2');
  const claims = (disc?.storage ?? []).filter((c) => c.namespace === d.namespace);
  const { spec, problems: localProblems } = useMemo(() => draftSpec(d), [d]);
  const uri = draftStorageUri(d);
  const hubHint = unreachableHint(uri);
  const chosenOffer = offerList.find((o) => offerValue(o) === d.gpuChoice);
  const busy = actions.create.busy;
  const createRefused = acc && !acc.create.allowed ? acc.create : undefined;
  const formReady = !!(d.clusterId && d.namespace && localProblems.length === 0);

  // Keep the preview (YAML, problems, dry run, capacity) in step with the form, a moment after typing stops.
  const specJson = JSON.stringify(spec);
  useEffect(() => {
    if (!formReady || yamlEdited) return;
    const t = setTimeout(() => void runPreview(d.clusterId, { spec: JSON.parse(specJson) as typeof spec }), 400);
    return () => clearTimeout(t);
  }, [specJson, formReady, yamlEdited, d.clusterId, runPreview]);
  useEffect(() => {
    if (!yamlEdited && preview) setYaml(preview.yaml);
  }, [preview, yamlEdited]);

  // When the format changes, a runtime that cannot serve it is dropped; so is a protocol the new runtime lacks.
  useEffect(() => {
    if (d.runtime && !compatible.some((r) => r.name === d.runtime)) setD((x) => ({ ...x, runtime: '' }));
  }, [compatible, d.runtime]);
  useEffect(() => {
    if (d.protocolVersion && !protocols.includes(d.protocolVersion)) setD((x) => ({ ...x, protocolVersion: '' }));
  }, [protocols, d.protocolVersion]);
  useEffect(() => {
    if (d.storage === 'pvc' && !d.pvc && claims[0]) setD((x) => ({ ...x, pvc: claims[0]!.name }));
  }, [claims, d.storage, d.pvc]);

  const input = yamlEdited ? { yaml } : { spec };
  const submit = async () => {
    const p = await runPreview(d.clusterId, input);
    if (p?.ok) setConfirming(true);
  };

  return (
    <div className="panel ws-form ep-create" data-testid="ep-create">
      <div className="ep-tabs" role="tablist">
        <h3>New inference endpoint</h3>
        <button role="tab" aria-selected={tab === 'form'} className={tab === 'form' ? 'active' : ''} onClick={() => setTab('form')}>
          Form
        </button>
        <button role="tab" aria-selected={tab === 'yaml'} className={tab === 'yaml' ? 'active' : ''} onClick={() => setTab('yaml')}>
          YAML{yamlEdited ? ' (edited)' : ''}
        </button>
      </div>
      {!clusters.length && <div className="warning">Connect a cluster first.</div>}
      {disc && !disc.installed && <div className="error">KServe is not installed on this cluster: no InferenceService API (serving.kserve.io).</div>}
      {(disc?.notes ?? []).map((n) => (
        <div key={n} className="muted small">
          {n}
        </div>
      ))}
      {tab === 'form' ? (
        <div className="ws-grid">
          <label>
            Cluster
            <select aria-label="cluster" value={d.clusterId} onChange={(e) => set({ clusterId: e.target.value, namespace: '', pvc: '', runtime: '', gpuChoice: 'none' })}>
              {clusters.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.context}
                </option>
              ))}
            </select>
          </label>
          <label>
            Namespace
            <select aria-label="namespace" value={d.namespace} onChange={(e) => set({ namespace: e.target.value, pvc: '', runtime: '' })}>
              {(first?.namespaces ?? []).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input aria-label="name" value={d.name} placeholder="e.g. iris" onChange={(e) => set({ name: e.target.value.toLowerCase().trim() })} />
          </label>
          <label>
            Model format
            <select aria-label="model format" value={d.modelFormat} onChange={(e) => set({ modelFormat: e.target.value })}>
              <option value="">pick a format…</option>
              {formats.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
          </label>
          <label>
            Runtime (serves {d.modelFormat || 'the format'})
            <select aria-label="runtime" value={d.runtime} onChange={(e) => set({ runtime: e.target.value })} disabled={!d.modelFormat}>
              <option value="">{auto ? `auto-select (${auto.name})` : compatible.length ? 'auto-select (none marked autoSelect: pick one)' : 'no runtime serves this format'}</option>
              {compatible.map((r) => (
                <option key={`${r.kind}/${r.name}`} value={r.name}>
                  {r.name} · {r.kind === 'ServingRuntime' ? `namespace ${r.namespace}` : 'cluster-wide'} · {[...new Set(r.protocols.map((p) => (p.startsWith('openai') ? 'OpenAI' : p)))].join('/') || 'no tested protocol'}
                </option>
              ))}
            </select>
          </label>
          <label>
            Protocol
            <select aria-label="protocol" value={d.protocolVersion} onChange={(e) => set({ protocolVersion: e.target.value as EpDraft['protocolVersion'] })}>
              <option value="">runtime default</option>
              {protocols.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <fieldset className="wide ep-storage">
            <legend>Model storage</legend>
            <div className="ep-choice">
              <label className="toggle">
                <input type="radio" name="storage" aria-label="model on a PVC" checked={d.storage === 'pvc'} onChange={() => set({ storage: 'pvc' })} /> a PVC in {d.namespace || 'the namespace'} (pvc://)
              </label>
              <label className="toggle">
                <input type="radio" name="storage" aria-label="model at another URI" checked={d.storage === 'uri'} onChange={() => set({ storage: 'uri' })} /> another URI (in-site object store, oci://)
              </label>
            </div>
            {d.storage === 'pvc' ? (
              <div className="filters">
                <select aria-label="model pvc" value={d.pvc} onChange={(e) => set({ pvc: e.target.value })}>
                  {claims.length === 0 && <option value="">no PVC in {d.namespace}</option>}
                  {claims.map((c) => (
                    <option key={c.name} value={c.name}>
                      {c.uri} · {c.size ?? '?'} · {c.accessModes.join(',')} · {c.phase ?? '?'}
                    </option>
                  ))}
                </select>
                <input aria-label="model path" className="filter short" placeholder="path in the claim, e.g. iris" value={d.modelPath} onChange={(e) => set({ modelPath: e.target.value })} />
              </div>
            ) : (
              <input aria-label="storage uri" placeholder="s3://models.site.local/iris" value={d.uri} onChange={(e) => set({ uri: e.target.value })} />
            )}
            <span className="muted small">
              Will serve <span className="mono">{uri || '—'}</span>, mounted read-only at /mnt/models. An air-gapped site cannot reach public hubs (Hugging Face, public S3/GCS): serve from a PVC or an in-site object store.
            </span>
            {hubHint && <span className="warning small">{hubHint}</span>}
          </fieldset>
          <label className="wide">
            GPU
            <GpuOfferSelect offers={offerList} value={d.gpuChoice} onChange={(v) => set({ gpuChoice: v })} />
            {chosenOffer && (
              <span className="muted small">
                Pinned to pool <span className="mono">{POOL_LABEL}={chosenOffer.pool}</span> (added to the node selector).
              </span>
            )}
          </label>
          {d.gpuChoice !== 'none' && (
            <label>
              {d.gpuChoice.startsWith('mig:') ? 'Slices per replica' : 'GPUs per replica'}
              <input aria-label="gpu count" type="number" min={1} max={16} value={d.gpuCount} onChange={(e) => set({ gpuCount: Math.max(1, Number(e.target.value) || 1) })} />
              {chosenOffer && d.gpuCount > chosenOffer.free && <span className="warning small">only {chosenOffer.free} free now: pods will wait for capacity</span>}
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
            Min replicas
            <input aria-label="min replicas" value={d.minReplicas} onChange={(e) => set({ minReplicas: e.target.value })} />
          </label>
          <label>
            Max replicas
            <input aria-label="max replicas" placeholder="KServe default" value={d.maxReplicas} onChange={(e) => set({ maxReplicas: e.target.value })} />
          </label>
          <label>
            Scale target
            <input aria-label="scale target" placeholder="e.g. 10" value={d.scaleTarget} onChange={(e) => set({ scaleTarget: e.target.value })} />
          </label>
          <label>
            Scale metric
            <select aria-label="scale metric" value={d.scaleMetric} onChange={(e) => set({ scaleMetric: e.target.value as EpDraft['scaleMetric'] })}>
              <option value="">KServe default</option>
              <option value="concurrency">concurrency (Knative)</option>
              <option value="rps">requests per second (Knative)</option>
              <option value="cpu">CPU (HPA)</option>
              <option value="memory">memory (HPA)</option>
            </select>
          </label>
          <label>
            Deployment mode
            <select aria-label="deployment mode" value={d.deploymentMode} onChange={(e) => set({ deploymentMode: e.target.value as EpDraft['deploymentMode'] })}>
              <option value="">cluster default{disc ? ` (${disc.defaultMode})` : ''}</option>
              {(disc?.modes ?? []).map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
            {disc && !disc.knative && <span className="muted small">Serverless is not offered: Knative Serving (serving.knative.dev) is not installed here. RawDeployment has no canary traffic split.</span>}
          </label>
          <label>
            Service account
            <input aria-label="service account" placeholder="default" value={d.serviceAccountName} onChange={(e) => set({ serviceAccountName: e.target.value })} />
          </label>
          <label>
            Node selector (key=value per line)
            <textarea aria-label="node selector" rows={2} value={d.nodeSelector} onChange={(e) => set({ nodeSelector: e.target.value })} />
          </label>
          <label>
            Tolerations (key=value:Effect per line)
            <textarea aria-label="tolerations" rows={2} placeholder="nvidia.com/gpu:NoSchedule" value={d.tolerations} onChange={(e) => set({ tolerations: e.target.value })} />
          </label>
        </div>
      ) : (
        <div className="ep-yaml">
          <p className="muted small">
            {yamlEdited ? 'Your edited YAML is what will be submitted; the form no longer changes it.' : 'Exactly what will be applied. Edit it to go beyond the form; it is parsed as one InferenceService and checked again before anything is applied.'}
          </p>
          <textarea
            aria-label="yaml"
            className="mono"
            spellCheck={false}
            rows={24}
            value={yaml}
            onChange={(e) => {
              setConfirming(false);
              setYaml(e.target.value);
              setYamlEdited(true);
            }}
          />
          <div className="filters">
            <button disabled={!yaml || previewing} onClick={() => void runPreview(d.clusterId, { yaml })}>
              Validate YAML
            </button>
            {yamlEdited && (
              <button
                onClick={() => {
                  setYamlEdited(false);
                  setYaml(preview?.yaml ?? '');
                  if (formReady) void runPreview(d.clusterId, { spec });
                }}
              >
                Discard edits (back to the form)
              </button>
            )}
          </div>
        </div>
      )}
      {localProblems.length > 0 && !yamlEdited && (
        <div className="warning" data-testid="ep-form-problems">
          {localProblems.map((p) => (
            <div key={p}>{p}</div>
          ))}
        </div>
      )}
      {preview && <PreviewReport preview={preview} />}
      {createRefused && (
        <div className="error" data-testid="ep-refused">
          You may not create InferenceServices in {d.namespace}: {createRefused.reason || 'create inferenceservices.serving.kserve.io is denied'}
        </div>
      )}
      {busy && (
        <div className="info" role="status">
          {busy}…
        </div>
      )}
      {actions.create.error && (
        <div className="error" role="alert" data-testid="ep-create-error">
          {actions.create.error.message}
        </div>
      )}
      {confirming && preview?.ok ? (
        <div className="warning" role="alertdialog" data-testid="ep-confirm">
          Create InferenceService {objectName(preview.object) ?? `${d.namespace}/${d.name}`}
          {yamlEdited ? ' from your edited YAML' : ''} on {clusters.find((c) => c.id === d.clusterId)?.context ?? d.clusterId}
          {spec.gpu.kind !== 'none' && !yamlEdited ? `, holding ${spec.gpu.count}× ${spec.gpu.kind === 'mig' ? spec.gpu.profile : 'GPU'} per replica` : ''}? {preview.dryRun?.ok ? "The server's dry run accepted it." : ''}{' '}
          <button
            className="primary"
            onClick={() => {
              setConfirming(false);
              void create(d.clusterId, input);
            }}
          >
            Confirm create
          </button>{' '}
          <button onClick={() => setConfirming(false)}>Cancel</button>
        </div>
      ) : (
        <div className="filters">
          <button className="primary" disabled={(!formReady && !yamlEdited) || !!busy || previewing || !!createRefused} title={createRefused ? `needs create inferenceservices.serving.kserve.io in ${d.namespace}` : undefined} onClick={() => void submit()}>
            Create endpoint
          </button>
          <button onClick={() => setCreating(false)}>Cancel</button>
          {previewing && <span className="muted small">checking…</span>}
        </div>
      )}
    </div>
  );
}
