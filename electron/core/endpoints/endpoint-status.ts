// What an InferenceService's status says, as Tessera shows it: readiness
// (Ready is the single source of truth, kserve.md §2), the failing
// condition's reason, traffic by revision (Serverless only), and the GPUs its
// predictor pods hold. Pure: objects in, rows out.
import type { DeploymentMode, Endpoint, EndpointCondition, EndpointPod, EndpointState, GpuHeld, RevisionInfo, ServingRuntimeInfo, TestProtocol, TrafficTarget } from '../../../shared/model/endpoints.ts';
import { endpointGpuLabel } from '../../../shared/model/endpoints.ts';
import { parseQuantity } from '../../../shared/quantity.ts';
import { DEPLOYMENT_MODE_ANNOTATION, modelKey, normalizeMode, specOfObject, type KubeObject } from './endpoint-objects.ts';

/** Labels KServe (and Knative) put on predictor pods. */
export const ISVC_POD_LABEL = 'serving.kserve.io/inferenceservice';
export const REVISION_POD_LABEL = 'serving.knative.dev/revision';

/** failureInfo reasons (v0.20 constants) and Knative's revision failures: these mean "failed", not "still coming up". */
export const FAILURE_REASONS = new Set(['ModelLoadFailed', 'RuntimeUnhealthy', 'RuntimeDisabled', 'NoSupportingRuntime', 'RuntimeNotRecognized', 'InvalidPredictorSpec', 'RevisionFailed', 'ContainerMissing', 'ExitCode', 'ProgressDeadlineExceeded']);

const tri = (v: unknown): 'True' | 'False' | 'Unknown' => (v === 'True' || v === 'False' ? v : 'Unknown');

export function conditionsOf(obj: KubeObject): EndpointCondition[] {
  const list: KubeObject[] = Array.isArray(obj.status?.conditions) ? obj.status.conditions : [];
  return list
    .filter((c) => typeof c?.type === 'string')
    .map((c) => ({
      type: c.type,
      status: tri(c.status),
      ...(c.reason ? { reason: String(c.reason) } : {}),
      ...(c.message ? { message: String(c.message) } : {}),
      ...(c.severity ? { severity: String(c.severity) } : {}),
      ...(c.lastTransitionTime ? { lastTransitionTime: String(c.lastTransitionTime) } : {}),
    }));
}

/** Why the latest revision or model failed: modelStatus.lastFailureInfo, else a failing condition. */
export function failureOf(obj: KubeObject): { reason?: string; message?: string } | undefined {
  const info = obj.status?.modelStatus?.lastFailureInfo;
  if (info?.reason) return { reason: String(info.reason), ...(info.message ? { message: String(info.message) } : {}) };
  const c = conditionsOf(obj).find((x) => x.status === 'False' && x.reason && FAILURE_REASONS.has(x.reason));
  return c ? { ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) } : undefined;
}

export function trafficOf(obj: KubeObject): TrafficTarget[] {
  const t: KubeObject[] = Array.isArray(obj.status?.components?.predictor?.traffic) ? obj.status.components.predictor.traffic : [];
  const latest = obj.status?.components?.predictor?.latestCreatedRevision;
  return t
    .map((x) => {
      const revision = String(x.revisionName ?? (x.latestRevision ? (latest ?? 'latest') : ''));
      return {
        revision,
        percent: typeof x.percent === 'number' ? x.percent : 0,
        latest: x.latestRevision === true,
        ...(x.tag ? { tag: String(x.tag) } : {}),
        ...(x.url ? { url: String(x.url) } : {}),
      };
    })
    .filter((x) => x.revision);
}

/** The mode an object runs in: its annotation, else what the status says, else the cluster default. */
export function modeOf(obj: KubeObject, defaultMode?: DeploymentMode): Endpoint['mode'] {
  return normalizeMode(obj.metadata?.annotations?.[DEPLOYMENT_MODE_ANNOTATION]) ?? normalizeMode(obj.status?.deploymentMode) ?? defaultMode ?? 'unknown';
}

