// GPU workstations on the connected clusters: create (quota and RBAC checked
// first), list with state and GPU-hours, start and stop, snapshot, clone into
// another namespace, restore, delete. Every change goes into the audit trail.
// Kubeflow Notebooks are used where that API exists; elsewhere Tessera's own
// StatefulSet + PVC + Service, labelled tessera.dev/workstation.
import { randomUUID } from 'node:crypto';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { permissionName } from '../clusters/access-required.ts';
import type { WorkstationCheck, WorkstationDeleted, WorkstationOptions } from '../../../shared/contract/workstations.ts';
import { gpuOffers } from '../../../shared/gpu/gpu-offers.ts';
import { MIG_PROFILE_NAME } from '../../../shared/gpu/mig-parted.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { NodeRow } from '../../../shared/model/node.ts';
import { parseQuantity } from '../../../shared/quantity.ts';
import { IDLE_DEFAULTS, WS_ANNOTATIONS, WS_LABEL, type GpuOffer, type IdlePolicy, type Workstation, type WorkstationGpu, type WorkstationSnapshot, type WorkstationSpec, type WorkstationTemplate } from '../../../shared/model/workstation.ts';
import type { Clock } from '../clock.ts';
import type { AccessRequest } from '../clusters/cluster-connection.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import { homeClaim, homeClaimName, notebookObject, serviceObject, snapshotCopy, snapshotObject, specAnnotation, statefulSetObject, type KubeObject } from './ws-objects.ts';
import { crossClusterPlan, type CloneTarget } from './ws-cross-cluster.ts';
import { idlePolicyOf } from './ws-idle.ts';
import { describeQuotaProblem, quotaProblems, workstationDemand } from './ws-quota.ts';
import { deriveWorkstation, gpuWeight, homeClaimOf, isStopRequested, runStart, specOf, templateSpec } from './ws-state.ts';
import type { TemplateStore } from './ws-templates.ts';
import type { ClusterHandle } from '../clusters/cluster-handle.ts';
import { listAcross } from '../clusters/across-clusters.ts';

export type WsCluster = ClusterHandle;

export interface WorkstationServiceOptions {
  clock: Clock;
  cluster(id: string): WsCluster;
  connectedIds(): string[];
  nodes(id: string): Promise<NodeRow[]>;
  audit(input: AuditInput): Promise<unknown>;
  templates?: TemplateStore;
  /** How long restore and clone wait for volumes, snapshots and pods (default 120 s). */
  waitMs?: number;
  pollMs?: number;
  /** false: Tessera's own StatefulSet + PVC + Service even where Kubeflow Notebooks exist (default true). */
  useNotebooks?: boolean;
}

