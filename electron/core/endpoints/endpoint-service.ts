// KServe inference endpoints on the connected clusters: discover what can be
// served, preview/create/edit InferenceServices (RBAC, local checks and the
// server's dry run first), list and detail them with readiness, traffic and
// GPU use, canary/promote/rollback in Serverless mode, a readiness-gated
// update in RawDeployment, test requests and load tests against their own
// URLs, and delete. Every change goes into the audit trail.
import { randomUUID } from 'node:crypto';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { EndpointLogs } from '../../../shared/contract/endpoints.ts';
import { gpuOffers } from '../../../shared/gpu/gpu-offers.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { AccessCheck } from '../../../shared/model/cluster.ts';
import type {
  DeleteStatement,
  DeploymentMode,
  Endpoint,
  EndpointAccess,
  EndpointChange,
  EndpointDetail,
  EndpointEvent,
  EndpointPreview,
  EndpointsDiscovery,
  EndpointSpec,
  EndpointUpdateResult,
  LoadTestProgress,
  LoadTestResult,
  ProbeResult,
  ServingRuntimeInfo,
  TestProtocol,
  TestResult,
  UpdateStep,
} from '../../../shared/model/endpoints.ts';
import { ENDPOINT_ACTION_VERBS, type EndpointAction } from '../../../shared/model/endpoints.ts';
import type { NodeRow } from '../../../shared/model/node.ts';
import type { GpuOffer } from '../../../shared/model/workstation.ts';
import type { Clock } from '../clock.ts';
import type { AccessRequest } from '../clusters/cluster-connection.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson, kubeText } from '../kube/kube-http.ts';
import { loadTest, probe, probesFor, requestFor, resolveTarget, testOnce } from './endpoint-dataplane.ts';
import { discover, kserveApis, listRuntimes, defaultModeFrom, KSERVE_CONFIG, type KserveApis } from './endpoint-discovery.ts';
import { modeProblems, runtimeProblems } from './endpoint-checks.ts';
import { podGpuUsage } from './endpoint-metrics.ts';
import { waitLive } from './endpoint-wait.ts';
import {
  applyChange,
  changeAlters,
  cleanForApply,
  DEPLOYMENT_MODE_ANNOTATION,
  endpointObject,
  gpuFromFlat,
  gpuOfResources,
  mergeSpec,
  ISVC_GROUP,
  modelKey,
  normalizeMode,
  objectProblems,
  parseEndpointYaml,
  specProblems,
  toYaml,
  withoutCanary,
  type KubeObject,
} from './endpoint-objects.ts';
import { autoSelectRuntime, failureOf, FAILURE_REASONS, findRuntime, ISVC_POD_LABEL, livePods, modeOf, projectEndpoint, projectPod, revisionsOf, runtimeNameOf } from './endpoint-status.ts';
import type { ClusterHandle } from '../clusters/cluster-handle.ts';
import { listAcross } from '../clusters/across-clusters.ts';
import { permissionName } from '../../../shared/model/permissions.ts';

export type EpCluster = ClusterHandle;

export interface EndpointServiceOptions {
  clock: Clock;
  cluster(id: string): EpCluster;
  connectedIds(): string[];
  nodes(id: string): Promise<NodeRow[]>;
  audit(input: AuditInput): Promise<unknown>;
  /** Default wait of a gated update (300 s) and its poll interval (500 ms). */
  waitMs?: number;
  pollMs?: number;
}

/** The request's flat spec (as the contract carries it). */
export type FlatSpec = Omit<EndpointSpec, 'gpu'> & { gpu: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string } };
export type FlatChange = Omit<EndpointChange, 'gpu'> & { gpu?: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string } };

export const ISVCS = (ns?: string) => (ns ? `/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices` : '/apis/serving.kserve.io/v1beta1/inferenceservices');
const PODS = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods');
const MERGE = 'application/merge-patch+json';
const LIST_SEL = `?labelSelector=${encodeURIComponent(ISVC_POD_LABEL)}`;

const statusOf = (err: unknown) => (err as TesseraError).details?.status as number | undefined;
const isNotFound = (err: unknown) => err instanceof TesseraError && (err.code === 'NOT_FOUND' || statusOf(err) === 404);

/** Form spec from the contract's flat GPU object; a contradiction is a clear error, nothing sent. */
export function specFromFlat(flat: FlatSpec): EndpointSpec {
  const { gpu, problem } = gpuFromFlat(flat.gpu);
  if (!gpu) throw new TesseraError('INVALID_REQUEST', problem ?? 'gpu is not valid');
  return { ...flat, gpu };
}

export function changeFromFlat(flat: FlatChange): EndpointChange {
  if (!flat.gpu) return flat as EndpointChange;
  const { gpu, problem } = gpuFromFlat(flat.gpu);
  if (!gpu) throw new TesseraError('INVALID_REQUEST', problem ?? 'gpu is not valid');
  return { ...flat, gpu };
}

interface ClusterContext {
  at: number;
  apis: KserveApis;
  runtimes: ServingRuntimeInfo[];
  defaultMode: DeploymentMode;
}

export class EndpointService {
  private readonly ctxCache = new Map<string, ClusterContext>();

  constructor(private readonly o: EndpointServiceOptions) {}

  // ---------- discovery and reading ----------

