// A simulated KServe controller (with the parts of Knative Serving it drives),
// reference/kserve.md §2–§3. Every tick it lists InferenceServices and:
// - resolves the runtime (runtimes.ts) and the deployment mode (annotation
//   serving.kserve.io/deploymentMode, else inferenceservice-config's default);
// - Serverless: each change of spec.predictor (canaryTrafficPercent aside) is a
//   new revision <isvc>-predictor-000NN with its own predictor pods; traffic,
//   latest/previous rolled-out revisions and conditions follow KServe's
//   ksvc reconciler (canary, promote, pin/rollback);
// - RawDeployment/Standard: no revisions or traffic; pods of a changed spec
//   replace the old ones once they are Running and Ready;
// - serving.kserve.io/stop: "true" deletes the pods (condition Stopped);
// - a deleted InferenceService has its pods deleted here at once (the
//   garbage collector would follow its ownerReferences, but only after it has
//   discovered the CRD, which can take it 30 s);
// - status goes through the status subresource; the data plane (dataplane.ts)
//   serves status.url and each revision's url.
// Pods are bare pods owned by the InferenceService; the real scheduler binds
// them and the fleet's kubelets start them and hand them GPUs or MIG devices.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kube, KubeError, rfc3339 } from '../kube.ts';
import type { FleetFaults } from '../fleet/fault-state.ts';
import { CONFIG_MAP, DEFAULT_DEPLOYMENT_MODE, KSERVE_NAMESPACE } from './apis.ts';
import { DataPlane } from './dataplane.ts';
import { ModelServerLogs, type ModelInfo } from './model-server-logs.ts';
import type { ModelContext } from './protocols.ts';
import { openAiPrefix, resolveRuntime, runtimeProtocols, type RuntimeObject } from './runtimes.ts';

export const ISVC_LABEL = 'serving.kserve.io/inferenceservice';
export const REVISION_LABEL = 'serving.knative.dev/revision';
/** Which mode made the pod, and (Raw) which spec hash: the simulator's own bookkeeping on its pods. */
const MODE_LABEL = 'tessera.dev/sim-kserve-mode';
const TEMPLATE_LABEL = 'tessera.dev/sim-kserve-template';
const MODE_ANNOTATION = 'serving.kserve.io/deploymentMode';
const STOP_ANNOTATION = 'serving.kserve.io/stop';
const ISVCS = '/apis/serving.kserve.io/v1beta1/inferenceservices';
const FRAMEWORKS = ['sklearn', 'xgboost', 'tensorflow', 'pytorch', 'triton', 'onnx', 'huggingface', 'pmml', 'lightgbm', 'paddle'];

/** Faults the data plane and controller read (fault-state file, section `kserve`). */
export interface KserveFaults {
  /** "ns/name" → revisions (or Raw specs) created while set fail to load. */
  fail?: Record<string, { message?: string; since: string }>;
  /** "ns/name" → extra latency in ms. */
  slow?: Record<string, { ms: number; since: string }>;
}
export const kserveFaults = (f: FleetFaults): KserveFaults => (f.kserve ?? {}) as KserveFaults;

interface Isvc {
  metadata: { name: string; namespace: string; uid: string; generation?: number; annotations?: Record<string, string>; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { predictor?: Record<string, any> };
  status?: Record<string, any>;
}

interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; ownerReferences?: Array<{ uid: string }> };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ name: string; ready?: boolean; restartCount?: number; state?: Record<string, any>; lastState?: Record<string, any> }>;
  };
}

interface Failure {
  /** Condition reason: ModelLoadFailed (load fault, crash loop) or RevisionFailed (pod failed, refused). */
  reason: 'ModelLoadFailed' | 'RevisionFailed';
  message: string;
  pod?: string;
  exitCode?: number;
}

interface RevisionState {
  name: string;
  hash: string;
  port: number;
  replicas: number;
  createdAt: string;
  /** Set when the isvc-fail fault was on when it was created: its model never loads. */
  failLoad?: string;
  /** When it first had all its pods ready (Knative's Ready=True); never unset. */
  readyAt?: string;
  template: Record<string, any>;
}

interface IsvcState {
  uid: string;
  namespace: string;
  name: string;
  port: number;
  revisions: RevisionState[];
  nextRevision: number;
  latestRolledout?: string;
  previousRolledout?: string;
  /** Raw mode: the spec hash whose pods are wanted, and whether its model fails to load. */
  raw?: { hash: string; failLoad?: string; template: Record<string, any>; replicas: number };
}

interface Predictor {
  format?: { name: string; version?: string };
  runtime?: string;
  protocol?: string;
  storageUri?: string;
  /** The container fields of the model block (or framework block, or containers[0]). */
  container: Record<string, any>;
  custom: boolean;
}

type Cond = { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; severity?: string; lastTransitionTime?: string };

const sha = (v: unknown) => crypto.createHash('sha256').update(JSON.stringify(v)).digest('hex');
const key = (ns: string, name: string) => `${ns}/${name}`;
const pad = (n: number) => String(n).padStart(5, '0');

function predictorOf(spec: Record<string, any>): Predictor | undefined {
  if (spec.model) {
    const m = spec.model as Record<string, any>;
    return { format: m.modelFormat, runtime: m.runtime, protocol: m.protocolVersion, storageUri: m.storageUri, container: m, custom: false };
  }
  for (const fw of FRAMEWORKS) {
    if (spec[fw]) {
      const m = spec[fw] as Record<string, any>;
      return { format: { name: fw, version: m.runtimeVersion }, runtime: m.runtime, protocol: m.protocolVersion, storageUri: m.storageUri, container: m, custom: false };
    }
  }
  if (Array.isArray(spec.containers) && spec.containers.length) return { container: spec.containers[0], custom: true };
  return undefined;
}