/** Which predictor pods count: not finished and not being deleted. */
export function livePods(pods: KubeObject[]): KubeObject[] {
  return pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

export function podReady(p: KubeObject): boolean {
  return p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');
}

export function gpusOfPod(p: KubeObject): GpuHeld[] {
  const sum = new Map<string, number>();
  for (const c of p.spec?.containers ?? []) {
    const r: Record<string, unknown> = { ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) };
    for (const [k, v] of Object.entries(r)) {
      if (k !== 'nvidia.com/gpu' && !k.startsWith('nvidia.com/mig-')) continue;
      const n = Math.floor(parseQuantity(String(v)) ?? 0);
      if (n > 0) sum.set(k, (sum.get(k) ?? 0) + n);
    }
  }
  return [...sum].map(([resource, count]) => ({ resource, count }));
}

function addHeld(into: Map<string, number>, held: GpuHeld[]): void {
  for (const g of held) into.set(g.resource, (into.get(g.resource) ?? 0) + g.count);
}

/** The test protocols a runtime speaks given the endpoint's protocolVersion (absent: whatever the runtime declares). */
export function protocolsFor(runtime: ServingRuntimeInfo | undefined, protocolVersion: string | undefined): TestProtocol[] {
  if (!runtime) return protocolVersion === 'v1' || protocolVersion === 'v2' ? [protocolVersion] : ['v1'];
  const openai = runtime.protocols.filter((p) => p.startsWith('openai'));
  const http = runtime.protocols.filter((p) => p === 'v1' || p === 'v2');
  const chosen = protocolVersion === 'v1' || protocolVersion === 'v2' ? (http.includes(protocolVersion) ? [protocolVersion] : []) : http;
  return [...chosen, ...openai] as TestProtocol[];
}

/** The runtime an object uses: named in its spec, else the one the controller reports it picked. */
export function runtimeNameOf(obj: KubeObject): string | undefined {
  const p = obj.spec?.predictor;
  const key = modelKey(p);
  const named = key ? p[key]?.runtime : undefined;
  return (typeof named === 'string' && named) || obj.status?.servingRuntimeName || obj.status?.clusterServingRuntimeName || undefined;
}

/** Finds a runtime by name: a namespaced ServingRuntime wins over a ClusterServingRuntime of the same name (as in KServe). */
export function findRuntime(runtimes: ServingRuntimeInfo[], name: string | undefined, namespace: string): ServingRuntimeInfo | undefined {
  if (!name) return undefined;
  return runtimes.find((r) => r.kind === 'ServingRuntime' && r.namespace === namespace && r.name === name) ?? runtimes.find((r) => r.kind === 'ClusterServingRuntime' && r.name === name);
}

/** The runtime KServe would auto-select for a format: enabled, autoSelect, highest priority; namespaced first. */
export function autoSelectRuntime(runtimes: ServingRuntimeInfo[], format: string, namespace: string, protocolVersion?: string): ServingRuntimeInfo | undefined {
  const fits = runtimes.filter(
    (r) => !r.disabled && (r.kind === 'ClusterServingRuntime' || r.namespace === namespace) && r.formats.some((f) => f.autoSelect && f.name.toLowerCase() === format.toLowerCase()) && (!protocolVersion || r.protocolVersions.includes(protocolVersion)),
  );
  const prio = (r: ServingRuntimeInfo) => Math.max(0, ...r.formats.filter((f) => f.name.toLowerCase() === format.toLowerCase()).map((f) => f.priority ?? 1));
  return fits.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'ServingRuntime' ? -1 : 1) || prio(b) - prio(a))[0];
}

