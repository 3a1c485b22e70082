// The InferenceService an endpoint spec makes, the spec an existing object
// means, a canary/update change applied to an object, and the checks an
// expert's YAML must pass. Pure: the service decides what to send.
// Field facts: shared/reference/kserve.md §1.
import yaml from 'js-yaml';
import { MIG_PROFILE_NAME } from '../../../shared/gpu/mig-parted.ts';
import type { DeploymentMode, EndpointChange, EndpointGpu, EndpointSpec, KeyValue, Toleration } from '../../../shared/model/endpoints.ts';
import { parseQuantity } from '../../../shared/quantity.ts';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { GPU_PRODUCT_LABEL, isWholeGpuAffinity, wholeGpuAffinity } from '../nodes/whole-gpu-affinity.ts';

export type KubeObject = Record<string, any>;

export const ISVC_GROUP = 'serving.kserve.io';
export const ISVC_API_VERSION = 'serving.kserve.io/v1beta1';
export const ISVC_KIND = 'InferenceService';
export const DEPLOYMENT_MODE_ANNOTATION = 'serving.kserve.io/deploymentMode';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'tessera' } as const;

/** The framework blocks a PredictorSpec may use instead of `model` (v1beta1). */
export const FRAMEWORK_BLOCKS = ['model', 'sklearn', 'xgboost', 'tensorflow', 'pytorch', 'triton', 'onnx', 'huggingface', 'pmml', 'lightgbm', 'paddle'] as const;

const LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const STORAGE_URI = /^(pvc|s3|gs|hf|oci|https?|hdfs|webhdfs|azure):\/\/\S+$/;

/** KServe ≥0.16 spells the modes Knative/Standard; both spellings mean the same to Tessera. */
export function normalizeMode(v: unknown): DeploymentMode | 'ModelMesh' | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'serverless' || s === 'knative') return 'Serverless';
  if (s === 'rawdeployment' || s === 'standard') return 'RawDeployment';
  if (s === 'modelmesh') return 'ModelMesh';
  return undefined;
}

export function gpuResourceOf(g: EndpointGpu): { name: string; count: number } | undefined {
  if (g.kind === 'none') return undefined;
  return g.kind === 'full' ? { name: 'nvidia.com/gpu', count: g.count } : { name: `nvidia.com/mig-${g.profile}`, count: g.count };
}

/** The contract's flat GPU object as the model's union; a contradiction is a clear error. */
export function gpuFromFlat(g: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string }): { gpu?: EndpointGpu; problem?: string } {
  if (g.kind === 'none') return g.count !== undefined || g.profile !== undefined ? { problem: 'gpu: kind "none" takes no count or profile' } : { gpu: { kind: 'none' } };
  if (g.kind === 'full') return !g.count || g.profile !== undefined ? { problem: 'gpu: kind "full" needs a count (1-16) and no profile' } : { gpu: { kind: 'full', count: g.count } };
  if (!g.profile || !MIG_PROFILE_NAME.test(g.profile)) return { problem: 'gpu: kind "mig" needs a MIG profile such as 1g.10gb' };
  return { gpu: { kind: 'mig', profile: g.profile, count: g.count ?? 1 } };
}