/** The deployment mode KServe would use; undefined for one the simulator does not run (ModelMesh). */
export function deploymentMode(annotation: string | undefined, configDefault: string): { kind: 'Serverless' | 'Raw'; name: string } | undefined {
  const value = annotation ?? configDefault;
  if (value === 'Serverless' || value === 'Knative') return { kind: 'Serverless', name: value };
  if (value === 'RawDeployment' || value === 'Standard' || value === '') return { kind: 'Raw', name: value || 'Standard' };
  return undefined;
}


/** What one reconcile pass hands the per-mode half (Serverless revisions, or Raw pods). */
interface ModeReconcile {
  isvc: Isvc;
  st: IsvcState;
  pods: Pod[];
  template: Record<string, any>;
  replicas: number;
  hash: string;
  failNow: { message?: string } | undefined;
  stop: boolean;
  prevConds: Cond[];
  modeName: string;
  runtimeStatus: Record<string, string>;
}
export class KserveController {
  private state: Record<string, IsvcState> = {};
  private readonly lastStatus = new Map<string, string>();
  private readonly events = new Set<string>();
  /** Live per tick: revision → ready pod count, for the data plane. */
  private readyPods = new Map<string, number>();
  private readonly models = new Map<string, ModelContext>();
  private readonly traffic = new Map<string, Array<{ revision: string; weight: number }>>();
  private readonly stopped = new Set<string>();

  constructor(
    private readonly kube: Kube,
    private readonly plane: DataPlane,
    private readonly stateFile: string,
    private readonly faults: () => KserveFaults,
    private readonly log: (m: string) => void,
    /** The model servers' stdout, served as pods/log by the simulated kubelets. */
    private readonly podLogs?: ModelServerLogs,
  ) {
    try {
      this.state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as Record<string, IsvcState>;
    } catch {
      this.state = {};
    }
  }