  async discover(id: string, namespace?: string): Promise<EndpointsDiscovery> {
    const c = this.o.cluster(id);
    return discover({ clusterId: id, kc: await c.kubeConfig(), ...(namespace ? { namespace } : {}), ...(c.namespace ? { fallbackNs: c.namespace } : {}) });
  }

  async offers(id: string): Promise<GpuOffer[]> {
    return gpuOffers(await this.o.nodes(id));
  }

  async access(id: string, namespace: string, name?: string): Promise<EndpointAccess> {
    const c = this.o.cluster(id);
    const req = (verb: string): AccessRequest => ({ verb, resource: 'inferenceservices', group: ISVC_GROUP, namespace, ...(name && verb !== 'create' ? { name } : {}) });
    const [create, patch, update, del] = await Promise.all([c.canI(req('create')), c.canI(req('patch')), c.canI(req('update')), c.canI(req('delete'))]);
    return { create, patch, update, delete: del };
  }

  list(id?: string): Promise<Endpoint[]> {
    return listAcross(id, () => this.o.connectedIds(), (cid) => this.listCluster(cid));
  }

  async get(id: string, namespace: string, name: string): Promise<EndpointDetail> {
    const kc = await this.kc(id);
    const ctx = await this.ctx(id);
    const obj = await this.read(id, namespace, name);
    const rawPods = (await kubeJson<{ items: KubeObject[] }>(kc, `${PODS(namespace)}?labelSelector=${encodeURIComponent(`${ISVC_POD_LABEL}=${name}`)}`, { action: `list pods of ${name}` })).items;
    const e = projectEndpoint({ clusterId: id, obj, pods: rawPods, now: this.o.clock.now(), runtimes: ctx.runtimes, defaultMode: ctx.defaultMode });
    const pods = rawPods.map(projectPod).sort((a, b) => a.name.localeCompare(b.name));
    const usage = await podGpuUsage(kc, pods.filter((p) => p.phase === 'Running').map((p) => ({ namespace, name: p.name, ...(p.node ? { node: p.node } : {}) })));
    for (const p of pods) {
      const u = usage.byPod.get(`${namespace}/${p.name}`);
      if (u?.utilPct !== undefined) p.gpuUtilPct = u.utilPct;
      if (u?.fbUsedMiB !== undefined) p.fbUsedMiB = u.fbUsedMiB;
    }
    const failure = failureOf(obj);
    const events = await this.events(kc, obj, rawPods);
    const detail: EndpointDetail = {
      ...e,
      events,
      pods,
      revisions: revisionsOf(e, pods, failure),
      yaml: toYaml(cleanForApply(obj)),
      ...(usage.note ? { metricsNote: usage.note } : {}),
      ...(failure?.reason ? { failure: { reason: failure.reason, ...(failure.message ? { message: failure.message } : {}) } } : {}),
    };
    return detail;
  }

  async logs(id: string, namespace: string, name: string, pod?: string, tailLines = 200, previous = false): Promise<EndpointLogs[]> {
    const kc = await this.kc(id);
    await this.read(id, namespace, name);
    const pods = livePods((await kubeJson<{ items: KubeObject[] }>(kc, `${PODS(namespace)}?labelSelector=${encodeURIComponent(`${ISVC_POD_LABEL}=${name}`)}`)).items);
    const chosen = pod ? pods.filter((p) => p.metadata.name === pod) : pods;
    if (pod && !chosen.length) throw new TesseraError('NOT_FOUND', `pod ${pod} is not a predictor pod of ${namespace}/${name}`);
    return Promise.all(
      chosen.map(async (p): Promise<EndpointLogs> => {
        const containers: string[] = (p.spec?.containers ?? []).map((c: KubeObject) => c.name);
        const container = containers.includes('kserve-container') ? 'kserve-container' : (containers[0] ?? 'kserve-container');
        const restarts = Number((p.status?.containerStatuses ?? []).find((c: KubeObject) => c.name === container)?.restartCount ?? 0);
        const base = { pod: p.metadata.name, container, restarts, ...(previous ? { previous: true } : {}) };
        if (previous && restarts === 0) return { ...base, text: '', error: `${container} in ${p.metadata.name} has not restarted: there is no earlier run to show` };
        try {
          const text = await kubeText(kc, `${PODS(namespace)}/${p.metadata.name}/log?container=${encodeURIComponent(container)}&tailLines=${tailLines}${previous ? '&previous=true' : ''}`, {
            action: `read the ${previous ? 'previous ' : ''}log of ${p.metadata.name}`,
            timeoutMs: 15_000,
          });
          return { ...base, text };
        } catch (err) {
          return { ...base, text: '', error: (err as Error).message };
        }
      }),
    );
  }

  // ---------- preview and create ----------

