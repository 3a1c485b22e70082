// The create form's draft and how it becomes the contract's EndpointSpec.
// Pure (no React, no store), so the rules are unit-tested on their own.
import type { DeploymentMode, EndpointSpec, ServingRuntimeInfo, Toleration } from '../../../shared/model/endpoints.ts';

/** The node label the GPU pools are named by (GPU Feature Discovery). */
export const POOL_LABEL = 'nvidia.com/gpu.product';

export interface EpDraft {
  clusterId: string;
  name: string;
  namespace: string;
  modelFormat: string;
  /** '' lets KServe pick an autoSelect runtime for the format. */
  runtime: string;
  protocolVersion: '' | 'v1' | 'v2';
  /** 'pvc': a claim in the namespace plus a path in it; 'uri': any other storage URI. */
  storage: 'pvc' | 'uri';
  pvc: string;
  modelPath: string;
  uri: string;
  /** "none", "full:<pool>" or "mig:<profile>@<pool>". */
  gpuChoice: string;
  gpuCount: number;
  cpu: string;
  memory: string;
  minReplicas: string;
  maxReplicas: string;
  scaleTarget: string;
  scaleMetric: '' | 'concurrency' | 'rps' | 'cpu' | 'memory';
  /** '' takes the cluster's default (inferenceservice-config). */
  deploymentMode: '' | DeploymentMode;
  serviceAccountName: string;
  /** key=value, one per line. */
  nodeSelector: string;
  /** key[=value][:Effect], one per line; no value means operator Exists. */
  tolerations: string;
}

export const EMPTY_DRAFT: Omit<EpDraft, 'clusterId'> = {
  name: '',
  namespace: '',
  modelFormat: '',
  runtime: '',
  protocolVersion: '',
  storage: 'pvc',
  pvc: '',
  modelPath: '',
  uri: '',
  gpuChoice: 'none',
  gpuCount: 1,
  cpu: '1',
  memory: '2Gi',
  minReplicas: '1',
  maxReplicas: '',
  scaleTarget: '',
  scaleMetric: '',
  deploymentMode: '',
  serviceAccountName: '',
  nodeSelector: '',
  tolerations: '',
};

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

export function parseTolerations(text: string): { tolerations: Toleration[]; problems: string[] } {
  const tolerations: Toleration[] = [];
  const problems: string[] = [];
  for (const line of lines(text)) {
    const m = /^([^=:\s]*)(?:=([^:\s]*))?(?::(\S+))?$/.exec(line);
    if (!m) {
      problems.push(`toleration "${line}" must read key=value:Effect, key:Effect or key`);
      continue;
    }
    const [, key = '', value, effect] = m;
    if (effect && !(EFFECTS as readonly string[]).includes(effect)) {
      problems.push(`toleration "${line}": the effect must be one of ${EFFECTS.join(', ')}`);
      continue;
    }
    if (!key && value !== undefined) {
      problems.push(`toleration "${line}": a value needs a key`);
      continue;
    }
    tolerations.push({
      ...(key ? { key } : {}),
      operator: value !== undefined ? 'Equal' : 'Exists',
      ...(value !== undefined ? { value } : {}),
      ...(effect ? { effect: effect as Toleration['effect'] } : {}),
    });
  }
  return { tolerations, problems };
}

export function parseNodeSelector(text: string): { pairs: { key: string; value: string }[]; problems: string[] } {
  const pairs: { key: string; value: string }[] = [];
  const problems: string[] = [];
  for (const line of lines(text)) {
    const i = line.indexOf('=');
    if (i <= 0) problems.push(`node selector "${line}" must read key=value`);
    else pairs.push({ key: line.slice(0, i).trim(), value: line.slice(i + 1).trim() });
  }
  return { pairs, problems };
}

/** The storage URI the draft names: `pvc://<claim>/<path>` or the URI typed in. */
export function draftStorageUri(d: EpDraft): string {
  if (d.storage === 'uri') return d.uri.trim();
  if (!d.pvc) return '';
  const path = d.modelPath.trim().replace(/^\/+/, '');
  return `pvc://${d.pvc}/${path}`;
}