function summarize(obj: KubeObject, conditions: EndpointCondition[], upToDate: boolean, traffic: TrafficTarget[]): { state: EndpointState; reason?: string; message?: string } {
  const ready = conditions.find((c) => c.type === 'Ready');
  const stopped = conditions.find((c) => c.type === 'Stopped' && c.status === 'True');
  if (stopped) return { state: 'stopped', reason: stopped.reason ?? 'Stopped', ...(stopped.message ? { message: stopped.message } : {}) };
  const failure = obj.status?.modelStatus?.lastFailureInfo;
  const failed = conditions.find((c) => c.status === 'False' && c.reason && FAILURE_REASONS.has(c.reason));
  const firstBad = conditions.find((c) => c.type !== 'Ready' && c.status !== 'True') ?? (ready && ready.status !== 'True' ? ready : undefined);
  const why = failed ?? firstBad;
  const reasonOf = () => ({
    ...(why?.reason ? { reason: why.reason } : failure?.reason ? { reason: String(failure.reason) } : {}),
    ...(why?.message ? { message: why.message } : failure?.message ? { message: String(failure.message) } : {}),
  });
  const split = traffic.filter((t) => t.percent > 0).length > 1;
  if (ready?.status === 'True') {
    // A canary whose new revision failed still serves from the previous one: ready, but say why the canary is not.
    if (split || typeof obj.spec?.predictor?.canaryTrafficPercent === 'number') return { state: 'canary', ...(failed ? reasonOf() : {}) };
    return upToDate ? { state: 'ready' } : { state: 'progressing', reason: 'Reconciling', message: 'the controller has not yet seen the latest spec' };
  }
  if (failed || (failure && ['BlockedByFailedLoad', 'InvalidSpec'].includes(obj.status?.modelStatus?.transitionStatus))) return { state: 'failed', ...reasonOf() };
  if (ready?.status === 'False' && upToDate) return { state: 'failed', ...reasonOf() };
  if (!ready && !obj.status) return { state: 'progressing', reason: 'Pending', message: 'no status yet: is a KServe controller running?' };
  return { state: 'progressing', ...reasonOf() };
}

export interface ProjectInput {
  clusterId: string;
  obj: KubeObject;
  pods: KubeObject[];
  now: number;
  runtimes: ServingRuntimeInfo[];
  defaultMode?: DeploymentMode;
}

/** One endpoint row from its InferenceService and its predictor pods. */
export function projectEndpoint(i: ProjectInput): Endpoint {
  const { obj } = i;
  const md = obj.metadata ?? {};
  const conditions = conditionsOf(obj);
  const mode = modeOf(obj, i.defaultMode);
  const traffic = mode === 'RawDeployment' ? [] : trafficOf(obj);
  const generation = typeof md.generation === 'number' ? md.generation : undefined;
  const observedGeneration = typeof obj.status?.observedGeneration === 'number' ? obj.status.observedGeneration : undefined;
  const upToDate = generation === undefined || (observedGeneration !== undefined && observedGeneration >= generation);
  const readyCond = conditions.find((c) => c.type === 'Ready');
  const sum = summarize(obj, conditions, upToDate, traffic);
  const spec = specOfObject(obj, mode === 'Serverless' || mode === 'RawDeployment' ? mode : undefined);
  const live = livePods(i.pods);
  const held = new Map<string, number>();
  for (const p of live) if (p.status?.phase === 'Running' || p.spec?.nodeName) addHeld(held, gpusOfPod(p));
  const pred = obj.status?.components?.predictor ?? {};
  const runtime = runtimeNameOf(obj);
  const rt = findRuntime(i.runtimes, runtime, md.namespace ?? '') ?? (spec.modelFormat ? autoSelectRuntime(i.runtimes, spec.modelFormat, md.namespace ?? '', spec.protocolVersion) : undefined);
  const created = md.creationTimestamp ? Date.parse(md.creationTimestamp) : NaN;
  const ctp = obj.spec?.predictor?.canaryTrafficPercent;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const e: Endpoint = {
    clusterId: i.clusterId,
    namespace: md.namespace ?? '',
    name: md.name ?? '',
    ageSeconds: Number.isFinite(created) ? Math.max(0, Math.round((i.now - created) / 1000)) : 0,
    mode,
    state: sum.state,
    ready: readyCond?.status ?? 'Unknown',
    conditions,
    gpu: spec.gpu,
    gpuLabel: endpointGpuLabel(spec.gpu),
    gpusHeld: [...held].map(([resource, count]) => ({ resource, count })),
    replicas: {
      ready: live.filter(podReady).length,
      total: live.length,
      ...(spec.minReplicas !== undefined ? { min: spec.minReplicas } : {}),
      ...(spec.maxReplicas !== undefined ? { max: spec.maxReplicas } : {}),
    },
    traffic,
    upToDate,
    spec,
    protocols: protocolsFor(rt, spec.protocolVersion),
  };
  const opt = <K extends keyof Endpoint>(k: K, v: Endpoint[K] | undefined) => {
    if (v !== undefined) e[k] = v;
  };
  opt('createdAt', str(md.creationTimestamp));
  opt('reason', sum.reason);
  opt('message', sum.message);
  opt('url', str(obj.status?.url));
  opt('runtime', runtime ?? rt?.name);
  opt('modelFormat', spec.modelFormat || undefined);
  opt('storageUri', spec.storageUri || undefined);
  opt('protocolVersion', spec.protocolVersion);
  opt('latestReadyRevision', str(pred.latestReadyRevision));
  opt('latestCreatedRevision', str(pred.latestCreatedRevision));
  opt('latestRolledoutRevision', str(pred.latestRolledoutRevision));
  opt('previousRolledoutRevision', str(pred.previousRolledoutRevision));
  opt('canaryTrafficPercent', typeof ctp === 'number' ? ctp : undefined);
  opt('generation', generation);
  opt('observedGeneration', observedGeneration);
  return e;
}