  /** The object a spec or YAML makes, with every problem found before anything is sent (the server's dry run included). */
  async preview(id: string, input: { spec?: FlatSpec; yaml?: string; update?: boolean; expect?: { namespace: string; name: string } }): Promise<EndpointPreview> {
    if ((input.spec ? 1 : 0) + (input.yaml !== undefined ? 1 : 0) !== 1) throw new TesseraError('INVALID_REQUEST', 'give either spec (the form) or yaml (an InferenceService manifest), not both and not neither');
    const problems: string[] = [];
    let obj: KubeObject | undefined;
    if (input.spec) {
      const spec = specFromFlat(input.spec);
      problems.push(...specProblems(spec));
      obj = endpointObject(spec);
      // An edit keeps what the form does not show (args, env, transformer...): preview exactly what update sends.
      const existing = input.update && !problems.length ? await this.optional(id, `${ISVCS(spec.namespace)}/${spec.name}`) : undefined;
      if (existing) obj = cleanForApply(withoutCanary(mergeSpec(existing, spec)));
      problems.push(...objectProblems(obj));
    } else {
      const parsed = parseEndpointYaml(input.yaml!, input.expect ?? {});
      if (!parsed.object) return { ok: false, yaml: input.yaml!, object: {}, problems: parsed.problems, access: [] };
      obj = cleanForApply(parsed.object);
      problems.push(...parsed.problems);
    }
    if (input.expect && input.spec) {
      if (obj.metadata.namespace !== input.expect.namespace || obj.metadata.name !== input.expect.name) problems.push(`the spec is for ${obj.metadata.namespace}/${obj.metadata.name}, but this endpoint is ${input.expect.namespace}/${input.expect.name}`);
    }
    const ns: string = obj.metadata?.namespace ?? '';
    const name: string = obj.metadata?.name ?? '';
    let ctx = await this.ctx(id);
    // A runtime added a moment ago must not be reported missing from the cache.
    if (runtimeProblems(obj, ctx).length && this.o.clock.now() - ctx.at > 2000) ctx = await this.ctx(id, true);
    if (!ctx.apis.installed) problems.push('KServe is not installed on this cluster (serving.kserve.io/v1beta1 InferenceServices are not served)');
    problems.push(...modeProblems(obj, ctx));
    problems.push(...runtimeProblems(obj, ctx));
    const access: (AccessCheck & { permission: string })[] = [];
    if (ns) {
      const req = { verb: input.update ? 'update' : 'create', resource: 'inferenceservices', group: ISVC_GROUP, namespace: ns, ...(input.update ? { name } : {}) };
      access.push({ ...(await this.o.cluster(id).canI(req)), permission: permissionName(req) });
    }
    for (const a of access) if (!a.allowed) problems.push(a.reason);
    let dryRun: EndpointPreview['dryRun'];
    let current: KubeObject | undefined;
    if (input.update && ns && name) {
      current = await this.optional(id, `${ISVCS(ns)}/${name}`);
      if (!current) problems.push(`there is no endpoint ${ns}/${name} to update`);
      else {
        const before = normalizeMode(current.metadata?.annotations?.[DEPLOYMENT_MODE_ANNOTATION]) ?? ctx.defaultMode;
        const after = normalizeMode(obj.metadata?.annotations?.[DEPLOYMENT_MODE_ANNOTATION]) ?? ctx.defaultMode;
        if (before !== after) problems.push(`the deployment mode of an existing endpoint cannot change (${before} → ${after}): delete it and create it again`);
      }
    }
    // The server's own validation (schema, webhooks) only for what could be sent.
    if (problems.length === 0) {
      try {
        const kc = await this.kc(id);
        if (input.update && current) {
          await this.put(kc, current, obj, true, `check the update of ${ns}/${name} (dry run)`);
        } else {
          await kubeJson(kc, `${ISVCS(ns)}?dryRun=All`, { method: 'POST', body: obj, action: `check ${ns}/${name} (dry run)` });
        }
        dryRun = { ok: true };
      } catch (err) {
        const message = statusOf(err) === 409 ? `an endpoint named ${name} already exists in namespace ${ns}` : (err as Error).message;
        dryRun = { ok: false, message };
        problems.push(`the API server refused it (dry run): ${message}`);
      }
    }
    const capacity = await this.capacity(id, obj).catch(() => undefined);
    return { ok: problems.length === 0, yaml: toYaml(obj), object: obj, problems, access, ...(dryRun ? { dryRun } : {}), ...(capacity ? { capacity } : {}) };
  }

  async create(id: string, input: { spec?: FlatSpec; yaml?: string }): Promise<Endpoint> {
    // Names for the audit entry, read before the checks so a refusal is recorded too.
    const target = input.spec ? { namespace: input.spec.namespace, name: input.spec.name } : this.namesInYaml(input.yaml);
    return this.audited(id, 'endpoint.create', target.namespace, target.name, { ...(input.spec ? { spec: input.spec } : { yaml: input.yaml }) }, async () => {
      const p = await this.preview(id, input);
      this.refuseUnless(p, `endpoint ${target.namespace}/${target.name}`);
      const kc = await this.kc(id);
      const obj = p.object as KubeObject;
      const created = await kubeJson<KubeObject>(kc, ISVCS(obj.metadata.namespace as string), { method: 'POST', body: obj, action: `create endpoint ${target.name}` });
      const ctx = await this.ctx(id);
      return projectEndpoint({ clusterId: id, obj: created, pods: [], now: this.o.clock.now(), runtimes: ctx.runtimes, defaultMode: ctx.defaultMode });
    });
  }

  // ---------- changes ----------