/** Public model hubs and clouds that an air-gapped site cannot reach. */
export function unreachableHint(uri: string): string | undefined {
  if (/^hf:\/\//.test(uri)) return 'hf:// fetches from the Hugging Face hub, which an air-gapped site cannot reach; copy the model into a PVC or an in-site object store.';
  if (/^gs:\/\//.test(uri)) return 'gs:// is Google Cloud Storage, unreachable from an air-gapped site unless mirrored.';
  if (/^https?:\/\/([^/]*\.)?(huggingface\.co|github\.com|githubusercontent\.com|amazonaws\.com|googleapis\.com)\b/.test(uri)) return 'this is a public internet address, unreachable from an air-gapped site.';
  return undefined;
}

function int(text: string, what: string, problems: string[]): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (!/^\d+$/.test(t)) {
    problems.push(`${what} must be a whole number`);
    return undefined;
  }
  return Number(t);
}

/**
 * The draft as a contract spec, plus the problems the form can see by itself
 * (core checks everything again, with RBAC and the server's dry run).
 */
export function draftSpec(d: EpDraft): { spec: EndpointSpec; problems: string[] } {
  const problems: string[] = [];
  const [kind, rest = ''] = d.gpuChoice.split(/:(.*)/s) as [string, string?];
  let gpu: EndpointSpec['gpu'] = { kind: 'none' };
  let pool = '';
  if (kind === 'full') {
    gpu = { kind: 'full', count: d.gpuCount };
    pool = rest;
  } else if (kind === 'mig') {
    const [profile = '', p = ''] = rest.split('@');
    gpu = { kind: 'mig', profile, count: d.gpuCount };
    pool = p;
  }
  const sel = parseNodeSelector(d.nodeSelector);
  const tol = parseTolerations(d.tolerations);
  problems.push(...sel.problems, ...tol.problems);
  // The GPU picked from a pool pins the predictor to that pool, unless the expert already chose one.
  const nodeSelector = pool && !sel.pairs.some((p) => p.key === POOL_LABEL) ? [...sel.pairs, { key: POOL_LABEL, value: pool }] : sel.pairs;
  const minReplicas = int(d.minReplicas, 'min replicas', problems);
  const maxReplicas = int(d.maxReplicas, 'max replicas', problems);
  const scaleTarget = int(d.scaleTarget, 'scale target', problems);
  if (minReplicas !== undefined && maxReplicas !== undefined && maxReplicas < minReplicas) problems.push(`max replicas (${maxReplicas}) is below min replicas (${minReplicas})`);
  if (minReplicas === 0 && d.deploymentMode === 'RawDeployment') problems.push('min replicas 0 (scale to zero) needs Serverless mode');
  const storageUri = draftStorageUri(d);
  if (!d.name) problems.push('the endpoint needs a name');
  if (!d.modelFormat) problems.push('pick a model format');
  if (!storageUri) problems.push(d.storage === 'pvc' ? 'pick the PVC that holds the model' : 'give the storage URI of the model');
  const spec: EndpointSpec = {
    name: d.name,
    namespace: d.namespace,
    modelFormat: d.modelFormat,
    ...(d.runtime ? { runtime: d.runtime } : {}),
    storageUri,
    ...(d.protocolVersion ? { protocolVersion: d.protocolVersion } : {}),
    gpu,
    ...(d.cpu.trim() ? { cpu: d.cpu.trim() } : {}),
    ...(d.memory.trim() ? { memory: d.memory.trim() } : {}),
    ...(minReplicas !== undefined ? { minReplicas } : {}),
    ...(maxReplicas !== undefined ? { maxReplicas } : {}),
    ...(scaleTarget !== undefined ? { scaleTarget } : {}),
    ...(d.scaleMetric ? { scaleMetric: d.scaleMetric } : {}),
    ...(d.deploymentMode ? { deploymentMode: d.deploymentMode } : {}),
    ...(d.serviceAccountName.trim() ? { serviceAccountName: d.serviceAccountName.trim() } : {}),
    ...(nodeSelector.length ? { nodeSelector } : {}),
    ...(tol.tolerations.length ? { tolerations: tol.tolerations } : {}),
  };
  return { spec, problems };
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Runtimes that can serve a format in a namespace: enabled, cluster-wide or in that namespace. */
export function compatibleRuntimes(runtimes: ServingRuntimeInfo[], format: string, namespace: string): ServingRuntimeInfo[] {
  return runtimes.filter((r) => !r.disabled && (r.kind === 'ClusterServingRuntime' || r.namespace === namespace) && r.formats.some((f) => same(f.name, format)));
}

/**
 * The runtime KServe would pick for a format when none is named: among the
 * autoSelect ones, namespaced runtimes first, then the highest priority, then the name.
 */
export function autoRuntime(runtimes: ServingRuntimeInfo[], format: string, namespace: string): ServingRuntimeInfo | undefined {
  const ranked = compatibleRuntimes(runtimes, format, namespace)
    .map((r) => ({ r, f: r.formats.find((x) => same(x.name, format) && x.autoSelect) }))
    .filter((x) => x.f)
    .sort((a, b) => Number(b.r.kind === 'ServingRuntime') - Number(a.r.kind === 'ServingRuntime') || (b.f!.priority ?? 0) - (a.f!.priority ?? 0) || a.r.name.localeCompare(b.r.name));
  return ranked[0]?.r;
}

/** Every model format some enabled runtime in the namespace supports, sorted. */
export function formatsOffered(runtimes: ServingRuntimeInfo[], namespace: string): string[] {
  const seen = new Map<string, string>();
  for (const r of runtimes) {
    if (r.disabled || (r.kind === 'ServingRuntime' && r.namespace !== namespace)) continue;
    for (const f of r.formats) if (!seen.has(f.name.toLowerCase())) seen.set(f.name.toLowerCase(), f.name);
  }
  return [...seen.values()].sort((a, b) => a.localeCompare(b));
}