/** Problems with a form spec that the schema cannot see (cross-field rules), in words. */
export function specProblems(spec: EndpointSpec): string[] {
  const p: string[] = [];
  if (!LABEL.test(spec.name) || spec.name.length > 45) p.push(`name: "${spec.name}" must be a lowercase DNS label starting with a letter, at most 45 characters`);
  if (!NAMESPACE.test(spec.namespace)) p.push(`namespace: "${spec.namespace}" is not a namespace name`);
  if (!STORAGE_URI.test(spec.storageUri)) p.push(`storageUri: "${spec.storageUri}" is not a storage URI (pvc://claim/path, s3://, gs://, oci://...)`);
  if (spec.storageUri.startsWith('pvc://') && !/^pvc:\/\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/.*)?$/.test(spec.storageUri)) p.push(`storageUri: "${spec.storageUri}" must name a PVC: pvc://<claim>/<path>`);
  for (const [field, min] of [['cpu', 0.001], ['memory', 2 ** 20]] as const) {
    const v = spec[field];
    if (v === undefined) continue;
    const q = parseQuantity(v);
    if (q === undefined || q < min) p.push(`${field}: "${v}" is too small or not a quantity`);
  }
  if (spec.minReplicas !== undefined && spec.maxReplicas !== undefined && spec.maxReplicas < spec.minReplicas) p.push(`maxReplicas (${spec.maxReplicas}) is below minReplicas (${spec.minReplicas})`);
  if (spec.minReplicas === 0 && spec.deploymentMode === 'RawDeployment') p.push('minReplicas 0 (scale to zero) needs Serverless mode; RawDeployment keeps at least one replica');
  if ((spec.scaleMetric === 'concurrency' || spec.scaleMetric === 'rps') && spec.deploymentMode === 'RawDeployment') p.push(`scaleMetric ${spec.scaleMetric} goes through Knative's autoscaler; RawDeployment scales on cpu or memory`);
  if (spec.gpu.kind !== 'none' && (!Number.isInteger(spec.gpu.count) || spec.gpu.count < 1)) p.push('gpu: count must be a whole number ≥ 1');
  const keys = new Set<string>();
  for (const kv of spec.nodeSelector ?? []) {
    if (keys.has(kv.key)) p.push(`nodeSelector: ${kv.key} is set twice`);
    keys.add(kv.key);
  }
  for (const t of spec.tolerations ?? []) {
    if (t.operator === 'Exists' && t.value) p.push(`tolerations: key ${t.key ?? '(any)'} with operator Exists takes no value`);
    if (!t.key && t.operator !== 'Exists') p.push('tolerations: an empty key needs operator Exists');
  }
  return p;
}

function resources(spec: Pick<EndpointSpec, 'gpu' | 'cpu' | 'memory'>): KubeObject | undefined {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (spec.cpu) requests.cpu = limits.cpu = spec.cpu;
  if (spec.memory) requests.memory = limits.memory = spec.memory;
  const g = gpuResourceOf(spec.gpu);
  // Extended resources cannot be overcommitted: requests must equal limits.
  if (g) requests[g.name] = limits[g.name] = String(g.count);
  return Object.keys(limits).length ? { requests, limits } : undefined;
}

function modelBlock(spec: Pick<EndpointSpec, 'modelFormat' | 'modelFormatVersion' | 'runtime' | 'storageUri' | 'protocolVersion' | 'gpu' | 'cpu' | 'memory'>): KubeObject {
  const res = resources(spec);
  return {
    modelFormat: { name: spec.modelFormat, ...(spec.modelFormatVersion ? { version: spec.modelFormatVersion } : {}) },
    ...(spec.runtime ? { runtime: spec.runtime } : {}),
    storageUri: spec.storageUri,
    ...(spec.protocolVersion ? { protocolVersion: spec.protocolVersion } : {}),
    ...(res ? { resources: res } : {}),
  };
}

/** The InferenceService for a form spec (no status, nothing server-set). */
export function endpointObject(spec: EndpointSpec): KubeObject {
  const predictor: KubeObject = {};
  if (spec.minReplicas !== undefined) predictor.minReplicas = spec.minReplicas;
  if (spec.maxReplicas !== undefined) predictor.maxReplicas = spec.maxReplicas;
  if (spec.scaleTarget !== undefined) predictor.scaleTarget = spec.scaleTarget;
  if (spec.scaleMetric !== undefined) predictor.scaleMetric = spec.scaleMetric;
  if (spec.serviceAccountName) predictor.serviceAccountName = spec.serviceAccountName;
  if (spec.nodeSelector?.length) predictor.nodeSelector = Object.fromEntries(spec.nodeSelector.map((kv) => [kv.key, kv.value]));
  if (spec.tolerations?.length) predictor.tolerations = spec.tolerations.map((t) => ({ ...t }));
  if (spec.gpu.kind === 'full' && !spec.nodeSelector?.some((kv) => kv.key === GPU_PRODUCT_LABEL)) predictor.affinity = wholeGpuAffinity();
  predictor.model = modelBlock(spec);
  return {
    apiVersion: ISVC_API_VERSION,
    kind: ISVC_KIND,
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { ...MANAGED_BY },
      ...(spec.deploymentMode ? { annotations: { [DEPLOYMENT_MODE_ANNOTATION]: spec.deploymentMode } } : {}),
    },
    spec: { predictor },
  };
}