  /**
   * Edits an endpoint from a whole spec, YAML or a change. A plain update sends
   * all traffic to the new revision (any canary percentage is dropped). With
   * `wait`, it returns only when the change is live: in RawDeployment the new
   * pods Ready and the old ones gone, in Serverless the new revision ready and
   * at 100%; a failing revision or the timeout is a clear error.
   */
  async update(
    id: string,
    namespace: string,
    name: string,
    input: { spec?: FlatSpec; yaml?: string; change?: FlatChange; wait?: boolean; timeoutSeconds?: number },
    onStep?: (s: UpdateStep) => void,
    signal?: AbortSignal,
  ): Promise<EndpointUpdateResult> {
    const given = [input.spec, input.yaml, input.change].filter((x) => x !== undefined).length;
    if (given !== 1) throw new TesseraError('INVALID_REQUEST', 'give exactly one of spec, yaml or change');
    const params = { ...(input.spec ? { spec: input.spec } : {}), ...(input.yaml !== undefined ? { yaml: input.yaml } : {}), ...(input.change ? { change: input.change } : {}), wait: input.wait ?? false };
    return this.audited(id, 'endpoint.update', namespace, name, params, async () => {
      const steps: UpdateStep[] = [];
      const step = (message: string) => {
        const s = { at: new Date(this.o.clock.now()).toISOString(), message };
        if (steps.at(-1)?.message === message) return;
        steps.push(s);
        onStep?.(s);
      };
      await this.may(id, 'update', namespace, name);
      const current = await this.read(id, namespace, name);
      let next: KubeObject;
      if (input.change) {
        next = applyChange(current, changeFromFlat(input.change));
      } else if (input.spec) {
        next = mergeSpec(current, specFromFlat(input.spec));
      } else {
        const p = await this.preview(id, { yaml: input.yaml!, update: true, expect: { namespace, name } });
        this.refuseUnless(p, `update of ${namespace}/${name}`);
        next = p.object as KubeObject;
      }
      // A form or change update sends all traffic to the new revision; expert YAML says itself what it wants.
      if (input.yaml === undefined && next.spec?.predictor?.canaryTrafficPercent !== undefined) {
        next = withoutCanary(next);
        step('canaryTrafficPercent removed: a plain update sends all traffic to the new revision');
      }
      next = cleanForApply(next);
      const p = await this.preview(id, { yaml: toYaml(next), update: true, expect: { namespace, name } });
      this.refuseUnless(p, `update of ${namespace}/${name}`);
      const ctx = await this.ctx(id);
      const mode = modeOf(current, ctx.defaultMode);
      const kc = await this.kc(id);
      const oldPods = new Set(livePods(await this.podsOf(kc, namespace, name)).map((x) => x.metadata.uid as string));
      const obj = p.object as KubeObject;
      const applied = await this.put(kc, current, obj, false, `update endpoint ${name}`);
      const gen = applied.metadata?.generation as number | undefined;
      if (gen !== undefined && gen === current.metadata?.generation) {
        step('nothing changed: the spec is the same as before');
      } else {
        step(`applied: generation ${gen ?? '?'} (${mode})`);
        if (input.wait) await waitLive({ read: () => this.read(id, namespace, name), pods: () => this.podsOf(kc, namespace, name), clock: this.o.clock, pollMs: this.o.pollMs ?? 500, namespace, name, generation: gen, mode, oldPods, timeoutMs: (input.timeoutSeconds ?? (this.o.waitMs ?? 300_000) / 1000) * 1000, ...(signal ? { signal } : {}) }, step);
      }
      const endpoint = await this.row(id, namespace, name);
      return { endpoint, steps };
    });
  }

  async canary(id: string, namespace: string, name: string, flatChange: FlatChange, percent: number): Promise<Endpoint> {
    return this.audited(id, 'endpoint.canary', namespace, name, { change: flatChange, percent }, async () => {
      if (!Number.isInteger(percent) || percent < 1 || percent > 99) throw new TesseraError('INVALID_REQUEST', 'percent must be a whole number 1-99');
      const change = changeFromFlat(flatChange);
      // Permission first: a user who may not change it learns that, not the endpoint's state.
      await this.may(id, 'canary', namespace, name);
      const current = await this.read(id, namespace, name);
      const ctx = await this.ctx(id);
      this.needServerless(current, ctx, 'a canary');
      const rolled = current.status?.components?.predictor?.latestRolledoutRevision;
      if (!rolled) throw new TesseraError('CONFLICT', `endpoint ${namespace}/${name} has no rolled-out revision yet (it has not been Ready with all traffic): a canary needs one to keep serving the other ${100 - percent}%`);
      let next: KubeObject;
      try {
        if (!changeAlters(current, change)) throw new TesseraError('INVALID_REQUEST', 'the change leaves the predictor as it is: a canary needs a new revision (change the storage URI, runtime, format or resources)');
        next = applyChange(current, change);
      } catch (err) {
        if (err instanceof TesseraError) throw err;
        throw new TesseraError('INVALID_REQUEST', (err as Error).message);
      }
      next.spec.predictor.canaryTrafficPercent = percent;
      await this.replace(id, current, next);
      return this.row(id, namespace, name);
    });
  }