  private save(): void {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(this.stateFile), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(this.state, null, 1));
    fs.renameSync(tmp, this.stateFile);
  }

  /** Ports of the InferenceServices the simulator serves (for `status`). */
  summary(): { inferenceServices: number; revisions: number; listening: number } {
    const all = Object.values(this.state);
    return { inferenceServices: all.length, revisions: all.reduce((a, s) => a + s.revisions.length, 0), listening: this.plane.ids().length };
  }

  async tick(): Promise<void> {
    let isvcs: Isvc[];
    try {
      isvcs = (await this.kube.get<{ items: Isvc[] }>(ISVCS)).items;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return; // KServe APIs not installed (yet)
      throw err;
    }
    const live = new Set(isvcs.filter((i) => !i.metadata.deletionTimestamp).map((i) => i.metadata.uid));
    for (const [uid, st] of Object.entries(this.state)) {
      if (live.has(uid)) continue;
      await this.forget(st).catch((err) => this.log(`isvc ${key(st.namespace, st.name)}: cleanup failed (retried next tick): ${err instanceof Error ? err.message : String(err)}`));
    }
    if (isvcs.length === 0) {
      this.save();
      return;
    }
    const [pods, cluster, namespaced, configDefault] = await Promise.all([
      this.kube.get<{ items: Pod[] }>('/api/v1/pods', { labelSelector: ISVC_LABEL }),
      this.kube.get<{ items: RuntimeObject[] }>('/apis/serving.kserve.io/v1alpha1/clusterservingruntimes'),
      this.kube.get<{ items: RuntimeObject[] }>('/apis/serving.kserve.io/v1alpha1/servingruntimes'),
      this.defaultMode(),
    ]);
    const podsByIsvc = new Map<string, Pod[]>();
    for (const p of pods.items) {
      const owner = p.metadata.ownerReferences?.[0]?.uid;
      if (!owner) continue;
      (podsByIsvc.get(owner) ?? podsByIsvc.set(owner, []).get(owner)!).push(p);
    }
    this.readyPods = new Map();
    this.podLogs?.resetReady();
    for (const isvc of isvcs) {
      if (isvc.metadata.deletionTimestamp) continue;
      const nsRuntimes = namespaced.items.filter((r) => r.metadata.namespace === isvc.metadata.namespace);
      try {
        await this.reconcile(isvc, podsByIsvc.get(isvc.metadata.uid) ?? [], nsRuntimes, cluster.items, configDefault);
      } catch (err) {
        if (err instanceof KubeError && (err.status === 404 || err.status === 409)) continue; // deleted or changed meanwhile: next tick
        this.log(`isvc ${key(isvc.metadata.namespace, isvc.metadata.name)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.save();
  }

  private async defaultMode(): Promise<string> {
    try {
      const cm = await this.kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${KSERVE_NAMESPACE}/configmaps/${CONFIG_MAP}`);
      const deploy = JSON.parse(cm.data?.deploy ?? '{}') as { defaultDeploymentMode?: string };
      return deploy.defaultDeploymentMode ?? DEFAULT_DEPLOYMENT_MODE;
    } catch {
      return DEFAULT_DEPLOYMENT_MODE;
    }
  }

  /** The InferenceService is gone: its pods and ports go with it. */
  private async forget(st: IsvcState): Promise<void> {
    const pods = await this.kube.get<{ items: Pod[] }>(`/api/v1/namespaces/${st.namespace}/pods`, { labelSelector: `${ISVC_LABEL}=${st.name}` });
    for (const p of pods.items) if (p.metadata.ownerReferences?.some((o) => o.uid === st.uid) && !p.metadata.deletionTimestamp) await this.deletePod(p);
    this.plane.close(st.uid);
    for (const r of st.revisions) this.plane.close(`${st.uid}/${r.name}`);
    delete this.state[st.uid];
    this.lastStatus.delete(st.uid);
    for (const k of this.events) if (k.startsWith(`${st.uid}|`)) this.events.delete(k);
    for (const k of this.failureSince.keys()) if (k.startsWith(`${st.uid}|`)) this.failureSince.delete(k);
    this.models.delete(st.uid);
    this.traffic.delete(st.uid);
    this.stopped.delete(st.uid);
    this.log(`isvc ${key(st.namespace, st.name)}: deleted; removed its pods and closed its ports`);
  }

  private async deletePod(p: Pod): Promise<void> {
    try {
      await this.kube.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: p.metadata.uid } });
    } catch (err) {
      if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) throw err;
    }
  }

  private async event(isvc: Isvc, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const k = `${isvc.metadata.uid}|${reason}|${message}`;
    if (this.events.has(k)) return;
    this.events.add(k);
    const now = new Date();
    await this.kube
      .create(`/api/v1/namespaces/${isvc.metadata.namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${isvc.metadata.name}.${now.getTime().toString(16)}${crypto.randomBytes(2).toString('hex')}`, namespace: isvc.metadata.namespace },
        involvedObject: { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', name: isvc.metadata.name, namespace: isvc.metadata.namespace, uid: isvc.metadata.uid },
        reason,
        message,
        type,
        source: { component: 'kserve-controller-manager' },
        firstTimestamp: rfc3339(now),
        lastTimestamp: rfc3339(now),
        count: 1,
      })
      .catch((err) => this.log(`event for ${isvc.metadata.name}: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async reconcile(isvc: Isvc, pods: Pod[], nsRuntimes: RuntimeObject[], clusterRuntimes: RuntimeObject[], configDefault: string): Promise<void> {
    const { name, namespace, uid } = isvc.metadata;
    let st = this.state[uid];
    if (!st) {
      st = { uid, namespace, name, port: 0, revisions: [], nextRevision: 1 };
      this.state[uid] = st;
    }
    st.port = await this.plane.open(uid, this.isvcBinding(uid, name, namespace), st.port);

    const spec = isvc.spec?.predictor ?? {};
    const predictor = predictorOf(spec);
    const mode = deploymentMode(isvc.metadata.annotations?.[MODE_ANNOTATION], configDefault);
    const stop = (isvc.metadata.annotations?.[STOP_ANNOTATION] ?? '').toLowerCase() === 'true';
    const prevConds = (isvc.status?.conditions ?? []) as Cond[];

    // Specs the simulator cannot run: report, touch nothing.
    let invalid: { reason: string; message: string; failure: string } | undefined;
    let runtime: RuntimeObject | undefined;
    let runtimeNamespaced = false;
    if (!predictor) invalid = { reason: 'InvalidPredictorSpec', message: 'spec.predictor has no model, framework or containers', failure: 'InvalidPredictorSpec' };
    else if (!mode) invalid = { reason: 'InvalidPredictorSpec', message: `deployment mode ${isvc.metadata.annotations?.[MODE_ANNOTATION]} is not supported by the test bed (Serverless/Knative, RawDeployment/Standard)`, failure: 'InvalidPredictorSpec' };
    else if (!predictor.custom) {
      const r = resolveRuntime(predictor.format, predictor.runtime, predictor.protocol, nsRuntimes, clusterRuntimes);
      if ('reason' in r) invalid = { reason: r.reason, message: r.message, failure: r.reason };
      else {
        runtime = r.runtime;
        runtimeNamespaced = r.namespaced;
      }
    }
    if (invalid || !predictor || !mode) {
      const inv = invalid!;
      const conds = mergeConditions(prevConds, [
        { type: 'PredictorReady', status: 'False', reason: inv.reason, message: inv.message },
        { type: 'Ready', status: 'False', reason: inv.reason, message: inv.message },
      ]);
      this.models.delete(uid);
      this.traffic.set(uid, []);
      await this.writeStatus(isvc, {
        ...keepUrl(isvc.status),
        observedGeneration: isvc.metadata.generation,
        conditions: conds,
        ...(mode ? { deploymentMode: mode.name } : {}),
        modelStatus: { transitionStatus: 'InvalidSpec', states: { activeModelState: 'Pending', targetModelState: 'FailedToLoad' }, lastFailureInfo: { reason: inv.failure, message: inv.message, time: this.since(uid, { reason: 'RevisionFailed', message: inv.message }) } },
      });
      await this.event(isvc, 'Warning', inv.reason, inv.message);
      return;
    }

    const protocols = runtime ? runtimeProtocols(runtime) : ['v1', 'v2'];
    const oaPrefix = runtime ? openAiPrefix(runtime) : undefined;
    this.models.set(uid, { name, protocols, openAiPrefix: oaPrefix, server: runtime?.metadata.name ?? 'custom' });

    const template = podTemplate(isvc, predictor, runtime);
    const replicas = Math.max(1, Number(spec.minReplicas ?? 1) || 1);
    // Serverless: any change of spec.predictor but canaryTrafficPercent (or of the runtime chosen) is a
    // new revision, as Knative makes one for any change of the revision template. Raw: a new pod template.
    const { canaryTrafficPercent: _canary, ...revisionSpec } = spec;
    const hash = (mode.kind === 'Serverless' ? sha({ revisionSpec, runtime: runtime?.metadata.name ?? null }) : sha({ template, replicas })).slice(0, 10);
    const failNow = this.faults().fail?.[key(namespace, name)];
    const runtimeStatus: Record<string, string> = runtime ? (runtimeNamespaced ? { servingRuntimeName: runtime.metadata.name } : { clusterServingRuntimeName: runtime.metadata.name }) : {};

    // A pod made for the other mode (the annotation changed) goes.
    for (const p of pods) if (p.metadata.labels?.[MODE_LABEL] && p.metadata.labels[MODE_LABEL] !== mode.kind && !p.metadata.deletionTimestamp) await this.deletePod(p);
    const mine = pods.filter((p) => p.metadata.labels?.[MODE_LABEL] === mode.kind);

    // The model of a revision created under isvc-fail never loads: its Running pods crash-loop.
    const failing = (p: Pod): string | undefined =>
      mode.kind === 'Serverless' ? st.revisions.find((r) => r.name === p.metadata.labels?.[REVISION_LABEL])?.failLoad : st.raw && p.metadata.labels?.[TEMPLATE_LABEL] === st.raw.hash ? st.raw.failLoad : undefined;
    for (const p of mine) {
      const msg = failing(p);
      if (msg !== undefined && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp && !isCrashLooping(p)) {
        // This tick already sees the pod as the patch left it, so the revision never counts as ready.
        p.status = { ...p.status, ...(await this.crashLoop(p, msg)) };
      }
    }
    if (this.podLogs && predictor) {
      const info: ModelInfo = { name, storageUri: predictor.storageUri, runtime: runtime?.metadata.name, format: predictor.format?.name };
      for (const p of mine) if (p.status?.phase === 'Running' && !p.metadata.deletionTimestamp) this.podLogs.podRunning(p.metadata, info, failing(p));
    }

    const pass: ModeReconcile = { isvc, st, pods: mine, template, replicas, hash, failNow, stop, prevConds, modeName: mode.name, runtimeStatus };
    if (mode.kind === 'Serverless') {
      await this.reconcileServerless(pass);
    } else {
      await this.reconcileRaw(pass);
    }
  }

  private async reconcileServerless(m: ModeReconcile): Promise<void> {
    const { isvc, st, pods, template, replicas, hash, failNow, stop, prevConds, modeName, runtimeStatus } = m;
    const { name, namespace, uid } = isvc.metadata;
    const spec = isvc.spec?.predictor ?? {};
    st.raw = undefined;
    let latest = st.revisions[st.revisions.length - 1];
    if (!latest || latest.hash !== hash) {
      const revName = `${name}-predictor-${pad(st.nextRevision++)}`;
      latest = { name: revName, hash, port: 0, replicas, createdAt: rfc3339(), template, ...(failNow ? { failLoad: failNow.message ?? 'model failed to load: the model files could not be read (test bed fault isvc-fail)' } : {}) };
      st.revisions.push(latest);
      this.log(`isvc ${key(namespace, name)}: created revision ${revName}${latest.failLoad !== undefined ? ' (its model will fail to load)' : ''}`);
      await this.event(isvc, 'Normal', 'RevisionCreated', `Created revision ${revName}`);
    }
    for (const r of st.revisions) r.port = await this.plane.open(`${uid}/${r.name}`, this.revisionBinding(uid, r.name), r.port);

    // Each revision's state from its pods.
    const byRev = new Map<string, Pod[]>();
    for (const p of pods) {
      const r = p.metadata.labels?.[REVISION_LABEL] ?? '';
      (byRev.get(r) ?? byRev.set(r, []).get(r)!).push(p);
    }
    const view = (r: RevisionState) => withRefusal(revisionView(byRev.get(r.name) ?? [], r.replicas), this.refused.get(`${uid}/${r.hash}`)?.message, r.replicas);
    for (const r of st.revisions) {
      const v = view(r);
      this.readyPods.set(`${uid}/${r.name}`, stop ? 0 : v.ready);
      this.podLogs?.setReady(`${uid}/${r.name}`, stop ? [] : (byRev.get(r.name) ?? []).filter(podReady).map((p) => p.metadata));
      if (!r.readyAt && v.ready >= r.replicas && !v.failure) {
        r.readyAt = rfc3339();
        await this.event(isvc, 'Normal', 'RevisionReady', `Revision ${r.name} is ready`);
      }
    }
    const latestView = view(latest);
    const latestFailed = !latestView.ready && latestView.failure ? latestView.failure : undefined;
    const latestReady = [...st.revisions].reverse().find((r) => r.readyAt);

    // Traffic as KServe's ksvc reconciler writes it, resolved as Knative routes it.
    const canaryRaw = spec.canaryTrafficPercent;
    const canary = canaryRaw === undefined || canaryRaw === null ? undefined : Math.min(100, Math.max(0, Number(canaryRaw)));
    type Target = { tag?: string; revisionName?: string; latestRevision: boolean; percent: number; url?: string };
    const url = (rev?: string) => {
      const r = st.revisions.find((x) => x.name === rev);
      return r ? `http://127.0.0.1:${r.port}` : undefined;
    };
    let targets: Target[];
    if (canary !== undefined && st.latestRolledout) {
      targets = [
        { tag: 'latest', revisionName: latestReady?.name, latestRevision: true, percent: canary, url: url(latestReady?.name) },
        { tag: 'prev', revisionName: st.latestRolledout, latestRevision: false, percent: 100 - canary, url: url(st.latestRolledout) },
      ];
    } else {
      targets = [{ revisionName: latestReady?.name, latestRevision: true, percent: 100, url: url(latestReady?.name) }];
    }
    // The latest ready revision holding 100% is rolled out (ksvc status propagation).
    const full = targets.find((t) => t.latestRevision && t.percent === 100);
    if (full && latestReady && st.latestRolledout !== latestReady.name) {
      if (st.latestRolledout) st.previousRolledout = st.latestRolledout;
      st.latestRolledout = latestReady.name;
      this.log(`isvc ${key(namespace, name)}: ${latestReady.name} rolled out${st.previousRolledout ? ` (previous ${st.previousRolledout})` : ''}`);
      await this.event(isvc, 'Normal', 'RolledOut', `Revision ${latestReady.name} receives 100% of traffic`);
    }

    // Pods: the latest revision and every revision with traffic keep theirs; the rest scale to zero.
    const withTraffic = new Set(targets.filter((t) => t.percent > 0 && t.revisionName).map((t) => t.revisionName!));
    for (const r of st.revisions) {
      const want = stop ? 0 : r === latest || withTraffic.has(r.name) ? r.replicas : 0;
      await this.scale(isvc, 'Serverless', r, byRev.get(r.name) ?? [], want);
    }

    // The data plane: only revisions with a ready pod take requests.
    const weights = new Map<string, number>();
    for (const t of targets) {
      if (!t.revisionName || t.percent <= 0) continue;
      if ((this.readyPods.get(`${uid}/${t.revisionName}`) ?? 0) <= 0) continue;
      weights.set(t.revisionName, (weights.get(t.revisionName) ?? 0) + t.percent);
    }
    this.traffic.set(uid, [...weights].map(([revision, weight]) => ({ revision, weight })));
    if (stop) this.stopped.add(uid);
    else this.stopped.delete(uid);

    // Conditions.
    const failureMsg = (f: Failure, rev: string) => `Revision "${rev}" failed with message: ${f.message}.`;
    const configCond: Cond = latestFailed
      ? { type: 'PredictorConfigurationReady', status: 'False', reason: latestFailed.reason, message: failureMsg(latestFailed, latest.name) }
      : latest.readyAt
        ? { type: 'PredictorConfigurationReady', status: 'True' }
        : { type: 'PredictorConfigurationReady', status: 'Unknown', reason: 'Deploying', message: `Revision ${latest.name} is being deployed` };
    const unresolved = targets.filter((t) => t.percent > 0 && !t.revisionName);
    const routeCond: Cond =
      unresolved.length === 0 && latestReady
        ? { type: 'PredictorRouteReady', status: 'True' }
        : latestFailed && !latestReady
          ? { type: 'PredictorRouteReady', status: 'False', reason: 'RevisionMissing', message: `Configuration "${name}-predictor" does not have any ready Revision.` }
          : { type: 'PredictorRouteReady', status: 'Unknown', reason: 'RevisionMissing', message: `Configuration "${name}-predictor" is waiting for a Revision to become ready.` };
    let predictorCond: Cond;
    if (stop) predictorCond = { type: 'PredictorReady', status: 'False', reason: 'Stopped', message: 'The inferenceservice is stopped' };
    else if (configCond.status === 'True' && routeCond.status === 'True') predictorCond = { type: 'PredictorReady', status: 'True' };
    else {
      const bad = [configCond, routeCond].find((c) => c.status === 'False') ?? [configCond, routeCond].find((c) => c.status !== 'True')!;
      predictorCond = { type: 'PredictorReady', status: bad.status, reason: bad.reason, message: bad.message };
    }
    const ingressCond: Cond = latestReady ? { type: 'IngressReady', status: 'True' } : { type: 'IngressReady', status: 'Unknown', reason: 'PredictorNotReady', message: 'waiting for the predictor to become ready' };
    const readyCond = readyOf(predictorCond, ingressCond);
    const conds = mergeConditions(prevConds, [
      configCond,
      routeCond,
      predictorCond,
      ingressCond,
      readyCond,
      stop ? { type: 'Stopped', status: 'True', reason: 'Stopped', message: 'The inferenceservice is stopped' } : { type: 'Stopped', status: 'False' },
    ]);

    const isvcUrl = `http://127.0.0.1:${st.port}`;
    const predictorStatus: Record<string, unknown> = {
      latestCreatedRevision: latest.name,
      ...(latestReady ? { latestReadyRevision: latestReady.name, url: isvcUrl, restUrl: isvcUrl, address: { url: isvcUrl } } : {}),
      ...(st.latestRolledout ? { latestRolledoutRevision: st.latestRolledout } : {}),
      ...(st.previousRolledout ? { previousRolledoutRevision: st.previousRolledout } : {}),
      traffic: targets.map((t) => stripUndefined(t)),
    };
    const status = {
      ...(latestReady ? { url: isvcUrl, address: { url: isvcUrl } } : {}),
      observedGeneration: isvc.metadata.generation,
      deploymentMode: modeName,
      ...runtimeStatus,
      conditions: conds,
      components: { predictor: predictorStatus },
      modelStatus: modelStatusOf(latestView, latestFailed, !!latestReady, latest.name, this.since(uid, latestFailed)),
    };
    if (latestFailed) await this.event(isvc, 'Warning', latestFailed.reason, failureMsg(latestFailed, latest.name));
    await this.writeStatus(isvc, status);
  }

  private async reconcileRaw(m: ModeReconcile): Promise<void> {
    const { isvc, st, pods, template, replicas, hash, failNow, stop, prevConds, modeName, runtimeStatus } = m;
    const { name, namespace, uid } = isvc.metadata;
    if (st.revisions.length) {
      for (const r of st.revisions) this.plane.close(`${uid}/${r.name}`);
      st.revisions = [];
      st.latestRolledout = st.previousRolledout = undefined;
    }
    if (!st.raw || st.raw.hash !== hash) {
      st.raw = { hash, template, replicas, ...(failNow ? { failLoad: failNow.message ?? 'model failed to load: the model files could not be read (test bed fault isvc-fail)' } : {}) };
      this.log(`isvc ${key(namespace, name)}: raw deployment spec ${hash}${st.raw.failLoad !== undefined ? ' (its model will fail to load)' : ''}`);
      await this.event(isvc, 'Normal', 'DeploymentUpdated', `Predictor deployment ${name}-predictor updated (template ${hash})`);
    }
    const current = pods.filter((p) => p.metadata.labels?.[TEMPLATE_LABEL] === hash);
    const old = pods.filter((p) => p.metadata.labels?.[TEMPLATE_LABEL] !== hash);
    const cur = withRefusal(revisionView(current, replicas), this.refused.get(`${uid}/${hash}`)?.message, replicas);
    const all = revisionView(pods, replicas);
    // Like a Deployment with maxUnavailable 0: new pods first; old ones go once the new ones are all ready.
    await this.scale(isvc, 'Raw', { name: `${name}-predictor`, hash, template }, current, stop ? 0 : replicas);
    if (stop || cur.ready >= replicas) for (const p of old) if (!p.metadata.deletionTimestamp) await this.deletePod(p);
    const ready = stop ? 0 : all.ready;
    this.readyPods.set(uid, ready);
    // The data plane names the InferenceService as the revision in Raw mode.
    this.podLogs?.setReady(`${uid}/${name}`, stop ? [] : pods.filter(podReady).map((p) => p.metadata));
    this.traffic.set(uid, ready > 0 ? [{ revision: name, weight: 100 }] : []);

    const failed = !cur.ready && cur.failure ? cur.failure : undefined;
    let predictorCond: Cond;
    if (stop) predictorCond = { type: 'PredictorReady', status: 'False', reason: 'Stopped', message: 'The inferenceservice is stopped' };
    else if (ready >= replicas || (ready > 0 && old.length > 0)) predictorCond = { type: 'PredictorReady', status: 'True' };
    else if (failed) predictorCond = { type: 'PredictorReady', status: 'False', reason: failed.reason, message: failed.message };
    else predictorCond = { type: 'PredictorReady', status: 'Unknown', reason: 'MinimumReplicasUnavailable', message: `Deployment ${name}-predictor does not have minimum availability.` };
    const latestDeployCond: Cond = cur.ready >= replicas && !stop ? { type: 'LatestDeploymentReady', status: 'True' } : failed ? { type: 'LatestDeploymentReady', status: 'False', reason: failed.reason, message: failed.message } : { type: 'LatestDeploymentReady', status: 'Unknown', reason: stop ? 'Stopped' : 'Progressing', message: stop ? 'The inferenceservice is stopped' : 'new predictor pods are starting' };
    const ingressCond: Cond = predictorCond.status === 'True' || isvc.status?.url ? { type: 'IngressReady', status: 'True' } : { type: 'IngressReady', status: 'Unknown', reason: 'PredictorNotReady', message: 'waiting for the predictor to become ready' };
    const conds = mergeConditions(prevConds, [
      predictorCond,
      latestDeployCond,
      ingressCond,
      readyOf(predictorCond, ingressCond),
      stop ? { type: 'Stopped', status: 'True', reason: 'Stopped', message: 'The inferenceservice is stopped' } : { type: 'Stopped', status: 'False' },
    ]);
    const isvcUrl = `http://127.0.0.1:${st.port}`;
    const everReady = predictorCond.status === 'True' || !!isvc.status?.url;
    if (failed) await this.event(isvc, 'Warning', failed.reason, failed.message);
    await this.writeStatus(isvc, {
      ...(everReady ? { url: isvcUrl, address: { url: isvcUrl } } : {}),
      observedGeneration: isvc.metadata.generation,
      deploymentMode: modeName,
      ...runtimeStatus,
      conditions: conds,
      components: { predictor: predictorCond.status === 'True' ? { url: isvcUrl, restUrl: isvcUrl, address: { url: isvcUrl } } : {} },
      modelStatus: modelStatusOf(cur, failed, all.ready > 0, `${name}-predictor`, this.since(uid, failed)),
    });
  }

  /** Creates or deletes a revision's pods until `want` of them exist (failed ones count: they are not replaced). */
  private async scale(isvc: Isvc, kind: 'Serverless' | 'Raw', r: Pick<RevisionState, 'name' | 'hash' | 'template'>, pods: Pod[], want: number): Promise<void> {
    const alive = pods.filter((p) => !p.metadata.deletionTimestamp);
    if (alive.length > want) {
      for (const p of alive.slice(want)) await this.deletePod(p);
      return;
    }
    // Names like a ReplicaSet's pods: <revision>-deployment-<hash>-<n> (Knative), <isvc>-predictor-<hash>-<n> (Raw).
    const prefix = kind === 'Serverless' ? `${r.name}-deployment-${r.hash}` : `${r.name}-${r.hash}`;
    const have = new Set(alive.map((p) => p.metadata.name));
    // A refused create is retried every 5 s, not every tick (a ReplicaSet backs off too).
    const refused = this.refused.get(`${isvc.metadata.uid}/${r.hash}`);
    if (refused && Date.now() - refused.at < 5_000) return;
    for (let i = 0; have.size < want && i < want + alive.length; i++) {
      const podName = `${prefix}-${pad(i)}`;
      if (have.has(podName)) continue;
      await this.createPod(isvc, kind, r, podName);
      have.add(podName);
    }
  }

  private async createPod(isvc: Isvc, kind: 'Serverless' | 'Raw', r: Pick<RevisionState, 'name' | 'hash' | 'template'>, podName: string): Promise<void> {
    const { name, namespace, uid } = isvc.metadata;
    const t = structuredClone(r.template);
    const modeLabels: Record<string, string> =
      kind === 'Serverless' ? { [REVISION_LABEL]: r.name, 'serving.knative.dev/revisionUID': sha(`${uid}/${r.name}`).slice(0, 8), app: r.name } : { app: `isvc.${name}-predictor` };
    const body = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...t.metadata,
        name: podName,
        namespace,
        labels: { ...t.metadata.labels, ...modeLabels, [MODE_LABEL]: kind, [TEMPLATE_LABEL]: r.hash },
        ownerReferences: [{ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', name, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: t.spec,
    };
    try {
      await this.kube.create(`/api/v1/namespaces/${namespace}/pods`, body);
      this.refused.delete(`${uid}/${r.hash}`);
      this.log(`isvc ${key(namespace, name)}: created pod ${podName}`);
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return;
      if (!(err instanceof KubeError) || err.status >= 500) throw err;
      // A pod the API server refuses (bad resources, missing service account) fails the revision.
      const message = String((err.body as { message?: string } | undefined)?.message ?? err.message);
      this.refused.set(`${uid}/${r.hash}`, { message, at: Date.now() });
      this.log(`isvc ${key(namespace, name)}: pod ${podName} refused: ${message}`);
    }
  }

  private readonly refused = new Map<string, { message: string; at: number }>();
  private readonly failureSince = new Map<string, string>();

  /** When this failure was first seen: a stable lastFailureInfo.time, so the status is not rewritten every second. */
  private since(uid: string, f: Failure | undefined): string {
    if (!f) return '';
    const k = `${uid}|${f.pod ?? ''}|${f.message}`;
    let t = this.failureSince.get(k);
    if (!t) this.failureSince.set(k, (t = rfc3339()));
    return t;
  }

  /** What a crash-looping model server looks like: Running, not Ready, container waiting in CrashLoopBackOff. */
  private async crashLoop(p: Pod, message: string): Promise<Pick<NonNullable<Pod['status']>, 'conditions' | 'containerStatuses'>> {
    const now = rfc3339();
    const cs = p.status?.containerStatuses ?? [];
    const containerStatuses = cs.map((c) =>
      c.name === 'kserve-container'
        ? {
            ...c,
            ready: false,
            started: false,
            restartCount: (c.restartCount ?? 0) + 1,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=kserve-container pod=${p.metadata.name}` } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', message, startedAt: now, finishedAt: now, containerID: (c as { containerID?: string }).containerID } },
          }
        : c,
    );
    const conditions = (p.status?.conditions ?? []).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [kserve-container]', lastTransitionTime: now } : c,
    );
    await this.kube.patch(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, { metadata: { uid: p.metadata.uid }, status: { conditions, containerStatuses } });
    this.log(`pod ${key(p.metadata.namespace, p.metadata.name)}: model load failed, CrashLoopBackOff`);
    return { conditions, containerStatuses };
  }

  private async writeStatus(isvc: Isvc, status: Record<string, unknown>): Promise<void> {
    const text = JSON.stringify(status);
    if (this.lastStatus.get(isvc.metadata.uid) === text) return;
    const { name, namespace } = isvc.metadata;
    // JSON patch "add" replaces the whole status, so keys that no longer apply disappear.
    await this.kube.patch(`${ISVCS.replace('/inferenceservices', '')}/namespaces/${namespace}/inferenceservices/${name}/status`, [{ op: 'add', path: '/status', value: status }], 'json');
    this.lastStatus.set(isvc.metadata.uid, text);
  }

  // ---- what the data plane asks ------------------------------------------------

  private isvcBinding(uid: string, name: string, namespace: string) {
    return {
      targets: () => (this.stopped.has(uid) ? [] : (this.traffic.get(uid) ?? [])),
      model: () => this.models.get(uid),
      delayMs: () => this.faults().slow?.[key(namespace, name)]?.ms ?? 0,
      served: (rev: string, method: string, path: string, status: number, ms: number) => this.podLogs?.served(`${uid}/${rev}`, method, path, status, ms),
    };
  }

  private revisionBinding(uid: string, revision: string) {
    const st = () => this.state[uid];
    return {
      targets: () => ((this.readyPods.get(`${uid}/${revision}`) ?? 0) > 0 ? [{ revision, weight: 1 }] : []),
      model: () => this.models.get(uid),
      served: (rev: string, method: string, path: string, status: number, ms: number) => this.podLogs?.served(`${uid}/${rev}`, method, path, status, ms),
      delayMs: () => {
        const s = st();
        return s ? (this.faults().slow?.[key(s.namespace, s.name)]?.ms ?? 0) : 0;
      },
    };
  }

}

// ---- pure helpers --------------------------------------------------------------

function keepUrl(status: Record<string, any> | undefined): Record<string, unknown> {
  return status?.url ? { url: status.url, address: status.address } : {};
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function isCrashLooping(p: Pod): boolean {
  return (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');
}

function podReady(p: Pod): boolean {
  return !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Ready pods of a revision, and the failure that keeps it from being ready, if any. */
export function revisionView(pods: Pod[], replicas: number): { ready: number; total: number; failed: number; failure?: Failure } {
  const alive = pods.filter((p) => !p.metadata.deletionTimestamp);
  const ready = alive.filter(podReady).length;
  let failure: Failure | undefined;
  let failed = 0;
  for (const p of alive) {
    const crash = (p.status?.containerStatuses ?? []).find((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');
    if (crash) {
      failed++;
      const term = crash.lastState?.terminated as { exitCode?: number; message?: string } | undefined;
      failure ??= { reason: 'ModelLoadFailed', message: `Container failed with: ${term?.message ?? 'CrashLoopBackOff'}`, pod: p.metadata.name, exitCode: term?.exitCode };
    } else if (p.status?.phase === 'Failed') {
      failed++;
      const term = (p.status.containerStatuses ?? []).map((c) => c.state?.terminated as { exitCode?: number; reason?: string; message?: string } | undefined).find(Boolean);
      const why = p.status.message ?? term?.message ?? term?.reason ?? p.status.reason ?? 'the pod failed';
      failure ??= { reason: 'RevisionFailed', message: `${p.status.reason ? `${p.status.reason}: ` : ''}${why}`, pod: p.metadata.name, exitCode: term?.exitCode };
    }
  }
  return { ready, total: alive.length, failed, failure: ready >= replicas ? undefined : failure };
}

type View = ReturnType<typeof revisionView>;

/** A pod the API server refused to create fails its revision like a failed pod. */
function withRefusal(v: View, refused: string | undefined, replicas: number): View {
  if (!refused || v.failure || v.ready >= replicas) return v;
  return { ...v, failure: { reason: 'RevisionFailed', message: `the predictor pod was refused: ${refused}` } };
}

function modelStatusOf(v: { ready: number; total: number; failed: number }, failure: Failure | undefined, anyReady: boolean, revision: string, since: string): Record<string, unknown> {
  if (failure) {
    return {
      transitionStatus: 'BlockedByFailedLoad',
      states: { activeModelState: anyReady ? 'Loaded' : 'FailedToLoad', targetModelState: 'FailedToLoad' },
      lastFailureInfo: stripUndefined({
        reason: failure.reason === 'ModelLoadFailed' ? 'ModelLoadFailed' : 'RuntimeUnhealthy',
        message: failure.message,
        location: failure.pod,
        exitCode: failure.exitCode,
        modelRevisionName: revision,
        time: since,
      }),
      copies: { failedCopies: v.failed, totalCopies: v.total },
    };
  }
  if (v.ready > 0 && v.ready >= v.total) return { transitionStatus: 'UpToDate', states: { activeModelState: 'Loaded', targetModelState: 'Loaded' }, copies: { failedCopies: 0, totalCopies: v.total } };
  return { transitionStatus: 'InProgress', states: { activeModelState: anyReady ? 'Loaded' : 'Pending', targetModelState: 'Loading' }, copies: { failedCopies: v.failed, totalCopies: v.total } };
}

function readyOf(predictor: Cond, ingress: Cond): Cond {
  if (predictor.status === 'True' && ingress.status === 'True') return { type: 'Ready', status: 'True' };
  const bad = [predictor, ingress].find((c) => c.status === 'False') ?? [predictor, ingress].find((c) => c.status !== 'True')!;
  return { type: 'Ready', status: bad.status, reason: bad.reason, message: bad.message };
}

/** New conditions keep their lastTransitionTime while their status stays the same. */
function mergeConditions(prev: Cond[], next: Cond[]): Cond[] {
  const now = rfc3339();
  return next.map((c) => {
    const before = prev.find((p) => p.type === c.type);
    const lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    return stripUndefined({ ...c, severity: c.type === 'Stopped' ? 'Info' : undefined, lastTransitionTime });
  });
}

/** The predictor pod KServe (through Knative or a Deployment) would run, before name and bookkeeping labels. */
export function podTemplate(isvc: Isvc, p: Predictor, runtime: RuntimeObject | undefined): Record<string, any> {
  const { name } = isvc.metadata;
  const spec = isvc.spec?.predictor ?? {};
  const rtc = (runtime?.spec.containers?.find((c) => c.name === 'kserve-container') ?? runtime?.spec.containers?.[0] ?? {}) as Record<string, any>;
  const fill = (s: string) => s.replaceAll('{{.Name}}', name);
  const c = p.container;
  const container: Record<string, any> = stripUndefined({
    name: 'kserve-container',
    image: c.image ?? rtc.image ?? 'registry.tessera.local/kserve/custom:latest',
    command: c.command ?? rtc.command,
    args: [...(rtc.args ?? []), ...(c.args ?? [])].map(fill),
    env: [...(rtc.env ?? []), ...(c.env ?? [])],
    resources: c.resources ?? rtc.resources,
    ports: [{ name: 'user-port', containerPort: 8080, protocol: 'TCP' }],
    volumeMounts: undefined as unknown,
  });
  const volumes: Record<string, unknown>[] = [];
  const initContainers: Record<string, unknown>[] = [];
  const uri = p.storageUri;
  if (uri?.startsWith('pvc://')) {
    const [claim, ...rest] = uri.slice('pvc://'.length).split('/');
    const readOnly = isvc.metadata.annotations?.['storage.kserve.io/readonly'] !== 'false';
    volumes.push({ name: 'kserve-pvc-source', persistentVolumeClaim: { claimName: claim, readOnly } });
    container.volumeMounts = [{ name: 'kserve-pvc-source', mountPath: '/mnt/models', subPath: rest.filter(Boolean).join('/') || undefined, readOnly }].map((m) => stripUndefined(m));
  } else if (uri) {
    volumes.push({ name: 'kserve-provision-location', emptyDir: {} });
    initContainers.push({ name: 'storage-initializer', image: 'registry.tessera.local/kserve/storage-initializer:v0.20.0', args: [uri, '/mnt/models'], volumeMounts: [{ name: 'kserve-provision-location', mountPath: '/mnt/models' }] });
    container.volumeMounts = [{ name: 'kserve-provision-location', mountPath: '/mnt/models', readOnly: true }];
  }
  if (!container.volumeMounts) delete container.volumeMounts;
  if (!(container.env as unknown[]).length) delete container.env;
  // spec.predictor.labels/annotations go on the pod (ComponentExtensionSpec), and so do the ISVC's
  // tessera.dev/sim-* annotations, so a test can steer the simulated kubelet (start delay, idle GPUs).
  const simAnnotations = Object.fromEntries(Object.entries(isvc.metadata.annotations ?? {}).filter(([k]) => k.startsWith('tessera.dev/sim-')));
  const labels: Record<string, string> = { ...isvc.metadata.labels, ...spec.labels, [ISVC_LABEL]: name, component: 'predictor', 'serving.knative.dev/configuration': `${name}-predictor`, 'serving.knative.dev/service': `${name}-predictor` };
  return {
    metadata: { labels, annotations: stripUndefined({ ...simAnnotations, ...spec.annotations, 'serving.kserve.io/deploymentMode': isvc.metadata.annotations?.[MODE_ANNOTATION], 'serving.kserve.io/storage-initializer-sourceuri': uri }) },
    spec: stripUndefined({
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      serviceAccountName: spec.serviceAccountName,
      nodeSelector: spec.nodeSelector,
      tolerations: spec.tolerations,
      affinity: spec.affinity,
      priorityClassName: spec.priorityClassName,
      runtimeClassName: spec.runtimeClassName,
      imagePullSecrets: spec.imagePullSecrets,
      schedulerName: spec.schedulerName,
      initContainers: initContainers.length ? initContainers : undefined,
      containers: [container],
      volumes: volumes.length ? volumes : undefined,
      terminationGracePeriodSeconds: 30,
    }),
  };
}