/** Which block of the predictor holds the model: `model`, or a framework block such as `sklearn`. */
export function modelKey(predictor: KubeObject | undefined): string | undefined {
  if (!predictor || typeof predictor !== 'object') return undefined;
  return FRAMEWORK_BLOCKS.find((k) => predictor[k] && typeof predictor[k] === 'object');
}

export function gpuOfResources(res: KubeObject | undefined): EndpointGpu {
  const limits: Record<string, unknown> = { ...(res?.requests ?? {}), ...(res?.limits ?? {}) };
  for (const [k, v] of Object.entries(limits)) {
    const n = Math.floor(parseQuantity(String(v)) ?? 0);
    if (n <= 0) continue;
    if (k === 'nvidia.com/gpu') return { kind: 'full', count: n };
    if (k.startsWith('nvidia.com/mig-')) return { kind: 'mig', profile: k.slice('nvidia.com/mig-'.length), count: n };
  }
  return { kind: 'none' };
}

/** The form spec an object means (best effort: the YAML stays the truth). */
export function specOfObject(obj: KubeObject, defaultMode?: DeploymentMode): EndpointSpec {
  const p: KubeObject = obj.spec?.predictor ?? {};
  const key = modelKey(p);
  const m: KubeObject = key ? p[key] : {};
  const res: KubeObject | undefined = m.resources;
  const mode = normalizeMode(obj.metadata?.annotations?.[DEPLOYMENT_MODE_ANNOTATION]);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const spec: EndpointSpec = {
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace ?? '',
    modelFormat: str(m.modelFormat?.name) ?? (key && key !== 'model' ? key : ''),
    storageUri: str(m.storageUri) ?? '',
    gpu: gpuOfResources(res),
  };
  const opt = <K extends keyof EndpointSpec>(k: K, v: EndpointSpec[K] | undefined) => {
    if (v !== undefined) spec[k] = v;
  };
  opt('modelFormatVersion', str(m.modelFormat?.version));
  opt('runtime', str(m.runtime));
  opt('protocolVersion', m.protocolVersion === 'v1' || m.protocolVersion === 'v2' ? m.protocolVersion : undefined);
  opt('cpu', res?.limits?.cpu !== undefined ? String(res.limits.cpu) : res?.requests?.cpu !== undefined ? String(res.requests.cpu) : undefined);
  opt('memory', res?.limits?.memory !== undefined ? String(res.limits.memory) : res?.requests?.memory !== undefined ? String(res.requests.memory) : undefined);
  opt('minReplicas', typeof p.minReplicas === 'number' ? p.minReplicas : undefined);
  opt('maxReplicas', typeof p.maxReplicas === 'number' ? p.maxReplicas : undefined);
  opt('scaleTarget', typeof p.scaleTarget === 'number' ? p.scaleTarget : undefined);
  opt('scaleMetric', ['concurrency', 'rps', 'cpu', 'memory'].includes(p.scaleMetric) ? p.scaleMetric : undefined);
  opt('deploymentMode', mode === 'Serverless' || mode === 'RawDeployment' ? mode : defaultMode);
  opt('serviceAccountName', str(p.serviceAccountName));
  if (p.nodeSelector && typeof p.nodeSelector === 'object') spec.nodeSelector = Object.entries(p.nodeSelector as Record<string, unknown>).map(([key, value]): KeyValue => ({ key, value: String(value) }));
  if (Array.isArray(p.tolerations)) spec.tolerations = (p.tolerations as KubeObject[]).map((t): Toleration => ({ ...(t.key ? { key: t.key } : {}), ...(t.operator ? { operator: t.operator } : {}), ...(t.value ? { value: t.value } : {}), ...(t.effect ? { effect: t.effect } : {}) }));
  return spec;
}