  async promote(id: string, namespace: string, name: string): Promise<Endpoint> {
    return this.audited(id, 'endpoint.promote', namespace, name, {}, async () => {
      await this.may(id, 'promote', namespace, name);
      const current = await this.read(id, namespace, name);
      this.needServerless(current, await this.ctx(id), 'promote');
      const pred = current.status?.components?.predictor ?? {};
      const ctp = current.spec?.predictor?.canaryTrafficPercent;
      if (ctp === undefined) throw new TesseraError('CONFLICT', `nothing to promote: ${namespace}/${name} has no canary (all traffic already goes to the latest revision${pred.latestReadyRevision ? ` ${pred.latestReadyRevision}` : ''})`);
      const failure = failureOf(current);
      if (pred.latestCreatedRevision && pred.latestCreatedRevision !== pred.latestReadyRevision && failure?.reason && FAILURE_REASONS.has(failure.reason)) {
        throw new TesseraError('CONFLICT', `the latest revision ${pred.latestCreatedRevision} failed (${failure.reason}${failure.message ? `: ${failure.message}` : ''}); promoting it would send all traffic to a revision that cannot serve. Roll back instead`);
      }
      await this.patch(id, namespace, name, { spec: { predictor: { canaryTrafficPercent: null } } }, 'promote');
      return this.row(id, namespace, name);
    });
  }

  async rollback(id: string, namespace: string, name: string): Promise<Endpoint> {
    return this.audited(id, 'endpoint.rollback', namespace, name, {}, async () => {
      await this.may(id, 'rollback', namespace, name);
      const current = await this.read(id, namespace, name);
      this.needServerless(current, await this.ctx(id), 'roll back');
      const pred = current.status?.components?.predictor ?? {};
      if (current.spec?.predictor?.canaryTrafficPercent === 0) throw new TesseraError('CONFLICT', `${namespace}/${name} is already rolled back: all traffic goes to ${pred.latestRolledoutRevision ?? 'the previous revision'}`);
      const rolled = pred.latestRolledoutRevision;
      if (!rolled || rolled === pred.latestCreatedRevision) throw new TesseraError('CONFLICT', `nothing to roll back to: the latest revision${pred.latestCreatedRevision ? ` ${pred.latestCreatedRevision}` : ''} is the rolled-out one and there is no canary`);
      await this.patch(id, namespace, name, { spec: { predictor: { canaryTrafficPercent: 0 } } }, 'roll back');
      return this.row(id, namespace, name);
    });
  }

  async deletePlan(id: string, namespace: string, name: string): Promise<DeleteStatement> {
    const obj = await this.read(id, namespace, name);
    const pods = livePods(await this.podsOf(await this.kc(id), namespace, name));
    const pred = obj.status?.components?.predictor ?? {};
    const revisions = new Set<string>([...(pred.traffic ?? []).map((t: KubeObject) => t.revisionName).filter(Boolean), ...[pred.latestCreatedRevision, pred.latestReadyRevision, pred.latestRolledoutRevision, pred.previousRolledoutRevision].filter(Boolean)]);
    const deletes: DeleteStatement['deletes'] = [
      { kind: 'InferenceService', namespace, name },
      ...[...revisions].sort().map((r) => ({ kind: 'Revision', namespace, name: r })),
      ...pods.map((p) => ({ kind: 'Pod', namespace, name: p.metadata.name as string })),
    ];
    const keeps: DeleteStatement['keeps'] = [];
    const key = modelKey(obj.spec?.predictor);
    const uri: string | undefined = key ? obj.spec.predictor[key]?.storageUri : undefined;
    if (uri?.startsWith('pvc://')) {
      const claim = uri.slice('pvc://'.length).split('/')[0]!;
      keeps.push({ kind: 'PersistentVolumeClaim', namespace, name: claim, note: `model storage ${uri} stays, with the model in it` });
    } else if (uri) keeps.push({ kind: 'ModelStorage', name: uri, note: 'the model at this URI is not touched' });
    const held = pods.length ? ` and frees the GPUs its ${pods.length} pod${pods.length === 1 ? '' : 's'} hold` : '';
    const summary = `Deletes InferenceService ${namespace}/${name}${revisions.size ? `, its ${revisions.size} revision${revisions.size === 1 ? '' : 's'}` : ''} and its predictor pods${held}. ${keeps.length ? `Model storage stays: ${keeps.map((k) => (k.kind === 'PersistentVolumeClaim' ? `PVC ${k.name}` : k.name)).join(', ')}.` : 'It names no model storage.'}`;
    return { deletes, keeps, summary };
  }