const NOTEBOOKS = (ns?: string) => (ns ? `/apis/kubeflow.org/v1/namespaces/${ns}/notebooks` : '/apis/kubeflow.org/v1/notebooks');
const STATEFULSETS = (ns?: string) => (ns ? `/apis/apps/v1/namespaces/${ns}/statefulsets` : '/apis/apps/v1/statefulsets');
const PVCS = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/persistentvolumeclaims` : '/api/v1/persistentvolumeclaims');
const SNAPSHOTS = (ns?: string) => (ns ? `/apis/snapshot.storage.k8s.io/v1/namespaces/${ns}/volumesnapshots` : '/apis/snapshot.storage.k8s.io/v1/volumesnapshots');
const CONTENTS = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';
const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

interface Found {
  kind: 'notebook' | 'statefulset';
  path: string;
  obj: KubeObject;
}

const statusOf = (err: unknown) => (err as TesseraError).details?.status as number | undefined;
const isNotFound = (err: unknown) => err instanceof TesseraError && (err.code === 'NOT_FOUND' || statusOf(err) === 404);
const isConflict = (err: unknown) => err instanceof TesseraError && statusOf(err) === 409;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A spec the API server would accept and that means one thing: clear errors, nothing sent. */
export function checkSpec(spec: WorkstationSpec): void {
  const g = spec.gpu as WorkstationGpu & { count?: number; profile?: string };
  if (g.kind === 'none' && (g.count !== undefined || g.profile !== undefined)) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "none" takes no count or profile');
  if (g.kind === 'full' && (!g.count || g.profile !== undefined)) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "full" needs a count (1-16) and no profile');
  if (g.kind === 'mig' && (!g.count || !g.profile || !MIG_PROFILE_NAME.test(g.profile))) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "mig" needs a MIG profile such as 1g.10gb and a count');
  for (const [field, min] of [['cpu', 0.001], ['memory', 2 ** 20], ['volumeSize', 2 ** 20]] as const) {
    const v = parseQuantity(spec[field]);
    if (v === undefined || v < min) throw new TesseraError('INVALID_REQUEST', `${field}: "${spec[field]}" is too small or not a quantity`);
  }
  const names = new Set<string>();
  for (const e of spec.env ?? []) {
    if (names.has(e.name)) throw new TesseraError('INVALID_REQUEST', `env: ${e.name} is set twice`);
    names.add(e.name);
  }
}

/** The contract's flat GPU object as the model's union, after checkSpec-style checks. */
export function gpuFromRequest(g: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string }): WorkstationGpu {
  if (g.kind === 'none') {
    if (g.count !== undefined || g.profile !== undefined) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "none" takes no count or profile');
    return { kind: 'none' };
  }
  if (g.kind === 'full') {
    if (!g.count || g.profile !== undefined) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "full" needs a count (1-16) and no profile');
    return { kind: 'full', count: g.count };
  }
  if (!g.count || !g.profile || !MIG_PROFILE_NAME.test(g.profile)) throw new TesseraError('INVALID_REQUEST', 'gpu: kind "mig" needs a MIG profile such as 1g.10gb and a count');
  return { kind: 'mig', profile: g.profile, count: g.count };
}

function maxQuantity(a: string, b: string | undefined): string {
  if (!b) return a;
  return (parseQuantity(b) ?? 0) > (parseQuantity(a) ?? 0) ? b : a;
}

export class WorkstationService {
  private readonly apiCache = new Map<string, { at: number; notebooks: boolean; snapshots: boolean }>();
  /** Told when Tessera stops or deletes a workstation (IDE forwards to it close). */
  readonly onStopped = new Set<(id: string, namespace: string, name: string) => void>();

  constructor(private readonly o: WorkstationServiceOptions) {}

  // ---------- reading ----------

  list(id?: string): Promise<Workstation[]> {
    return listAcross(id, () => this.o.connectedIds(), (cid) => this.listCluster(cid));
  }

  async get(id: string, namespace: string, name: string): Promise<Workstation> {
    const kc = await this.kc(id);
    const found = await this.find(id, namespace, name);
    const pod = await this.optional<KubeObject>(kc, `/api/v1/namespaces/${namespace}/pods/${name}-0`);
    const claims = new Map<string, KubeObject>();
    const claimName = homeClaimOf(found.obj);
    if (claimName) {
      const c = await this.optional<KubeObject>(kc, `${PVCS(namespace)}/${claimName}`);
      if (c) claims.set(`${namespace}/${claimName}`, c);
    }
    const policy = (await this.idlePolicies(id, [namespace])).get(namespace);
    return deriveWorkstation({ clusterId: id, workload: found.obj, ...(pod ? { pod } : {}), claims, now: this.o.clock.now(), ...(policy ? { policy } : {}) });
  }

  /**
   * Each namespace's idle policy (its annotations; see IDLE_POLICY_ANNOTATIONS).
   * One list when the user may list namespaces, else one read per namespace;
   * a namespace nobody may read gets the defaults.
   */
  async idlePolicies(id: string, namespaces: string[]): Promise<Map<string, IdlePolicy>> {
    const kc = await this.kc(id);
    const out = new Map<string, IdlePolicy>();
    const wanted = [...new Set(namespaces)];
    if (wanted.length === 0) return out;
    let all: KubeObject[] | undefined;
    if (wanted.length > 1) all = await kubeJson<{ items: KubeObject[] }>(kc, '/api/v1/namespaces').then((r) => r.items, () => undefined);
    for (const ns of wanted) {
      const obj = all ? all.find((n) => n.metadata?.name === ns) : await this.optional<KubeObject>(kc, `/api/v1/namespaces/${ns}`).catch(() => undefined);
      out.set(ns, obj ? idlePolicyOf(obj.metadata?.annotations) : IDLE_DEFAULTS);
    }
    return out;
  }

  /**
   * Marks (or clears) since when a workstation pod's GPUs have been quiet. It
   * goes on the pod: a new run starts with no marker, and the Notebook (whose
   * annotations its controller copies into the pod template) is not touched.
   */
  async setIdleMarker(id: string, namespace: string, pod: string, since: string | null): Promise<void> {
    await kubeJson(await this.kc(id), `/api/v1/namespaces/${namespace}/pods/${pod}`, { method: 'PATCH', contentType: MERGE, body: { metadata: { annotations: { [WS_ANNOTATIONS.idleSince]: since } } }, action: `mark ${pod} ${since ? 'idle' : 'busy'}` });
  }

  async options(id: string): Promise<WorkstationOptions> {
    const kc = await this.kc(id);
    const apis = await this.apis(id);
    const sc = await kubeJson<{ items: KubeObject[] }>(kc, '/apis/storage.k8s.io/v1/storageclasses', { action: 'list storage classes' }).catch(() => ({ items: [] as KubeObject[] }));
    const vsc = apis.snapshots ? await kubeJson<{ items: KubeObject[] }>(kc, '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses', { action: 'list snapshot classes' }).catch(() => ({ items: [] as KubeObject[] })) : { items: [] };
    let namespaces: string[] = [];
    try {
      namespaces = (await kubeJson<{ items: KubeObject[] }>(kc, '/api/v1/namespaces', { action: 'list namespaces' })).items.map((n) => n.metadata.name as string);
    } catch {
      const ns = this.o.cluster(id).namespace;
      namespaces = ns ? [ns] : [];
    }
    return {
      kind: apis.notebooks ? 'notebook' : 'statefulset',
      snapshotApi: apis.snapshots,
      storageClasses: sc.items.map((c) => ({ name: c.metadata.name, provisioner: c.provisioner, default: c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true' })),
      snapshotClasses: vsc.items.map((c) => ({ name: c.metadata.name, driver: c.driver, deletionPolicy: c.deletionPolicy, default: c.metadata.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true' })),
      namespaces: namespaces.sort(),
    };
  }

  async offers(id: string): Promise<GpuOffer[]> {
    return gpuOffers(await this.o.nodes(id));
  }

  async snapshots(id: string, namespace?: string): Promise<WorkstationSnapshot[]> {
    const apis = await this.apis(id);
    if (!apis.snapshots) return [];
    const list = await kubeJson<{ items: KubeObject[] }>(await this.kc(id), SNAPSHOTS(namespace), { action: 'list volume snapshots' });
    return list.items.map((s) => this.projectSnapshot(id, s)).sort((a, b) => a.namespace.localeCompare(b.namespace) || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  }

  // ---------- checks ----------

  /** RBAC and quota for creating `spec` (volume included unless told otherwise). */
  async check(id: string, spec: WorkstationSpec, opts: { volume?: boolean; kind?: 'notebook' | 'statefulset'; createAccess?: boolean } = {}): Promise<WorkstationCheck> {
    checkSpec(spec);
    const kind = opts.kind ?? ((await this.apis(id)).notebooks ? 'notebook' : 'statefulset');
    const c = this.o.cluster(id);
    const ns = spec.namespace;
    const reqs: AccessRequest[] =
      kind === 'notebook'
        ? [{ verb: 'create', resource: 'notebooks', group: 'kubeflow.org', namespace: ns }]
        : [
            { verb: 'create', resource: 'statefulsets', group: 'apps', namespace: ns },
            { verb: 'create', resource: 'services', namespace: ns },
          ];
    if (opts.volume !== false) reqs.push({ verb: 'create', resource: 'persistentvolumeclaims', namespace: ns });
    // A start needs patch rights (checked by its caller), not create rights.
    const access = opts.createAccess === false ? [] : await Promise.all(reqs.map(async (r) => ({ ...(await c.canI(r)), permission: permissionName(r) })));
    const problems = access.filter((a) => !a.allowed).map((a) => a.reason);
    const kc = await this.kc(id);
    try {
      await kubeJson(kc, `/api/v1/namespaces/${ns}`, { action: `read namespace ${ns}` });
    } catch (err) {
      if (isNotFound(err)) problems.push(`namespace ${ns} does not exist`);
    }
    if (opts.volume !== false && spec.storageClass) {
      const sc = await this.optional(kc, `/apis/storage.k8s.io/v1/storageclasses/${spec.storageClass}`);
      if (!sc) problems.push(`storage class ${spec.storageClass} does not exist`);
    }
    const quotas = await kubeJson<{ items: KubeObject[] }>(kc, `/api/v1/namespaces/${ns}/resourcequotas`, { action: `list quotas in ${ns}` }).catch(() => ({ items: [] as KubeObject[] }));
    for (const p of quotaProblems(quotas.items, workstationDemand(spec, { volume: opts.volume !== false }))) problems.push(describeQuotaProblem(ns, p));
    return { ok: problems.length === 0, problems, access };
  }

  private async mustPass(id: string, spec: WorkstationSpec, opts: { volume?: boolean; kind?: 'notebook' | 'statefulset'; createAccess?: boolean } = {}): Promise<void> {
    const r = await this.check(id, spec, opts);
    if (r.ok) return;
    const quota = r.problems.filter((p) => p.startsWith('ResourceQuota'));
    const denied = r.access.filter((a) => !a.allowed);
    const code = denied.length || quota.length ? 'FORBIDDEN' : 'INVALID_REQUEST';
    const missing = denied.map((a) => (a as { permission?: string }).permission).filter((p): p is string => !!p);
    throw new TesseraError(code, `workstation ${spec.namespace}/${spec.name} refused: ${r.problems.join('; ')}`, { problems: r.problems, ...(missing.length ? { missing } : {}) });
  }

  private async allowed(id: string, req: AccessRequest): Promise<void> {
    const a = await this.o.cluster(id).canI(req);
    if (!a.allowed) throw new TesseraError('FORBIDDEN', a.reason, { missing: [permissionName(req)] });
  }

  // ---------- changes ----------

  async create(id: string, spec: WorkstationSpec): Promise<Workstation> {
    return this.audited(id, 'workstation.create', spec.namespace, spec.name, { spec }, async () => {
      const kind = (await this.apis(id)).notebooks ? 'notebook' : 'statefulset';
      await this.mustPass(id, spec, { kind });
      await this.ensureAbsent(id, spec.namespace, spec.name);
      await this.createObjects(id, kind, spec, homeClaimName(spec.name));
      return this.get(id, spec.namespace, spec.name);
    });
  }

  async start(id: string, namespace: string, name: string): Promise<Workstation> {
    return this.audited(id, 'workstation.start', namespace, name, {}, async () => {
      const f = await this.find(id, namespace, name);
      await this.allowed(id, this.patchReq(f, namespace));
      if (isStopRequested(f.obj)) {
        // Quota is checked as the pod will be: the volume exists already.
        const spec = specOf(f.obj);
        await this.mustPass(id, spec, { volume: false, kind: f.kind, createAccess: false });
        await this.setRunning(id, f, true);
      }
      return this.get(id, namespace, name);
    });
  }

  async stop(id: string, namespace: string, name: string): Promise<Workstation> {
    const w = await this.audited(id, 'workstation.stop', namespace, name, {}, async () => {
      const f = await this.find(id, namespace, name);
      await this.allowed(id, this.patchReq(f, namespace));
      if (!isStopRequested(f.obj)) await this.setRunning(id, f, false);
      return this.get(id, namespace, name);
    });
    this.stopped(id, namespace, name);
    return w;
  }

  /**
   * The idle policy's stop: the same stop, with the reason written on the
   * workload (tessera.dev/stopped-reason, cleared by the next start) and in
   * the audit trail under its own action, so "who stopped my workstation"
   * has an answer.
   */
  async stopIdle(id: string, namespace: string, name: string, reason: string, policy: IdlePolicy): Promise<Workstation> {
    // Every running console applies the policy; the ones that come second find
    // it stopped already, which is their goal met, not a failure to record.
    if (isStopRequested((await this.find(id, namespace, name)).obj)) return this.get(id, namespace, name);
    const w = await this.audited(id, 'workstation.idle-stop', namespace, name, { reason, policy }, async () => {
      const f = await this.find(id, namespace, name);
      await this.allowed(id, this.patchReq(f, namespace));
      if (isStopRequested(f.obj)) throw new TesseraError('CONFLICT', `workstation ${namespace}/${name} is already stopped`);
      await this.setRunning(id, f, false, reason);
      return this.get(id, namespace, name);
    });
    this.stopped(id, namespace, name);
    return w;
  }

  private stopped(id: string, namespace: string, name: string): void {
    for (const fn of this.onStopped) {
      try {
        fn(id, namespace, name);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  async snapshot(id: string, namespace: string, name: string, snapshotName?: string, className?: string): Promise<WorkstationSnapshot> {
    const snapName = snapshotName ?? `${name}-${new Date(this.o.clock.now()).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
    return this.audited(id, 'workstation.snapshot', namespace, name, { snapshot: snapName, className }, async () => {
      await this.needSnapshots(id);
      const kc = await this.kc(id);
      const f = await this.find(id, namespace, name);
      const claimName = homeClaimOf(f.obj);
      if (!claimName) throw new TesseraError('INVALID_REQUEST', `workstation ${namespace}/${name} has no volume to snapshot`);
      const claim = await this.optional<KubeObject>(kc, `${PVCS(namespace)}/${claimName}`);
      if (!claim || claim.status?.phase !== 'Bound') throw new TesseraError('CONFLICT', `volume ${namespace}/${claimName} is ${claim ? 'not bound yet' : 'missing'}; nothing to snapshot`);
      if (className) await this.checkSnapshotClass(id, className, claim);
      await this.allowed(id, { verb: 'create', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace });
      const spec = specOf(f.obj);
      spec.volumeSize = maxQuantity(spec.volumeSize || claim.spec?.resources?.requests?.storage, claim.status?.capacity?.storage);
      spec.storageClass ??= claim.spec?.storageClassName;
      try {
        const created = await kubeJson<KubeObject>(kc, SNAPSHOTS(namespace), { method: 'POST', body: snapshotObject(spec, namespace, snapName, claimName, className), action: `create snapshot ${snapName}` });
        return this.projectSnapshot(id, created);
      } catch (err) {
        if (isConflict(err)) throw new TesseraError('CONFLICT', `a snapshot named ${snapName} already exists in ${namespace}`);
        throw err;
      }
    });
  }

  /** Every other connected cluster, and whether this snapshot can be cloned into it (with the reason when not). */
  async cloneTargets(id: string, namespace: string, snapshot: string): Promise<CloneTarget[]> {
    await this.needSnapshots(id);
    const { source } = await this.crossSource(id, namespace, snapshot);
    const others = this.o.connectedIds().filter((c) => c !== id);
    return Promise.all(
      others.map(async (clusterId) => {
        try {
          const plan = crossClusterPlan(source, { clusterId, ...(await this.options(clusterId)) });
          return plan.ok ? { clusterId, ok: true, snapshotClass: plan.snapshotClass, storageClass: plan.storageClass } : { clusterId, ok: false, reason: plan.reason };
        } catch (err) {
          return { clusterId, ok: false, reason: `cluster ${clusterId} could not be read: ${(err as Error).message}` };
        }
      }),
    );
  }

  /** A ready snapshot's content as the cross-cluster plan needs it. */
  private async crossSource(id: string, namespace: string, snapshot: string): Promise<{ snap: KubeObject; content: KubeObject; spec?: WorkstationSpec; source: { driver: string; handle?: string; className?: string; storageClass?: string } }> {
    const snap = await this.readySnapshot(id, namespace, snapshot);
    const content = await kubeJson<KubeObject>(await this.kc(id), `${CONTENTS}/${snap.status.boundVolumeSnapshotContentName}`, { action: 'read snapshot content' });
    const spec = this.projectSnapshot(id, snap).spec;
    return {
      snap,
      content,
      ...(spec ? { spec } : {}),
      source: { driver: content.spec?.driver, ...(content.status?.snapshotHandle ? { handle: content.status.snapshotHandle } : {}), ...(snap.spec?.volumeSnapshotClassName ? { className: snap.spec.volumeSnapshotClassName } : {}), ...(spec?.storageClass ? { storageClass: spec.storageClass } : {}) },
    };
  }

  /**
   * A clone on another connected cluster: the snapshot's handle pre-provisioned
   * there as a VolumeSnapshotContent + VolumeSnapshot (the standard CSI
   * cross-cluster path), then a workstation restored from it. Refused, with
   * the reason, where the target has no snapshot class and storage class of
   * the same CSI driver.
   */
  private async cloneAcross(id: string, namespace: string, snapshot: string, targetCluster: string, target: { namespace: string; name: string }): Promise<Workstation> {
    if (!this.o.connectedIds().includes(targetCluster)) throw new TesseraError('INVALID_REQUEST', `cluster ${targetCluster} is not connected; connect it first`);
    return this.audited(targetCluster, 'workstation.clone', target.namespace, target.name, { from: `${namespace}/${snapshot}`, fromCluster: id }, async () => {
      await this.needSnapshots(id);
      const { snap, spec: saved, source } = await this.crossSource(id, namespace, snapshot);
      if (!saved) throw new TesseraError('INVALID_REQUEST', `snapshot ${namespace}/${snapshot} carries no workstation spec (it was not cut by Tessera)`);
      const plan = crossClusterPlan(source, { clusterId: targetCluster, ...(await this.options(targetCluster)) });
      if (!plan.ok) throw new TesseraError('INVALID_REQUEST', `cannot clone ${namespace}/${snapshot} into cluster ${targetCluster}: ${plan.reason}`);
      const spec: WorkstationSpec = { ...saved, name: target.name, namespace: target.namespace, storageClass: plan.storageClass, volumeSize: maxQuantity(saved.volumeSize, snap.status?.restoreSize) };
      const kind = (await this.apis(targetCluster)).notebooks ? 'notebook' : 'statefulset';
      await this.mustPass(targetCluster, spec, { kind });
      await this.ensureAbsent(targetCluster, spec.namespace, spec.name);
      await this.allowed(targetCluster, { verb: 'create', resource: 'volumesnapshotcontents', group: 'snapshot.storage.k8s.io' });
      await this.allowed(targetCluster, { verb: 'create', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: target.namespace });
      const tkc = await this.kc(targetCluster);
      const copyName = `${target.name}-from-${snapshot}`.slice(0, 253);
      const copy = snapshotCopy({ handle: source.handle!, driver: source.driver, className: plan.snapshotClass, spec: saved, sourceNamespace: namespace, sourceName: snapshot }, target.namespace, copyName, this.o.clock.now().toString(36));
      copy.content.metadata.annotations['tessera.dev/copied-from-cluster'] = id;
      await kubeJson(tkc, CONTENTS, { method: 'POST', body: copy.content, action: `pre-provision snapshot content on ${targetCluster}` });
      try {
        await kubeJson(tkc, SNAPSHOTS(target.namespace), { method: 'POST', body: copy.snapshot, action: `create snapshot on ${targetCluster}` });
      } catch (err) {
        await kubeJson(tkc, `${CONTENTS}/${copy.content.metadata.name}`, { method: 'DELETE' }).catch(() => undefined);
        if (isConflict(err)) throw new TesseraError('CONFLICT', `a snapshot named ${copyName} already exists in ${target.namespace} on ${targetCluster}; clone under another name`);
        throw err;
      }
      await this.readySnapshot(targetCluster, target.namespace, copyName, this.o.waitMs ?? 120_000);
      await this.createObjects(targetCluster, kind, spec, homeClaimName(spec.name), { kind: 'VolumeSnapshot', name: copyName });
      return this.get(targetCluster, spec.namespace, spec.name);
    });
  }

  async clone(id: string, namespace: string, snapshot: string, target: { namespace: string; name: string }, targetCluster?: string): Promise<Workstation> {
    if (targetCluster && targetCluster !== id) return this.cloneAcross(id, namespace, snapshot, targetCluster, target);
    return this.audited(id, 'workstation.clone', target.namespace, target.name, { from: `${namespace}/${snapshot}` }, async () => {
      await this.needSnapshots(id);
      const kc = await this.kc(id);
      const snap = await this.readySnapshot(id, namespace, snapshot);
      const saved = this.projectSnapshot(id, snap).spec;
      if (!saved) throw new TesseraError('INVALID_REQUEST', `snapshot ${namespace}/${snapshot} carries no workstation spec (it was not cut by Tessera); create a workstation and restore it instead`);
      const spec: WorkstationSpec = { ...saved, name: target.name, namespace: target.namespace, volumeSize: maxQuantity(saved.volumeSize, snap.status?.restoreSize) };
      const kind = (await this.apis(id)).notebooks ? 'notebook' : 'statefulset';
      await this.mustPass(id, spec, { kind });
      await this.ensureAbsent(id, spec.namespace, spec.name);
      let source = snapshot;
      if (target.namespace !== namespace) {
        // A claim can only restore a snapshot of its own namespace: copy the snapshot over first.
        await this.allowed(id, { verb: 'create', resource: 'volumesnapshotcontents', group: 'snapshot.storage.k8s.io' });
        await this.allowed(id, { verb: 'create', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace: target.namespace });
        const content = await kubeJson<KubeObject>(kc, `${CONTENTS}/${snap.status.boundVolumeSnapshotContentName}`, { action: 'read snapshot content' });
        const handle = content.status?.snapshotHandle as string | undefined;
        if (!handle) throw new TesseraError('CONFLICT', `snapshot ${namespace}/${snapshot} has no snapshot handle yet`);
        source = `${target.name}-from-${snapshot}`.slice(0, 253);
        const copy = snapshotCopy({ handle, driver: content.spec.driver, className: snap.spec?.volumeSnapshotClassName, spec: saved, sourceNamespace: namespace, sourceName: snapshot }, target.namespace, source, this.o.clock.now().toString(36));
        await kubeJson(kc, CONTENTS, { method: 'POST', body: copy.content, action: 'copy snapshot content' });
        try {
          await kubeJson(kc, SNAPSHOTS(target.namespace), { method: 'POST', body: copy.snapshot, action: 'copy snapshot' });
        } catch (err) {
          await kubeJson(kc, `${CONTENTS}/${copy.content.metadata.name}`, { method: 'DELETE' }).catch(() => undefined);
          if (isConflict(err)) throw new TesseraError('CONFLICT', `a snapshot named ${source} already exists in ${target.namespace}; delete it or clone under another name`);
          throw err;
        }
        await this.readySnapshot(id, target.namespace, source, this.o.waitMs ?? 120_000);
      }
      await this.createObjects(id, kind, spec, homeClaimName(spec.name), { kind: 'VolumeSnapshot', name: source });
      return this.get(id, spec.namespace, spec.name);
    });
  }

  /**
   * A clone without the snapshot API: a new claim whose dataSource is the
   * source's claim (CSI volume cloning). Kubernetes only clones within one
   * namespace and one storage class, with a size at least the source's.
   */
  async cloneVolume(id: string, namespace: string, source: string, target: { namespace: string; name: string }): Promise<Workstation> {
    return this.audited(id, 'workstation.clone', target.namespace, target.name, { from: `${namespace}/${source}`, via: 'pvc-clone' }, async () => {
      if (target.namespace !== namespace) throw new TesseraError('INVALID_REQUEST', `a volume clone stays in its namespace (${namespace}); to reach ${target.namespace}, snapshot the workstation and clone the snapshot`);
      const kc = await this.kc(id);
      const f = await this.find(id, namespace, source);
      const claimName = homeClaimOf(f.obj);
      const claim = claimName ? await this.optional<KubeObject>(kc, `${PVCS(namespace)}/${claimName}`) : undefined;
      if (!claim || claim.status?.phase !== 'Bound') throw new TesseraError('CONFLICT', `workstation ${namespace}/${source} has no bound volume to clone`);
      const className = claim.spec?.storageClassName as string | undefined;
      const sc = className ? await this.optional<KubeObject>(kc, `/apis/storage.k8s.io/v1/storageclasses/${className}`) : undefined;
      // Only CSI drivers clone; an in-tree provisioner (kubernetes.io/...) has no CSIDriver object.
      const csi = sc ? await this.optional<KubeObject>(kc, `/apis/storage.k8s.io/v1/csidrivers/${sc.provisioner}`) : undefined;
      if (!csi) throw new TesseraError('INVALID_REQUEST', `storage class ${className ?? '(none)'} is not served by a CSI driver${sc ? ` (${sc.provisioner})` : ''}, so its volumes cannot be cloned`);
      const base = specOf(f.obj);
      const spec: WorkstationSpec = { ...base, name: target.name, namespace, storageClass: className, volumeSize: maxQuantity(base.volumeSize || claim.spec?.resources?.requests?.storage, claim.status?.capacity?.storage) };
      const kind = (await this.apis(id)).notebooks ? 'notebook' : 'statefulset';
      await this.mustPass(id, spec, { kind });
      await this.ensureAbsent(id, namespace, target.name);
      await this.createObjects(id, kind, spec, homeClaimName(spec.name), { kind: 'PersistentVolumeClaim', name: claimName! });
      return this.get(id, namespace, target.name);
    });
  }

  async restore(id: string, namespace: string, name: string, snapshot: string): Promise<Workstation> {
    return this.audited(id, 'workstation.restore', namespace, name, { snapshot }, async () => {
      await this.needSnapshots(id);
      const kc = await this.kc(id);
      let f = await this.find(id, namespace, name);
      const snap = await this.readySnapshot(id, namespace, snapshot);
      await this.allowed(id, { verb: 'create', resource: 'persistentvolumeclaims', namespace });
      await this.allowed(id, this.patchReq(f, namespace));
      const spec = specOf(f.obj);
      const oldClaim = homeClaimOf(f.obj);
      const vols = (templateSpec(f.obj)?.volumes ?? []) as KubeObject[];
      const idx = vols.findIndex((v) => v.persistentVolumeClaim?.claimName === oldClaim);
      if (!oldClaim || idx < 0) throw new TesseraError('INVALID_REQUEST', `workstation ${namespace}/${name} has no volume to restore`);
      const old = await this.optional<KubeObject>(kc, `${PVCS(namespace)}/${oldClaim}`);
      spec.volumeSize = maxQuantity(spec.volumeSize || old?.spec?.resources?.requests?.storage || '1Gi', snap.status?.restoreSize);
      spec.storageClass ??= old?.spec?.storageClassName;
      const wasRunning = !isStopRequested(f.obj);
      // 1. stop and wait until the pod is gone, so nothing writes to the old volume.
      if (wasRunning) await this.setRunning(id, f, false);
      await this.until(`the pod of ${namespace}/${name} to end`, async () => !(await this.optional(kc, `/api/v1/namespaces/${namespace}/pods/${name}-0`)));
      // 2. a new volume from the snapshot, bound before anything points at it.
      const claim = `${homeClaimName(name)}-${this.o.clock.now().toString(36)}`;
      await kubeJson(kc, PVCS(namespace), { method: 'POST', body: homeClaim(spec, claim, { kind: 'VolumeSnapshot', name: snapshot }), action: `create volume ${claim}` });
      try {
        await this.until(`volume ${claim} to be bound`, async () => (await kubeJson<KubeObject>(kc, `${PVCS(namespace)}/${claim}`)).status?.phase === 'Bound');
      } catch (err) {
        await kubeJson(kc, `${PVCS(namespace)}/${claim}`, { method: 'DELETE' }).catch(() => undefined);
        if (wasRunning) await this.setRunning(id, await this.find(id, namespace, name), true).catch(() => undefined);
        throw err;
      }
      // 3. swap, 4. start again if it was running. The old volume is kept (labelled), to go back to.
      f = await this.find(id, namespace, name);
      await kubeJson(kc, f.path, {
        method: 'PATCH',
        contentType: JSON_PATCH,
        body: [
          { op: 'test', path: `/spec/template/spec/volumes/${idx}/persistentVolumeClaim/claimName`, value: oldClaim },
          { op: 'replace', path: `/spec/template/spec/volumes/${idx}/persistentVolumeClaim/claimName`, value: claim },
          { op: 'add', path: `/metadata/annotations/${WS_ANNOTATIONS.spec.replace('/', '~1')}`, value: specAnnotation(spec) },
        ],
        action: `point ${name} at ${claim}`,
      });
      if (old) await kubeJson(kc, `${PVCS(namespace)}/${oldClaim}`, { method: 'PATCH', contentType: MERGE, body: { metadata: { annotations: { 'tessera.dev/replaced-by': claim } } } }).catch(() => undefined);
      if (wasRunning) await this.setRunning(id, await this.find(id, namespace, name), true);
      return this.get(id, namespace, name);
    });
  }

  async delete(id: string, namespace: string, name: string, deleteVolume: boolean): Promise<WorkstationDeleted> {
    return this.audited(id, 'workstation.delete', namespace, name, { deleteVolume }, async () => {
      const kc = await this.kc(id);
      const f = await this.find(id, namespace, name);
      await this.allowed(id, f.kind === 'notebook' ? { verb: 'delete', resource: 'notebooks', group: 'kubeflow.org', namespace, name } : { verb: 'delete', resource: 'statefulsets', group: 'apps', namespace, name });
      if (deleteVolume) await this.allowed(id, { verb: 'delete', resource: 'persistentvolumeclaims', namespace });
      const current = homeClaimOf(f.obj);
      const labelled = (await kubeJson<{ items: KubeObject[] }>(kc, `${PVCS(namespace)}?labelSelector=${encodeURIComponent(`${WS_LABEL}=${name}`)}`)).items.map((c) => c.metadata.name as string);
      const claims = [...new Set([...(current ? [current] : []), ...labelled])];
      // Stop the GPU-hour clock first, so the last run is counted in the audit entry.
      if (!isStopRequested(f.obj)) await this.setRunning(id, f, false).catch(() => undefined);
      const deleted: WorkstationDeleted['deleted'] = [];
      await kubeJson(kc, f.path, { method: 'DELETE', body: { propagationPolicy: 'Background' }, action: `delete ${name}` });
      deleted.push({ kind: f.kind === 'notebook' ? 'Notebook' : 'StatefulSet', namespace, name });
      if (f.kind === 'statefulset') {
        await kubeJson(kc, `/api/v1/namespaces/${namespace}/services/${name}`, { method: 'DELETE' }).then(
          () => deleted.push({ kind: 'Service', namespace, name }),
          (err) => {
            if (!isNotFound(err)) throw err;
          },
        );
      }
      const kept: WorkstationDeleted['kept'] = [];
      for (const c of claims) {
        if (!deleteVolume) {
          kept.push({ kind: 'PersistentVolumeClaim', namespace, name: c });
          continue;
        }
        await kubeJson(kc, `${PVCS(namespace)}/${c}`, { method: 'DELETE', action: `delete volume ${c}` }).then(
          () => deleted.push({ kind: 'PersistentVolumeClaim', namespace, name: c }),
          (err) => {
            if (!isNotFound(err)) throw err;
          },
        );
      }
      this.stopped(id, namespace, name);
      return { deleted, kept };
    });
  }

  // ---------- templates ----------

  async templates(): Promise<WorkstationTemplate[]> {
    return this.o.templates ? this.o.templates.list() : [];
  }

  async saveTemplate(t: WorkstationTemplate): Promise<WorkstationTemplate> {
    const store = this.needTemplates();
    checkSpec({ ...t, name: t.name, namespace: 'default' });
    try {
      const { saved, before } = await store.save(t);
      await this.o.audit({ action: 'workstation.template.save', outcome: 'succeeded', targets: [{ kind: 'WorkstationTemplate', name: t.name }], params: { template: t }, ...(before ? { before } : {}), after: saved });
      return saved;
    } catch (err) {
      await this.o.audit({ action: 'workstation.template.save', outcome: 'failed', targets: [{ kind: 'WorkstationTemplate', name: t.name }], params: { template: t }, error: err });
      throw err;
    }
  }

  async deleteTemplate(name: string): Promise<{ deleted: boolean }> {
    const before = await this.needTemplates().remove(name);
    if (before) await this.o.audit({ action: 'workstation.template.delete', outcome: 'succeeded', targets: [{ kind: 'WorkstationTemplate', name }], before });
    return { deleted: !!before };
  }

  private needTemplates(): TemplateStore {
    if (!this.o.templates) throw new TesseraError('INTERNAL', 'this host keeps no templates (no data folder)');
    return this.o.templates;
  }

  // ---------- helpers ----------

  private async kc(id: string): Promise<KubeAccess> {
    return this.o.cluster(id).kubeConfig();
  }

  /** Which optional APIs the cluster serves (cached for a minute). */
  private async apis(id: string): Promise<{ notebooks: boolean; snapshots: boolean }> {
    const hit = this.apiCache.get(id);
    const now = this.o.clock.now();
    if (hit && now - hit.at < 60_000) return hit;
    const kc = await this.kc(id);
    const has = async (path: string, resource: string) => {
      try {
        const r = await kubeJson<{ resources?: { name: string }[] }>(kc, path, { action: `discover ${path}` });
        return (r.resources ?? []).some((x) => x.name === resource);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    };
    const [notebooks, snapshots] = await Promise.all([has('/apis/kubeflow.org/v1', 'notebooks'), has('/apis/snapshot.storage.k8s.io/v1', 'volumesnapshots')]);
    const r = { at: now, notebooks: notebooks && this.o.useNotebooks !== false, snapshots };
    this.apiCache.set(id, r);
    return r;
  }

  private async needSnapshots(id: string): Promise<void> {
    if (!(await this.apis(id)).snapshots) {
      throw new TesseraError('INVALID_REQUEST', 'this cluster has no VolumeSnapshot API (snapshot.storage.k8s.io/v1 is not served, so no CSI snapshot controller is installed); a PVC-to-PVC clone works where the storage class\'s CSI driver supports cloning');
    }
  }

  private async optional<T = KubeObject>(kc: KubeAccess, path: string): Promise<T | undefined> {
    try {
      return await kubeJson<T>(kc, path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async listCluster(id: string): Promise<Workstation[]> {
    const kc = await this.kc(id);
    const apis = await this.apis(id);
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
    const sel = `?labelSelector=${encodeURIComponent(WS_LABEL)}`;
    const [notebooks, sets, pods, nbPods, claims] = await Promise.all([
      apis.notebooks ? listAll(NOTEBOOKS, '') : Promise.resolve([]),
      listAll(STATEFULSETS, sel),
      listAll((ns) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'), sel),
      apis.notebooks ? listAll((ns) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'), `?labelSelector=notebook-name`) : Promise.resolve([]),
      listAll(PVCS, sel),
    ]);
    const podByKey = new Map([...pods, ...nbPods].map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const claimByKey = new Map(claims.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
    const workloads: KubeObject[] = [
      ...notebooks.map((n) => ({ ...n, kind: 'Notebook' })),
      // StatefulSets a notebook controller made are shown as their Notebook.
      ...sets.filter((s) => !(s.metadata.ownerReferences ?? []).some((o: KubeObject) => o.kind === 'Notebook')).map((s) => ({ ...s, kind: 'StatefulSet' })),
    ];
    const now = this.o.clock.now();
    const policies = await this.idlePolicies(id, workloads.map((w) => w.metadata.namespace as string));
    return workloads.map((w) => {
      const pod = podByKey.get(`${w.metadata.namespace}/${w.metadata.name}-0`);
      const policy = policies.get(w.metadata.namespace);
      return deriveWorkstation({ clusterId: id, workload: w, ...(pod ? { pod } : {}), claims: claimByKey, now, ...(policy ? { policy } : {}) });
    });
  }

  private async find(id: string, namespace: string, name: string): Promise<Found> {
    const kc = await this.kc(id);
    if ((await this.apis(id)).notebooks) {
      const path = `${NOTEBOOKS(namespace)}/${name}`;
      const nb = await this.optional<KubeObject>(kc, path);
      if (nb) return { kind: 'notebook', path, obj: { ...nb, kind: 'Notebook' } };
    }
    const path = `${STATEFULSETS(namespace)}/${name}`;
    const sts = await this.optional<KubeObject>(kc, path);
    if (sts && sts.metadata?.labels?.[WS_LABEL] === name) return { kind: 'statefulset', path, obj: { ...sts, kind: 'StatefulSet' } };
    throw new TesseraError('NOT_FOUND', `no workstation named ${name} in namespace ${namespace}`);
  }

  private async ensureAbsent(id: string, namespace: string, name: string): Promise<void> {
    try {
      await this.find(id, namespace, name);
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'NOT_FOUND') return;
      throw err;
    }
    throw new TesseraError('CONFLICT', `a workstation named ${name} already exists in namespace ${namespace}`);
  }

  private patchReq(f: Found, namespace: string): AccessRequest {
    return f.kind === 'notebook' ? { verb: 'patch', resource: 'notebooks', group: 'kubeflow.org', namespace, name: f.obj.metadata.name } : { verb: 'patch', resource: 'statefulsets', group: 'apps', namespace, name: f.obj.metadata.name };
  }

  /** Creates volume then workload (then Service); removes what it made if a later step fails. */
  private async createObjects(id: string, kind: 'notebook' | 'statefulset', spec: WorkstationSpec, claim: string, dataSource?: { kind: 'VolumeSnapshot' | 'PersistentVolumeClaim'; name: string }): Promise<void> {
    const kc = await this.kc(id);
    const owner = this.o.cluster(id).userName;
    const made: string[] = [];
    try {
      try {
        await kubeJson(kc, PVCS(spec.namespace), { method: 'POST', body: homeClaim(spec, claim, dataSource), action: `create volume ${claim}` });
      } catch (err) {
        if (isConflict(err)) throw new TesseraError('CONFLICT', `a volume named ${claim} already exists in namespace ${spec.namespace}; delete it or pick another name`);
        throw err;
      }
      made.push(`${PVCS(spec.namespace)}/${claim}`);
      if (kind === 'notebook') {
        await kubeJson(kc, NOTEBOOKS(spec.namespace), { method: 'POST', body: notebookObject(spec, claim, owner), action: `create notebook ${spec.name}` });
        made.push(`${NOTEBOOKS(spec.namespace)}/${spec.name}`);
      } else {
        await kubeJson(kc, STATEFULSETS(spec.namespace), { method: 'POST', body: statefulSetObject(spec, claim, owner), action: `create statefulset ${spec.name}` });
        made.push(`${STATEFULSETS(spec.namespace)}/${spec.name}`);
        await kubeJson(kc, `/api/v1/namespaces/${spec.namespace}/services`, { method: 'POST', body: serviceObject(spec), action: `create service ${spec.name}` });
      }
    } catch (err) {
      for (const path of made.reverse()) await kubeJson(kc, path, { method: 'DELETE' }).catch(() => undefined);
      throw err;
    }
  }

  /** Stop (scale to zero / Kubeflow's stop annotation) or start; a stop banks the run's GPU-seconds. */
  private async setRunning(id: string, f: Found, run: boolean, reason?: string): Promise<void> {
    const kc = await this.kc(id);
    const ns = f.obj.metadata.namespace as string;
    const name = f.obj.metadata.name as string;
    // A start clears the last automatic stop's reason; a stop records one only when it has one.
    const annotations: Record<string, string | null> = {};
    if (!run && reason) annotations[WS_ANNOTATIONS.stoppedReason] = reason;
    else if (f.obj.metadata.annotations?.[WS_ANNOTATIONS.stoppedReason] !== undefined) annotations[WS_ANNOTATIONS.stoppedReason] = null;
    if (!run) {
      const pod = await this.optional<KubeObject>(kc, `/api/v1/namespaces/${ns}/pods/${name}-0`);
      const since = runStart(pod);
      const past = Number(f.obj.metadata.annotations?.[WS_ANNOTATIONS.gpuSeconds] ?? 0) || 0;
      const run = since ? Math.max(0, (this.o.clock.now() - Date.parse(since)) / 1000) * gpuWeight(specOf(f.obj).gpu) : 0;
      annotations[WS_ANNOTATIONS.gpuSeconds] = String(Math.round(past + run));
    }
    if (f.kind === 'notebook') annotations[WS_ANNOTATIONS.notebookStopped] = run ? null : new Date(this.o.clock.now()).toISOString();
    const body = f.kind === 'notebook' ? { metadata: { annotations } } : { metadata: { annotations }, spec: { replicas: run ? 1 : 0 } };
    await kubeJson(kc, f.path, { method: 'PATCH', contentType: MERGE, body, action: `${run ? 'start' : 'stop'} ${name}` });
  }

  private async readySnapshot(id: string, namespace: string, name: string, waitMs = 0): Promise<KubeObject> {
    const kc = await this.kc(id);
    const path = `${SNAPSHOTS(namespace)}/${name}`;
    let snap = await this.optional<KubeObject>(kc, path);
    if (!snap) throw new TesseraError('NOT_FOUND', `no snapshot named ${name} in namespace ${namespace}`);
    if (!snap.status?.readyToUse && waitMs > 0) {
      await this.until(`snapshot ${namespace}/${name} to be ready`, async () => !!(snap = await kubeJson<KubeObject>(kc, path)).status?.readyToUse, waitMs);
    }
    if (!snap.status?.readyToUse) throw new TesseraError('CONFLICT', `snapshot ${namespace}/${name} is not ready to use yet${snap.status?.error?.message ? ` (${snap.status.error.message})` : ''}`);
    return snap;
  }

  private async checkSnapshotClass(id: string, className: string, claim: KubeObject): Promise<void> {
    const kc = await this.kc(id);
    const cls = await this.optional<KubeObject>(kc, `/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses/${className}`);
    if (!cls) throw new TesseraError('INVALID_REQUEST', `snapshot class ${className} does not exist`);
    const pv = claim.spec?.volumeName ? await this.optional<KubeObject>(kc, `/api/v1/persistentvolumes/${claim.spec.volumeName}`) : undefined;
    const driver = pv?.spec?.csi?.driver as string | undefined;
    if (driver && cls.driver !== driver) throw new TesseraError('INVALID_REQUEST', `snapshot class ${className} is for driver ${cls.driver}, but volume ${claim.metadata.name} is on ${driver}`);
  }

  private projectSnapshot(id: string, s: KubeObject): WorkstationSnapshot {
    let spec: WorkstationSpec | undefined;
    try {
      const raw = s.metadata?.annotations?.[WS_ANNOTATIONS.spec];
      if (raw) spec = JSON.parse(raw) as WorkstationSpec;
    } catch {
      spec = undefined;
    }
    const of = s.metadata?.annotations?.[WS_ANNOTATIONS.snapshotOf] as string | undefined;
    return {
      clusterId: id,
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      ...(spec ? { workstation: spec.name } : {}),
      ...(s.spec?.source?.persistentVolumeClaimName ? { sourceClaim: s.spec.source.persistentVolumeClaimName } : of ? { sourceClaim: of } : {}),
      ...(s.spec?.volumeSnapshotClassName ? { className: s.spec.volumeSnapshotClassName } : {}),
      readyToUse: s.status?.readyToUse === true,
      ...(s.status?.restoreSize ? { restoreSize: String(s.status.restoreSize) } : {}),
      ...(s.metadata?.creationTimestamp ? { createdAt: s.metadata.creationTimestamp } : {}),
      ...(s.status?.error?.message ? { error: s.status.error.message } : {}),
      ...(spec ? { spec } : {}),
    };
  }

  private async until(what: string, ok: () => Promise<boolean>, waitMs = this.o.waitMs ?? 120_000): Promise<void> {
    const deadline = this.o.clock.now() + waitMs;
    for (;;) {
      if (await ok()) return;
      if (this.o.clock.now() > deadline) throw new TesseraError('TIMEOUT', `gave up waiting for ${what} after ${Math.round(waitMs / 1000)} s`);
      await sleep(this.o.pollMs ?? 500);
    }
  }

  /**
   * Runs one change and records its outcome. Multi-step changes (clone,
   * restore) record a 'started' entry first, so a console that dies half-way
   * leaves a trail of what it had begun; both entries share a correlation id.
   */
  private async audited<T>(id: string, action: string, namespace: string, name: string, params: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const targets = [{ kind: 'Workstation', namespace, name }];
    const actor = this.o.cluster(id).userName ? { actor: { kubeUser: this.o.cluster(id).userName } } : {};
    const multiStep = action === 'workstation.restore' || action === 'workstation.clone';
    const correlation = multiStep ? { correlationId: `ws-${randomUUID()}` } : {};
    if (multiStep) await this.o.audit({ action, outcome: 'started', cluster: id, targets, params, ...correlation, ...actor });
    const t0 = this.o.clock.now();
    try {
      const result = await fn();
      await this.o.audit({ action, outcome: 'succeeded', cluster: id, targets, params, after: result, durationMs: this.o.clock.now() - t0, ...correlation, ...actor });
      return result;
    } catch (err) {
      await this.o.audit({ action, outcome: 'failed', cluster: id, targets, params, error: err, durationMs: this.o.clock.now() - t0, ...correlation, ...actor });
      throw err;
    }
  }
}