/** Whether a change would alter the predictor (and so make Knative cut a new revision). */
export function changeAlters(obj: KubeObject, change: EndpointChange): boolean {
  const before = JSON.stringify(stripCanary(obj).spec?.predictor ?? {});
  return JSON.stringify(stripCanary(applyChange(obj, change)).spec?.predictor ?? {}) !== before;
}

function stripCanary(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  if (copy.spec?.predictor) delete copy.spec.predictor.canaryTrafficPercent;
  return copy;
}

/** The object with a change applied to its model block (other predictor fields stay as they are). */
export function applyChange(obj: KubeObject, change: EndpointChange): KubeObject {
  const out = structuredClone(obj);
  out.spec ??= {};
  out.spec.predictor ??= {};
  const p = out.spec.predictor as KubeObject;
  const key = modelKey(p) ?? 'model';
  const m: KubeObject = (p[key] ??= {});
  if (change.modelFormat !== undefined) {
    if (key !== 'model') throw new Error(`the predictor uses the "${key}" framework block, which has no model format to change; edit the YAML to move it to "model"`);
    m.modelFormat = { ...(m.modelFormat ?? {}), name: change.modelFormat };
    if (change.modelFormatVersion === undefined) delete m.modelFormat.version;
  }
  if (change.modelFormatVersion !== undefined) m.modelFormat = { ...(m.modelFormat ?? {}), version: change.modelFormatVersion };
  if (change.runtime !== undefined) m.runtime = change.runtime;
  if (change.storageUri !== undefined) m.storageUri = change.storageUri;
  if (change.protocolVersion !== undefined) m.protocolVersion = change.protocolVersion;
  if (change.gpu !== undefined || change.cpu !== undefined || change.memory !== undefined) {
    const res: KubeObject = structuredClone(m.resources ?? {});
    res.requests ??= {};
    res.limits ??= {};
    if (change.gpu !== undefined) {
      for (const side of [res.requests, res.limits]) for (const k of Object.keys(side)) if (k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')) delete side[k];
      const g = gpuResourceOf(change.gpu);
      if (g) res.requests[g.name] = res.limits[g.name] = String(g.count);
    }
    if (change.cpu !== undefined) res.requests.cpu = res.limits.cpu = change.cpu;
    if (change.memory !== undefined) res.requests.memory = res.limits.memory = change.memory;
    m.resources = res;
  }
  return out;
}

/** What the server set that a create or replace must not carry. */
export function cleanForApply(obj: KubeObject, keepResourceVersion = false): KubeObject {
  const out = structuredClone(obj);
  delete out.status;
  const md = out.metadata ?? {};
  for (const k of ['uid', 'creationTimestamp', 'generation', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds']) delete md[k];
  if (!keepResourceVersion) delete md.resourceVersion;
  return out;
}

/** The object as YAML for display and the expert editor (no managedFields, no status). */
export function toYaml(obj: KubeObject): string {
  const copy = structuredClone(obj);
  if (copy.metadata) delete copy.metadata.managedFields;
  return yaml.dump(copy, { noRefs: true, lineWidth: 120, sortKeys: false });
}

const MAX_NODES = 20_000;

/** Counts values, refusing alias bombs: js-yaml shares aliased nodes, so a small text can mean a huge tree. */
function tooBig(v: unknown, budget = { n: 0 }, depth = 0): boolean {
  if (++budget.n > MAX_NODES || depth > 64) return true;
  if (Array.isArray(v)) return v.some((x) => tooBig(x, budget, depth + 1));
  if (v && typeof v === 'object') return Object.values(v).some((x) => tooBig(x, budget, depth + 1));
  return false;
}

export interface ParsedYaml {
  object?: KubeObject;
  problems: string[];
}

/**
 * An expert's InferenceService YAML as data: one document, the right kind and
 * apiVersion, a name, a namespace (equal to `expect.namespace` when given),
 * and a predictor that names a model. It is only ever sent as an object.
 */
export function parseEndpointYaml(text: string, expect: { namespace?: string; name?: string } = {}): ParsedYaml {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { schema: yaml.CORE_SCHEMA }).filter((d) => d !== null && d !== undefined);
  } catch (err) {
    return { problems: [`YAML does not parse: ${(err as Error).message.split('\n')[0]}`] };
  }
  if (docs.length !== 1) return { problems: [docs.length === 0 ? 'YAML is empty: expected one InferenceService' : `YAML holds ${docs.length} documents: expected exactly one InferenceService`] };
  const doc = docs[0];
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { problems: ['YAML must be a mapping (an InferenceService object)'] };
  if (tooBig(doc)) return { problems: [`YAML is too large or too deeply nested (more than ${MAX_NODES} values, or aliases that expand)`] };
  const obj = JSON.parse(JSON.stringify(doc)) as KubeObject;
  const problems = objectProblems(obj, expect);
  return { object: obj, problems };
}

/** The structural checks an InferenceService object must pass before the server sees it. */
export function objectProblems(obj: KubeObject, expect: { namespace?: string; name?: string } = {}): string[] {
  const p: string[] = [];
  if (obj.apiVersion !== ISVC_API_VERSION) p.push(`apiVersion must be ${ISVC_API_VERSION} (got ${JSON.stringify(obj.apiVersion ?? null)})`);
  if (obj.kind !== ISVC_KIND) p.push(`kind must be ${ISVC_KIND} (got ${JSON.stringify(obj.kind ?? null)})`);
  const md = obj.metadata;
  if (!md || typeof md !== 'object') p.push('metadata is missing');
  const name = md?.name;
  const ns = md?.namespace;
  if (typeof name !== 'string' || !LABEL.test(name) || name.length > 45) p.push(`metadata.name ${JSON.stringify(name ?? null)} must be a lowercase DNS label starting with a letter, at most 45 characters`);
  if (typeof ns !== 'string' || !NAMESPACE.test(ns)) p.push(`metadata.namespace ${JSON.stringify(ns ?? null)} must be set to a namespace name`);
  else if (expect.namespace && ns !== expect.namespace) p.push(`metadata.namespace is ${ns}, but this endpoint is in ${expect.namespace}`);
  if (expect.name && typeof name === 'string' && name !== expect.name) p.push(`metadata.name is ${name}, but this endpoint is ${expect.name} (renaming is a new endpoint)`);
  if (md?.generateName) p.push('metadata.generateName is not supported: give the endpoint a name');
  const mode = md?.annotations?.[DEPLOYMENT_MODE_ANNOTATION];
  if (mode !== undefined && !normalizeMode(mode)) p.push(`annotation ${DEPLOYMENT_MODE_ANNOTATION} "${mode}" is not a deployment mode (Serverless, RawDeployment, Knative, Standard, ModelMesh)`);
  const pred = obj.spec?.predictor;
  if (!pred || typeof pred !== 'object' || Array.isArray(pred)) {
    p.push('spec.predictor is missing: an InferenceService needs a predictor');
    return p;
  }
  const blocks = FRAMEWORK_BLOCKS.filter((k) => pred[k] !== undefined);
  const hasContainers = Array.isArray(pred.containers) && pred.containers.length > 0;
  if (blocks.length > 1) p.push(`spec.predictor has ${blocks.join(' and ')}: exactly one model block is allowed`);
  if (blocks.length === 0 && !hasContainers) p.push('spec.predictor names no model: add spec.predictor.model (modelFormat, storageUri) or a framework block');
  const key = blocks[0];
  if (key) {
    const m = pred[key];
    if (!m || typeof m !== 'object' || Array.isArray(m)) p.push(`spec.predictor.${key} must be an object`);
    else {
      if (key === 'model' && (typeof m.modelFormat?.name !== 'string' || !m.modelFormat.name)) p.push('spec.predictor.model.modelFormat.name is missing');
      if (m.storageUri !== undefined && (typeof m.storageUri !== 'string' || !STORAGE_URI.test(m.storageUri))) p.push(`spec.predictor.${key}.storageUri ${JSON.stringify(m.storageUri)} is not a storage URI`);
      if (m.protocolVersion !== undefined && !['v1', 'v2', 'grpc-v1', 'grpc-v2'].includes(m.protocolVersion)) p.push(`spec.predictor.${key}.protocolVersion must be v1, v2, grpc-v1 or grpc-v2`);
    }
  }
  const ctp = pred.canaryTrafficPercent;
  if (ctp !== undefined && (!Number.isInteger(ctp) || ctp < 0 || ctp > 100)) p.push('spec.predictor.canaryTrafficPercent must be a whole number 0-100');
  for (const f of ['minReplicas', 'maxReplicas'] as const) if (pred[f] !== undefined && (!Number.isInteger(pred[f]) || pred[f] < 0)) p.push(`spec.predictor.${f} must be a whole number ≥ 0`);
  if (Number.isInteger(pred.minReplicas) && Number.isInteger(pred.maxReplicas) && pred.maxReplicas > 0 && pred.maxReplicas < pred.minReplicas) p.push(`spec.predictor.maxReplicas (${pred.maxReplicas}) is below minReplicas (${pred.minReplicas})`);
  return p;
}

export function withoutCanary(obj: KubeObject): KubeObject {
  const out = structuredClone(obj);
  if (out.spec?.predictor) delete out.spec.predictor.canaryTrafficPercent;
  return out;
}

/** The form's fields over the existing object: what the form does not show (args, env, transformer...) stays. */
export function mergeSpec(current: KubeObject, spec: EndpointSpec): KubeObject {
  const md = current.metadata;
  if (spec.namespace !== md.namespace || spec.name !== md.name) throw new TesseraError('INVALID_REQUEST', `the spec is for ${spec.namespace}/${spec.name}, but this endpoint is ${md.namespace}/${md.name}`);
  const problems = specProblems(spec);
  if (problems.length) throw new TesseraError('INVALID_REQUEST', `update of ${md.namespace}/${md.name} refused: ${problems.join('; ')}`, { problems });
  const fresh = endpointObject(spec);
  const next = structuredClone(current);
  const pred: KubeObject = next.spec.predictor ?? {};
  for (const k of ['minReplicas', 'maxReplicas', 'scaleTarget', 'scaleMetric', 'serviceAccountName', 'nodeSelector', 'tolerations']) delete pred[k];
  if (isWholeGpuAffinity(pred.affinity)) delete pred.affinity;
  const key = modelKey(pred) ?? 'model';
  const oldModel: KubeObject = pred[key] ?? {};
  const newModel: KubeObject = fresh.spec.predictor.model;
  const res: KubeObject = structuredClone(oldModel.resources ?? {});
  for (const side of ['requests', 'limits']) {
    const r: KubeObject = res[side] ?? {};
    for (const k of Object.keys(r)) if (k === 'cpu' || k === 'memory' || k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')) delete r[k];
    Object.assign(r, newModel.resources?.[side] ?? {});
    if (Object.keys(r).length) res[side] = r;
    else delete res[side];
  }
  delete pred[key];
  const { modelFormat: _f, runtime: _r, storageUri: _s, protocolVersion: _p, resources: _res, ...rest } = oldModel;
  pred.model = { ...rest, ...newModel, ...(Object.keys(res).length ? { resources: res } : {}) };
  if (!newModel.resources && !Object.keys(res).length) delete pred.model.resources;
  // A user's own affinity (from the YAML tab) wins over the whole-GPU one the form adds.
  Object.assign(pred, Object.fromEntries(Object.entries(fresh.spec.predictor).filter(([k]) => k !== 'model' && !(k === 'affinity' && pred.affinity))));
  next.spec.predictor = pred;
  if (spec.deploymentMode) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DEPLOYMENT_MODE_ANNOTATION]: spec.deploymentMode };
  return next;
}