/** Pods as the detail shows them, with GPU utilisation filled in by the caller when known. */
export function projectPod(p: KubeObject): EndpointPod {
  const statuses: KubeObject[] = p.status?.containerStatuses ?? [];
  const bad = statuses.map((s) => s.state?.waiting?.reason ?? s.state?.terminated?.reason ?? s.lastState?.terminated?.reason).find(Boolean);
  const sched = (p.status?.conditions ?? []).find((c: KubeObject) => c.type === 'PodScheduled' && c.status === 'False');
  const reason = bad ?? sched?.reason ?? p.status?.reason;
  return {
    name: p.metadata?.name ?? '',
    ...(p.metadata?.labels?.[REVISION_POD_LABEL] ? { revision: p.metadata.labels[REVISION_POD_LABEL] } : {}),
    phase: p.metadata?.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending'),
    ready: podReady(p),
    ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
    restarts: statuses.reduce((n, s) => n + (Number(s.restartCount) || 0), 0),
    ...(reason ? { reason: String(reason) } : {}),
    gpus: gpusOfPod(p),
  };
}

/**
 * Each revision of a Serverless endpoint with its share, readiness and pods.
 * Readiness comes from what the ISVC status says about the revision (latest
 * ready / latest created with a failure), and else from its pods.
 */
export function revisionsOf(e: Endpoint, pods: EndpointPod[], failedReason?: { reason?: string; message?: string }): RevisionInfo[] {
  if (e.mode === 'RawDeployment') return [];
  const names = new Set<string>(e.traffic.map((t) => t.revision));
  for (const r of [e.latestCreatedRevision, e.latestReadyRevision, e.latestRolledoutRevision]) if (r) names.add(r);
  for (const p of pods) if (p.revision) names.add(p.revision);
  const out: RevisionInfo[] = [];
  for (const name of names) {
    const t = e.traffic.filter((x) => x.revision === name);
    const mine = pods.filter((p) => p.revision === name && p.phase !== 'Terminating');
    const readyPods = mine.filter((p) => p.ready).length;
    const failedLatest = name === e.latestCreatedRevision && name !== e.latestReadyRevision && failedReason?.reason && FAILURE_REASONS.has(failedReason.reason);
    const ready: RevisionInfo['ready'] = failedLatest ? 'False' : name === e.latestReadyRevision || (mine.length > 0 && readyPods === mine.length) ? 'True' : 'Unknown';
    const utils = mine.map((p) => p.gpuUtilPct).filter((u): u is number => u !== undefined);
    out.push({
      name,
      percent: t.reduce((n, x) => n + x.percent, 0),
      latest: name === e.latestCreatedRevision || t.some((x) => x.latest),
      ...(t.find((x) => x.tag)?.tag ? { tag: t.find((x) => x.tag)!.tag! } : {}),
      ready,
      ...(failedLatest && failedReason?.reason ? { reason: failedReason.reason } : {}),
      ...(failedLatest && failedReason?.message ? { message: failedReason.message } : {}),
      pods: mine.length,
      readyPods,
      ...(utils.length ? { gpuUtilPct: Math.round((utils.reduce((a, b) => a + b, 0) / utils.length) * 10) / 10 } : {}),
    });
  }
  // Newest first: revision names end in a zero-padded counter.
  return out.sort((a, b) => b.name.localeCompare(a.name));
}