  async delete(id: string, namespace: string, name: string): Promise<DeleteStatement> {
    return this.audited(id, 'endpoint.delete', namespace, name, {}, async () => {
      await this.may(id, 'delete', namespace, name);
      const plan = await this.deletePlan(id, namespace, name);
      await kubeJson(await this.kc(id), `${ISVCS(namespace)}/${name}`, { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }, action: `delete endpoint ${name}` });
      return plan;
    });
  }

  // ---------- data plane ----------

  async probe(id: string, namespace: string, name: string): Promise<ProbeResult[]> {
    const { obj, e, prefix } = await this.dataplaneOf(id, namespace, name);
    return probe(resolveTarget(obj), probesFor(e.protocols, name, prefix));
  }

  async test(id: string, namespace: string, name: string, protocol: TestProtocol, body?: string, target?: string, timeoutMs?: number): Promise<TestResult> {
    const { obj, e, prefix } = await this.dataplaneOf(id, namespace, name);
    this.needProtocol(e, protocol);
    const req = requestFor(protocol, name, prefix, body);
    return testOnce(resolveTarget(obj, target), protocol, req.path, req.body, timeoutMs);
  }

  /** A bounded load test; recorded in the audit trail because it puts load on a shared endpoint. */
  async loadTest(
    id: string,
    o: { namespace: string; name: string; protocol: TestProtocol; body?: string; requests: number; concurrency: number; timeoutMs?: number },
    hooks: { signal?: AbortSignal; onProgress?: (p: LoadTestProgress) => void } = {},
  ): Promise<LoadTestResult> {
    const { obj, e, prefix } = await this.dataplaneOf(id, o.namespace, o.name);
    this.needProtocol(e, o.protocol);
    const req = requestFor(o.protocol, o.name, prefix, o.body);
    const target = resolveTarget(obj);
    const targets = [{ kind: 'InferenceService', namespace: o.namespace, name: o.name }];
    const params = { protocol: o.protocol, requests: o.requests, concurrency: o.concurrency, url: target.baseUrl + req.path };
    const correlationId = `ep-${randomUUID()}`;
    const actor = this.actor(id);
    await this.o.audit({ action: 'endpoint.loadtest', outcome: 'started', cluster: id, targets, params, correlationId, ...actor });
    const t0 = this.o.clock.now();
    try {
      const result = await loadTest({ target, protocol: o.protocol, path: req.path, body: req.body, requests: o.requests, concurrency: o.concurrency, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(hooks.signal ? { signal: hooks.signal } : {}), ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}) });
      const outcome = hooks.signal?.aborted ? 'cancelled' : 'succeeded';
      await this.o.audit({ action: 'endpoint.loadtest', outcome, cluster: id, targets, params, after: { completed: result.completed, succeeded: result.succeeded, errors: result.errors, latencyMs: result.latencyMs }, durationMs: this.o.clock.now() - t0, correlationId, ...actor });
      return result;
    } catch (err) {
      await this.o.audit({ action: 'endpoint.loadtest', outcome: 'failed', cluster: id, targets, params, error: err, durationMs: this.o.clock.now() - t0, correlationId, ...actor });
      throw err;
    }
  }

  // ---------- helpers ----------

  /** KServe's APIs, runtimes and default mode on a cluster, cached for 30 s (runtimes rarely change). */
  async ctx(id: string, fresh = false): Promise<ClusterContext> {
    const hit = this.ctxCache.get(id);
    const now = this.o.clock.now();
    if (!fresh && hit && now - hit.at < 30_000) return hit;
    const kc = await this.kc(id);
    const apis = await kserveApis(kc);
    const runtimes = apis.installed && apis.runtimeApi ? (await listRuntimes(kc, undefined, this.o.cluster(id).namespace)).runtimes : [];
    const cm = await kubeJson<KubeObject>(kc, `/api/v1/namespaces/${KSERVE_CONFIG.namespace}/configmaps/${KSERVE_CONFIG.name}`).catch(() => undefined);
    const c: ClusterContext = { at: now, apis, runtimes, defaultMode: defaultModeFrom(cm) ?? 'RawDeployment' };
    this.ctxCache.set(id, c);
    return c;
  }

  private async kc(id: string): Promise<KubeAccess> {
    return this.o.cluster(id).kubeConfig();
  }

  private actor(id: string): { actor?: { kubeUser: string } } {
    const u = this.o.cluster(id).userName;
    return u ? { actor: { kubeUser: u } } : {};
  }

  private async optional<T = KubeObject>(id: string, path: string): Promise<T | undefined> {
    try {
      return await kubeJson<T>(await this.kc(id), path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async read(id: string, namespace: string, name: string): Promise<KubeObject> {
    const obj = await this.optional(id, `${ISVCS(namespace)}/${name}`);
    if (!obj) {
      const ctx = await this.ctx(id);
      if (!ctx.apis.installed) throw new TesseraError('NOT_FOUND', 'KServe is not installed on this cluster (serving.kserve.io/v1beta1 InferenceServices are not served)');
      throw new TesseraError('NOT_FOUND', `no endpoint (InferenceService) named ${name} in namespace ${namespace}`);
    }
    return obj;
  }

  private async podsOf(kc: KubeAccess, namespace: string, name: string): Promise<KubeObject[]> {
    return (await kubeJson<{ items: KubeObject[] }>(kc, `${PODS(namespace)}?labelSelector=${encodeURIComponent(`${ISVC_POD_LABEL}=${name}`)}`, { action: `list pods of ${name}` })).items;
  }

  /** The list row of one endpoint, read fresh. */
  async row(id: string, namespace: string, name: string): Promise<Endpoint> {
    const ctx = await this.ctx(id);
    const obj = await this.read(id, namespace, name);
    const pods = await this.podsOf(await this.kc(id), namespace, name);
    return projectEndpoint({ clusterId: id, obj, pods, now: this.o.clock.now(), runtimes: ctx.runtimes, defaultMode: ctx.defaultMode });
  }

  private async listCluster(id: string): Promise<Endpoint[]> {
    const ctx = await this.ctx(id);
    if (!ctx.apis.installed) return [];
    const kc = await this.kc(id);
    const fallbackNs = this.o.cluster(id).namespace;
    // Cluster-wide when allowed, else the context's namespace (a team user's usual view).
    const listAll = async (path: (ns?: string) => string, query: string): Promise<KubeObject[]> => {
      try {
        return (await kubeJson<{ items: KubeObject[] }>(kc, `${path()}${query}`)).items;
      } catch (err) {
        if (err instanceof TesseraError && err.code === 'FORBIDDEN' && fallbackNs) return (await kubeJson<{ items: KubeObject[] }>(kc, `${path(fallbackNs)}${query}`)).items;
        throw err;
      }
    };
    const [isvcs, pods] = await Promise.all([listAll(ISVCS, ''), listAll(PODS, LIST_SEL)]);
    const byIsvc = new Map<string, KubeObject[]>();
    for (const p of pods) {
      const key = `${p.metadata.namespace}/${p.metadata.labels?.[ISVC_POD_LABEL]}`;
      const list = byIsvc.get(key) ?? [];
      list.push(p);
      byIsvc.set(key, list);
    }
    const now = this.o.clock.now();
    return isvcs.map((obj) => projectEndpoint({ clusterId: id, obj, pods: byIsvc.get(`${obj.metadata.namespace}/${obj.metadata.name}`) ?? [], now, runtimes: ctx.runtimes, defaultMode: ctx.defaultMode }));
  }

  /**
   * Events of the InferenceService, its pods and the objects named after its
   * predictor (revisions, deployments). An earlier object of the same name
   * (deleted and created again) left events too: where the object's uid is
   * known here (the InferenceService, its live pods) the event's
   * involvedObject.uid must be it; otherwise (revisions, pods already gone,
   * events without a uid) the name matches, and only events since this
   * InferenceService was created count.
   */
  private async events(kc: KubeAccess, obj: KubeObject, pods: KubeObject[]): Promise<EndpointEvent[]> {
    const namespace = String(obj.metadata.namespace);
    const name = String(obj.metadata.name);
    const uids = new Map<string, string>([[`InferenceService/${name}`, String(obj.metadata.uid ?? '')], ...pods.map((p): [string, string] => [`Pod/${p.metadata.name}`, String(p.metadata.uid ?? '')])]);
    const created = Date.parse(String(obj.metadata.creationTimestamp ?? ''));
    let items: KubeObject[] = [];
    try {
      items = (await kubeJson<{ items: KubeObject[] }>(kc, `/api/v1/namespaces/${namespace}/events?limit=500`, { action: `list events in ${namespace}` })).items;
    } catch {
      return [];
    }
    return items
      .filter((ev) => eventIsOf(ev, name, uids, created))
      .map((ev) => ({
        type: ev.type ?? 'Normal',
        reason: ev.reason ?? '',
        message: ev.message ?? '',
        count: ev.count ?? 1,
        ...((ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp) ? { lastSeen: String(ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp) } : {}),
        object: `${ev.involvedObject?.kind ?? '?'}/${ev.involvedObject?.name ?? '?'}`,
      }))
      .sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''))
      .slice(0, 50);
  }

  private async capacity(id: string, obj: KubeObject): Promise<EndpointPreview['capacity']> {
    const key = modelKey(obj.spec?.predictor);
    const gpu = gpuOfResources(key ? obj.spec.predictor[key]?.resources : undefined);
    if (gpu.kind === 'none') return undefined;
    const offers = await this.offers(id);
    const fit = offers.filter((o) => (gpu.kind === 'full' ? o.kind === 'full' : o.kind === 'mig' && o.profile === gpu.profile));
    const free = fit.reduce((n, o) => n + o.free, 0);
    const nodes = fit.reduce((n, o) => n + o.nodes, 0);
    const what = gpu.kind === 'full' ? 'full GPUs' : `${gpu.profile} MIG slices`;
    const replicas = Math.max(1, obj.spec?.predictor?.minReplicas ?? 1);
    const need = gpu.count * replicas;
    const note = free >= need ? `${free} ${what} free now on ${nodes} node${nodes === 1 ? '' : 's'} (${fit.map((o) => o.pool).join(', ')})` : free > 0 ? `only ${free} ${what} free now for ${need} needed: some replicas will wait Pending` : `no ${what} free now: the predictor pods will wait Pending until some are`;
    return { free, nodes, note };
  }

  private needServerless(obj: KubeObject, ctx: ClusterContext, what: string): void {
    const mode = modeOf(obj, ctx.defaultMode);
    if (mode === 'Serverless') return;
    throw new TesseraError(
      'INVALID_REQUEST',
      `${what} needs Serverless mode, and ${obj.metadata.namespace}/${obj.metadata.name} runs in ${mode}: KServe keeps no revisions and splits no traffic there (canaryTrafficPercent is read only by its Knative reconciler). Use update instead: it applies the change and waits until the new pods are Ready and the old ones are gone`,
    );
  }

  private needProtocol(e: Endpoint, protocol: TestProtocol): void {
    if (e.protocols.length && !e.protocols.includes(protocol)) throw new TesseraError('INVALID_REQUEST', `${e.namespace}/${e.name} (runtime ${e.runtime ?? '?'}) does not speak ${protocol}; it speaks ${e.protocols.join(', ')}`);
  }

  private async dataplaneOf(id: string, namespace: string, name: string): Promise<{ obj: KubeObject; e: Endpoint; prefix?: string }> {
    const ctx = await this.ctx(id);
    const obj = await this.read(id, namespace, name);
    const e = projectEndpoint({ clusterId: id, obj, pods: [], now: this.o.clock.now(), runtimes: ctx.runtimes, defaultMode: ctx.defaultMode });
    const rt = findRuntime(ctx.runtimes, runtimeNameOf(obj), namespace) ?? (e.spec.modelFormat ? autoSelectRuntime(ctx.runtimes, e.spec.modelFormat, namespace, e.spec.protocolVersion) : undefined);
    return { obj, e, ...(rt?.openaiPrefix ? { prefix: rt.openaiPrefix } : {}) };
  }

  /** The RBAC verb of an action on one InferenceService (ENDPOINT_ACTION_VERBS); every change checks it before it reads or sends anything. */
  private async may(id: string, action: EndpointAction, namespace: string, name: string): Promise<void> {
    const req: AccessRequest = { verb: ENDPOINT_ACTION_VERBS[action], resource: 'inferenceservices', group: ISVC_GROUP, namespace, name };
    const a = await this.o.cluster(id).canI(req);
    if (!a.allowed) throw new TesseraError('FORBIDDEN', a.reason, { missing: [permissionName(req)] });
  }

  private refuseUnless(p: EndpointPreview, what: string): void {
    if (p.ok) return;
    const denied = p.access.filter((a) => !a.allowed);
    const missing = denied.flatMap((a) => (a.permission ? [a.permission] : []));
    throw new TesseraError(denied.length ? 'FORBIDDEN' : 'INVALID_REQUEST', `${what} refused: ${p.problems.join('; ')}`, { problems: p.problems, ...(missing.length ? { missing } : {}) });
  }

  private namesInYaml(text: string | undefined): { namespace: string; name: string } {
    const parsed = text !== undefined ? parseEndpointYaml(text) : { problems: [] };
    return { namespace: String(parsed.object?.metadata?.namespace ?? '?'), name: String(parsed.object?.metadata?.name ?? '?') };
  }

  /** Dry run, then replace (optimistic: a concurrent spec edit is a conflict, never overwritten). */
  private async replace(id: string, current: KubeObject, next: KubeObject): Promise<KubeObject> {
    const ns = current.metadata.namespace as string;
    const name = current.metadata.name as string;
    const kc = await this.kc(id);
    await this.put(kc, current, cleanForApply(next), true, `check the change to ${name} (dry run)`);
    return this.put(kc, current, cleanForApply(next), false, `change endpoint ${name}`);
  }

  /**
   * PUT of `obj` over `current`. The controller writes status all the time,
   * which moves resourceVersion, so a 409 is retried with the fresh version,
   * but only while the generation (the spec) is still the one the change was
   * made from: somebody else's spec edit is never overwritten.
   */
  private async put(kc: KubeAccess, current: KubeObject, obj: KubeObject, dryRun: boolean, action: string): Promise<KubeObject> {
    const ns = current.metadata.namespace as string;
    const name = current.metadata.name as string;
    const path = `${ISVCS(ns)}/${name}`;
    const generation = current.metadata.generation;
    let resourceVersion = current.metadata.resourceVersion;
    for (let attempt = 0; ; attempt++) {
      try {
        return await kubeJson<KubeObject>(kc, `${path}${dryRun ? '?dryRun=All' : ''}`, { method: 'PUT', body: { ...obj, metadata: { ...obj.metadata, resourceVersion } }, action });
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        const fresh = await kubeJson<KubeObject>(kc, path, { action: `read ${name} again` });
        if (fresh.metadata?.generation !== generation) throw new TesseraError('CONFLICT', `${ns}/${name} was changed by someone else meanwhile (generation ${generation} → ${fresh.metadata?.generation}); read it again and retry`);
        if (attempt >= 5) throw new TesseraError('CONFLICT', `${ns}/${name} kept changing while this was being applied; retry`);
        resourceVersion = fresh.metadata.resourceVersion;
      }
    }
  }

  private async patch(id: string, namespace: string, name: string, body: unknown, what: string): Promise<void> {
    await kubeJson(await this.kc(id), `${ISVCS(namespace)}/${name}`, { method: 'PATCH', contentType: MERGE, body, action: `${what} ${name}` });
  }

  /** Runs one change and records its outcome (refusals included). */
  private async audited<T>(id: string, action: string, namespace: string, name: string, params: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const targets = [{ kind: 'InferenceService', namespace, name }];
    const actor = this.actor(id);
    const t0 = this.o.clock.now();
    try {
      const result = await fn();
      await this.o.audit({ action, outcome: 'succeeded', cluster: id, targets, params, after: result, durationMs: this.o.clock.now() - t0, ...actor });
      return result;
    } catch (err) {
      await this.o.audit({ action, outcome: 'failed', cluster: id, targets, params, error: err, durationMs: this.o.clock.now() - t0, ...actor });
      throw err;
    }
  }
}

/** Whether an event is about this InferenceService or its parts (see EndpointService.events). */
export function eventIsOf(ev: KubeObject, name: string, uids: Map<string, string>, createdMs: number): boolean {
  const io = (ev.involvedObject ?? {}) as { kind?: string; name?: string; uid?: string };
  const n = String(io.name ?? '');
  if (!uids.has(`${io.kind}/${n}`) && n !== name && !n.startsWith(`${name}-predictor`)) return false;
  const known = uids.get(`${io.kind}/${n}`);
  if (io.uid && known) return io.uid === known;
  const t = Date.parse(String(ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp ?? ''));
  return !Number.isFinite(createdMs) || !Number.isFinite(t) || t >= createdMs;
}
