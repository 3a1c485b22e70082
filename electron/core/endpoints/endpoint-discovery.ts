// What a cluster offers for serving models: whether KServe is installed (and
// which versions), its (Cluster)ServingRuntimes with formats and protocols,
// the deployment modes (Serverless needs Knative Serving), the default mode
// from inferenceservice-config, and PVCs usable as pvc:// model storage.
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { DeploymentMode, EndpointsDiscovery, ModelStorageClaim, ServingRuntimeInfo, TestProtocol } from '../../../shared/model/endpoints.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import { normalizeMode, type KubeObject } from './endpoint-objects.ts';

/** Where KServe keeps its configuration (the install's own namespace). */
export const KSERVE_CONFIG = { namespace: 'kserve', name: 'inferenceservice-config' } as const;

const isNotFound = (err: unknown) => err instanceof TesseraError && (err.code === 'NOT_FOUND' || (err.details?.status as number | undefined) === 404);

async function optional<T>(kc: KubeAccess, path: string): Promise<T | undefined> {
  try {
    return await kubeJson<T>(kc, path, { action: `read ${path}` });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** A runtime's OpenAI route prefix: the HF runtime's `/openai` (or its env override) + /v1; vLLM's own server is un-prefixed. */
export function openaiPrefixOf(rt: KubeObject): string | undefined {
  const formats: string[] = (rt.spec?.supportedModelFormats ?? []).map((f: KubeObject) => String(f?.name ?? '').toLowerCase());
  const containers: KubeObject[] = rt.spec?.containers ?? [];
  const main = containers.find((c) => c.name === 'kserve-container') ?? containers[0];
  const cmd = [...(main?.command ?? []), ...(main?.args ?? [])].join(' ');
  if (formats.includes('vllm') || cmd.includes('vllm.entrypoints.openai')) return '/v1';
  if (formats.includes('huggingface')) {
    const env = (main?.env ?? []).find((e: KubeObject) => e.name === 'KSERVE_OPENAI_ROUTE_PREFIX');
    const prefix = env && typeof env.value === 'string' ? env.value.replace(/\/+$/, '') : '/openai';
    return `${prefix}/v1`;
  }
  return undefined;
}

export function projectRuntime(rt: KubeObject, kind: ServingRuntimeInfo['kind']): ServingRuntimeInfo {
  const protocolVersions: string[] = Array.isArray(rt.spec?.protocolVersions) ? rt.spec.protocolVersions.map(String) : [];
  const openaiPrefix = openaiPrefixOf(rt);
  // KServe's default when a runtime declares none is v1.
  const http = (protocolVersions.length ? protocolVersions : ['v1']).filter((p): p is 'v1' | 'v2' => p === 'v1' || p === 'v2');
  // vLLM's own server speaks only the OpenAI routes, whatever protocolVersions say.
  const protocols: TestProtocol[] = openaiPrefix === '/v1' && !protocolVersions.length ? [] : [...http].sort();
  if (openaiPrefix) protocols.push('openai-completions', 'openai-chat');
  return {
    name: rt.metadata?.name ?? '',
    kind,
    ...(kind === 'ServingRuntime' && rt.metadata?.namespace ? { namespace: rt.metadata.namespace } : {}),
    formats: (rt.spec?.supportedModelFormats ?? [])
      .filter((f: KubeObject) => typeof f?.name === 'string')
      .map((f: KubeObject) => ({ name: f.name, ...(f.version ? { version: String(f.version) } : {}), autoSelect: f.autoSelect === true, ...(typeof f.priority === 'number' ? { priority: f.priority } : {}) })),
    protocolVersions,
    disabled: rt.spec?.disabled === true,
    multiModel: rt.spec?.multiModel === true,
    ...(openaiPrefix ? { openaiPrefix } : {}),
    protocols,
  };
}

/** defaultDeploymentMode from the `deploy` key of inferenceservice-config (a JSON string). */
export function defaultModeFrom(cm: KubeObject | undefined): DeploymentMode | undefined {
  const raw = cm?.data?.deploy;
  if (typeof raw !== 'string') return undefined;
  try {
    const m = normalizeMode((JSON.parse(raw) as { defaultDeploymentMode?: string }).defaultDeploymentMode);
    return m === 'Serverless' || m === 'RawDeployment' ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface KserveApis {
  installed: boolean;
  versions: string[];
  runtimeApi: boolean;
  knative: boolean;
}

/** Which of KServe's and Knative's APIs the server serves. */
export async function kserveApis(kc: KubeAccess): Promise<KserveApis> {
  const group = await optional<{ versions?: { version: string }[] }>(kc, '/apis/serving.kserve.io');
  const versions = (group?.versions ?? []).map((v) => v.version);
  const resources = async (path: string) => (await optional<{ resources?: { name: string }[] }>(kc, path))?.resources?.map((r) => r.name) ?? [];
  const [v1beta1, v1alpha1, knative] = await Promise.all([
    versions.includes('v1beta1') ? resources('/apis/serving.kserve.io/v1beta1') : Promise.resolve([]),
    versions.includes('v1alpha1') ? resources('/apis/serving.kserve.io/v1alpha1') : Promise.resolve([]),
    optional<{ versions?: unknown[] }>(kc, '/apis/serving.knative.dev'),
  ]);
  return {
    installed: v1beta1.includes('inferenceservices'),
    versions,
    runtimeApi: v1alpha1.includes('servingruntimes') || v1alpha1.includes('clusterservingruntimes'),
    knative: !!knative && (knative.versions ?? []).length > 0,
  };
}

/** Every runtime readable: ClusterServingRuntimes and ServingRuntimes (one namespace, or all; else the fallback). */
export async function listRuntimes(kc: KubeAccess, namespace: string | undefined, fallbackNs?: string): Promise<{ runtimes: ServingRuntimeInfo[]; notes: string[] }> {
  const notes: string[] = [];
  const runtimes: ServingRuntimeInfo[] = [];
  try {
    const csr = await kubeJson<{ items: KubeObject[] }>(kc, '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes', { action: 'list cluster serving runtimes' });
    runtimes.push(...csr.items.map((r) => projectRuntime(r, 'ClusterServingRuntime')));
  } catch (err) {
    notes.push(`ClusterServingRuntimes not readable: ${(err as Error).message}`);
  }
  const nsPath = (ns?: string) => (ns ? `/apis/serving.kserve.io/v1alpha1/namespaces/${ns}/servingruntimes` : '/apis/serving.kserve.io/v1alpha1/servingruntimes');
  try {
    const sr = await kubeJson<{ items: KubeObject[] }>(kc, nsPath(namespace), { action: 'list serving runtimes' }).catch(async (err) => {
      if (!namespace && fallbackNs && err instanceof TesseraError && err.code === 'FORBIDDEN') return kubeJson<{ items: KubeObject[] }>(kc, nsPath(fallbackNs));
      throw err;
    });
    runtimes.push(...sr.items.map((r) => projectRuntime(r, 'ServingRuntime')));
  } catch (err) {
    notes.push(`ServingRuntimes not readable: ${(err as Error).message}`);
  }
  return { runtimes: runtimes.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name)), notes };
}

export function projectClaim(c: KubeObject): ModelStorageClaim {
  return {
    namespace: c.metadata?.namespace ?? '',
    name: c.metadata?.name ?? '',
    ...(c.status?.phase ? { phase: String(c.status.phase) } : {}),
    ...(c.status?.capacity?.storage ?? c.spec?.resources?.requests?.storage ? { size: String(c.status?.capacity?.storage ?? c.spec?.resources?.requests?.storage) } : {}),
    accessModes: Array.isArray(c.spec?.accessModes) ? c.spec.accessModes.map(String) : [],
    uri: `pvc://${c.metadata?.name}/`,
  };
}

export interface DiscoverInput {
  clusterId: string;
  kc: KubeAccess;
  namespace?: string;
  /** The context's namespace: used when cluster-wide reads are forbidden. */
  fallbackNs?: string;
}

export async function discover(i: DiscoverInput): Promise<EndpointsDiscovery> {
  const { kc } = i;
  const apis = await kserveApis(kc);
  const notes: string[] = [];
  if (!apis.installed) notes.push(apis.versions.length ? `serving.kserve.io is served (${apis.versions.join(', ')}) but without InferenceServices in v1beta1` : 'KServe is not installed here: the API group serving.kserve.io is not served');
  const { runtimes, notes: rtNotes } = apis.installed && apis.runtimeApi ? await listRuntimes(kc, i.namespace, i.fallbackNs) : { runtimes: [], notes: [] };
  notes.push(...rtNotes);
  if (apis.installed && !apis.runtimeApi) notes.push('no ServingRuntime API (KServe older than 0.7?): the runtime is chosen from the predictor\'s framework block');
  const cm = await optional<KubeObject>(kc, `/api/v1/namespaces/${KSERVE_CONFIG.namespace}/configmaps/${KSERVE_CONFIG.name}`).catch(() => undefined);
  const configured = defaultModeFrom(cm);
  // KServe's code falls back to Standard (RawDeployment) for an empty setting.
  const defaultMode: DeploymentMode = configured ?? 'RawDeployment';
  const modes: DeploymentMode[] = apis.knative ? ['Serverless', 'RawDeployment'] : ['RawDeployment'];
  if (!apis.knative) notes.push('Serverless mode needs Knative Serving (serving.knative.dev), which is not installed: endpoints run as RawDeployment, without revisions or canaries');
  if (defaultMode === 'Serverless' && !apis.knative) notes.push('inferenceservice-config defaults to Serverless but Knative is missing: choose RawDeployment explicitly');
  const pvcPath = i.namespace ? `/api/v1/namespaces/${i.namespace}/persistentvolumeclaims` : '/api/v1/persistentvolumeclaims';
  let storage: ModelStorageClaim[] = [];
  try {
    storage = (await kubeJson<{ items: KubeObject[] }>(kc, pvcPath, { action: 'list volume claims' })).items.map(projectClaim);
  } catch (err) {
    notes.push(`volume claims not readable: ${(err as Error).message}`);
  }
  let namespaces: string[] = [];
  try {
    namespaces = (await kubeJson<{ items: KubeObject[] }>(kc, '/api/v1/namespaces', { action: 'list namespaces' })).items.map((n) => n.metadata.name as string).sort();
  } catch {
    namespaces = i.fallbackNs ? [i.fallbackNs] : [];
  }
  return {
    clusterId: i.clusterId,
    installed: apis.installed,
    versions: apis.versions,
    runtimeApi: apis.runtimeApi,
    runtimes,
    knative: apis.knative,
    modes,
    defaultMode,
    defaultModeSource: configured ? 'inferenceservice-config' : 'fallback',
    storage: storage.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)),
    namespaces,
    notes,
  };
}
