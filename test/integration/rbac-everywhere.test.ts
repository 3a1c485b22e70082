/**
 * RBAC everywhere: every mutating cluster method of the contract, called through the headless
 * host as the test bed's cluster-wide viewer and as the namespace-scoped team-a user, is refused
 * with a structured FORBIDDEN that names the missing permission (details.missing), whether
 * Tessera's own SelfSubjectAccessReview refused it first or the API server answered 403, and
 * the cluster is unchanged. team-a may still do what its `edit` role allows in team-a.
 *
 * MUTATING_CLUSTER_METHODS is checked against the contract registry, so a new method that
 * changes a cluster must be added here (with its refusal tested) or listed as exempt with why.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { methodNames } from '../../shared/contract/index.ts';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import type { Workstation, WorkstationSnapshot } from '../../shared/model/workstation.ts';
import { headlessSession, type CallError, type HeadlessSession } from '../support/headless-session.ts';
import { eventually } from '../support/testbed-info.ts';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';

const TEAM_NS = 'team-a';
const OTHER_NS = 'rbac-other';
const WS_TEAM = 'rbac-ws-a';
const WS_OTHER = 'rbac-ws-b';
const SNAP = 'rbac-snap-a';

/**
 * Contract methods that change a cluster. Others are reads, local (settings, templates, imported
 * kubeconfigs, audit), SSH (hosts.*, mig.sshApply, rollouts over SSH run through rollouts.*) or
 * bound to a job this console started after its own checks (mig.cancel, mig.revert, which also
 * re-checks).
 */
const MUTATING_CLUSTER_METHODS = [
  'mig.saveConfig',
  'mig.apply',
  'rollouts.start',
  'rollouts.pause',
  'rollouts.resume',
  'rollouts.approve',
  'rollouts.abort',
  'rollouts.rollback',
  'ws.create',
  'ws.start',
  'ws.stop',
  'ws.snapshot',
  'ws.clone',
  'ws.cloneVolume',
  'ws.restore',
  'ws.delete',
  'terminals.open',
  'quotas.update',
  'endpoints.create',
  'endpoints.update',
  'endpoints.canary',
  'endpoints.promote',
  'endpoints.rollback',
  'endpoints.delete',
] as const;
const EXEMPT = new Set(['mig.cancel', 'mig.revert', 'mig.sshApply']);
/** Verbs in a method name that suggest a change; any such method must be classified above. */
const CHANGE_VERB = /\.(save|apply|start|stop|pause|resume|approve|abort|rollback|create|update|delete|snapshot|clone|restore|open|close|cordon|uncordon|drain|revert|cancel|canary|promote|scale|set|patch|remove|add|import|trust|exec|answer)(Config|Volume|Template|Forward|Nodes|SshConfig)?$/i;
const LOCAL_OR_SSH = /^(settings|hosts|audit|clusters|app)\.|^ws\.(saveTemplate|deleteTemplate|open|closeForward)$|^terminals\.(input|resize|close)$/;

let info: TestbedInfo;
let admin: Kube;
let sAdmin: HeadlessSession;
let sViewer: HeadlessSession;
let sTeam: HeadlessSession;
let ids: { admin: string; viewer: string; team: string };
let teamPod: string;
let otherPod: { namespace: string; name: string };

async function connectFirst(s: HeadlessSession): Promise<string> {
  const [c] = await s.must<ClusterSummary[]>('clusters.list', {});
  await s.must('clusters.connect', { id: c!.id });
  return c!.id;
}

async function ensureNamespace(name: string): Promise<void> {
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }).catch((err: { status?: number }) => {
    if (err.status !== 409) throw err;
  });
}

const wsSpec = (namespace: string, name: string) => ({ name, namespace, image: 'registry.local/jupyter/scipy:2024.1', gpu: { kind: 'none' }, cpu: '1', memory: '1Gi', volumeSize: '1Gi' });

/** A workstation (made by the admin) whose volume is bound, so every ws method gets as far as its permission check. */
async function ensureWorkstation(namespace: string, name: string): Promise<void> {
  const existing = await sAdmin.call<Workstation>('ws.get', { id: ids.admin, namespace, name });
  if (!existing.ok) await sAdmin.must('ws.create', { id: ids.admin, spec: wsSpec(namespace, name) });
  await eventually(`${namespace}/${name}'s volume bound`, async () => {
    const pvcs = await admin.get<{ items: { metadata: { name: string }; status?: { phase?: string } }[] }>(`/api/v1/namespaces/${namespace}/persistentvolumeclaims`);
    return pvcs.items.some((p) => p.metadata.name.includes(name) && p.status?.phase === 'Bound');
  }, 90_000, 500);
}

/**
 * What the refused calls could have changed, minus what controllers and the fleet simulator
 * move on their own (status, heartbeats, pods): spec, labels and annotations of the objects
 * Tessera writes, node labels/taints/cordons, and the ConfigMaps and quotas it edits.
 */
async function clusterDigest(): Promise<string> {
  const h = crypto.createHash('sha256');
  const add = (label: string, items: { metadata: { name: string; namespace?: string; labels?: unknown; annotations?: unknown }; spec?: unknown; data?: unknown }[]) => {
    for (const o of [...items].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      h.update(JSON.stringify([label, o.metadata.namespace, o.metadata.name, o.metadata.labels, o.metadata.annotations, o.spec, o.data]));
    }
  };
  const list = async (path: string) => (await admin.get<{ items: never[] }>(path).catch(() => ({ items: [] as never[] }))).items;
  const nodes = await list('/api/v1/nodes');
  add(
    'node',
    (nodes as { metadata: { name: string; labels?: Record<string, string> }; spec?: { unschedulable?: boolean; taints?: unknown } }[]).map((n) => ({
      metadata: { name: n.metadata.name, labels: Object.fromEntries(Object.entries(n.metadata.labels ?? {}).filter(([k]) => !k.includes('gpu-driver-upgrade-state'))) },
      spec: { unschedulable: n.spec?.unschedulable, taints: n.spec?.taints },
    })),
  );
  for (const ns of [TEAM_NS, OTHER_NS]) {
    add(`nb/${ns}`, await list(`/apis/kubeflow.org/v1/namespaces/${ns}/notebooks`));
    add(`sts/${ns}`, await list(`/apis/apps/v1/namespaces/${ns}/statefulsets`));
    add(`pvc/${ns}`, await list(`/api/v1/namespaces/${ns}/persistentvolumeclaims`));
    add(`snap/${ns}`, await list(`/apis/snapshot.storage.k8s.io/v1/namespaces/${ns}/volumesnapshots`));
    add(`quota/${ns}`, await list(`/api/v1/namespaces/${ns}/resourcequotas`));
    add(`isvc/${ns}`, await list(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices`));
  }
  for (const ns of ['tessera-system', 'gpu-operator']) add(`cm/${ns}`, await list(`/api/v1/namespaces/${ns}/configmaps`));
  add('clusterpolicy', await list('/apis/nvidia.com/v1/clusterpolicies'));
  return h.digest('hex');
}

type Call = { method: (typeof MUTATING_CLUSTER_METHODS)[number]; params: unknown };

/** One call per mutating method, aimed at objects that exist, so each gets to its permission check. */
function callsAs(id: string, ns: string, wsName: string, pod: { namespace: string; name: string }, gpuNode: string): Call[] {
  return [
    { method: 'mig.saveConfig', params: { id, name: 'rbac-layout', entries: [{ enabled: true, counts: [{ profile: '1g.10gb', count: 7 }] }] } },
    { method: 'mig.apply', params: { id, nodes: [gpuNode], config: 'all-disabled', maxParallel: 1, drain: false, pointPolicy: false } },
    { method: 'rollouts.start', params: { id, targets: { nodes: [gpuNode] }, driverVersion: '999.1.1', executor: { kind: 'gpu-operator' } } },
    { method: 'rollouts.pause', params: { id, rollout: 'rbac-none' } },
    { method: 'rollouts.resume', params: { id, rollout: 'rbac-none' } },
    { method: 'rollouts.approve', params: { id, rollout: 'rbac-none', stage: 0 } },
    { method: 'rollouts.abort', params: { id, rollout: 'rbac-none' } },
    { method: 'rollouts.rollback', params: { id, rollout: 'rbac-none' } },
    { method: 'ws.create', params: { id, spec: wsSpec(ns, 'rbac-new') } },
    { method: 'ws.start', params: { id, namespace: ns, name: wsName } },
    { method: 'ws.stop', params: { id, namespace: ns, name: wsName } },
    { method: 'ws.snapshot', params: { id, namespace: ns, name: wsName, snapshot: 'rbac-refused' } },
    { method: 'ws.clone', params: { id, namespace: TEAM_NS, snapshot: SNAP, target: { namespace: ns, name: 'rbac-clone' } } },
    { method: 'ws.cloneVolume', params: { id, namespace: ns, source: wsName, target: { namespace: ns, name: 'rbac-clonev' } } },
    { method: 'ws.restore', params: { id, namespace: ns, name: wsName, snapshot: ns === TEAM_NS ? SNAP : 'rbac-none' } },
    { method: 'ws.delete', params: { id, namespace: ns, name: wsName, deleteVolume: true } },
    { method: 'terminals.open', params: { kind: 'pod', clusterId: id, namespace: pod.namespace, pod: pod.name } },
    { method: 'quotas.update', params: { id, namespace: ns, name: 'rbac-quota', changes: [{ resource: 'requests.nvidia.com/gpu', value: 1 }] } },
    // Permission is checked before the endpoint is read, so none needs to exist.
    { method: 'endpoints.create', params: { id, spec: { name: 'rbac-ep', namespace: ns, modelFormat: 'sklearn', storageUri: 'pvc://models/iris', gpu: { kind: 'none' }, cpu: '100m', memory: '256Mi' } } },
    { method: 'endpoints.update', params: { id, namespace: ns, name: 'rbac-ep', change: { storageUri: 'pvc://models/iris-v2' } } },
    { method: 'endpoints.canary', params: { id, namespace: ns, name: 'rbac-ep', change: { storageUri: 'pvc://models/iris-v2' }, percent: 10 } },
    { method: 'endpoints.promote', params: { id, namespace: ns, name: 'rbac-ep' } },
    { method: 'endpoints.rollback', params: { id, namespace: ns, name: 'rbac-ep' } },
    { method: 'endpoints.delete', params: { id, namespace: ns, name: 'rbac-ep' } },
  ];
}

function assertForbidden(method: string, r: { ok: boolean; error?: CallError }): string[] {
  assert.equal(r.ok, false, `${method} should have been refused`);
  const e = r.error!;
  assert.equal(e.code, 'FORBIDDEN', `${method}: ${e.code}: ${e.message}`);
  const missing = e.details?.missing;
  assert.ok(Array.isArray(missing) && missing.length > 0 && missing.every((m) => typeof m === 'string' && /^[a-z]+ \S+/.test(m)), `${method} names the missing permission in details.missing: ${JSON.stringify(e.details)}`);
  // The message says it in words too, the same way whether canI or the API server refused.
  assert.match(e.message, /may not \S+ \S+/, `${method}: ${e.message}`);
  assert.doesNotMatch(e.message, /\bat \S+\.ts:\d+/, 'no stack trace');
  return missing as string[];
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info, 'admin');
  await ensureNamespace(OTHER_NS);
  [sAdmin, sViewer, sTeam] = await Promise.all([
    headlessSession([info.kubeconfigs.admin], 'rbac-admin'),
    headlessSession([info.kubeconfigs.viewer], 'rbac-viewer'),
    headlessSession([info.kubeconfigs.teamA], 'rbac-team'),
  ]);
  ids = { admin: await connectFirst(sAdmin), viewer: await connectFirst(sViewer), team: await connectFirst(sTeam) };
  await ensureWorkstation(TEAM_NS, WS_TEAM);
  await ensureWorkstation(OTHER_NS, WS_OTHER);
  const snaps = await sAdmin.must<WorkstationSnapshot[]>('ws.snapshots', { id: ids.admin, namespace: TEAM_NS });
  if (!snaps.some((s) => s.name === SNAP)) await sAdmin.must('ws.snapshot', { id: ids.admin, namespace: TEAM_NS, name: WS_TEAM, snapshot: SNAP });
  await eventually(`snapshot ${SNAP} ready`, async () => (await sAdmin.must<WorkstationSnapshot[]>('ws.snapshots', { id: ids.admin, namespace: TEAM_NS })).find((s) => s.name === SNAP && s.readyToUse), 90_000, 500);
  const pods = async (ns: string) => (await admin.get<{ items: { metadata: { name: string }; status?: { phase?: string } }[] }>(`/api/v1/namespaces/${ns}/pods`)).items.filter((p) => p.status?.phase === 'Running');
  teamPod = (await eventually('a running pod in team-a', async () => (await pods(TEAM_NS))[0]))!.metadata.name;
  otherPod = { namespace: 'ml-research', name: (await eventually('a running pod in ml-research', async () => (await pods('ml-research'))[0]))!.metadata.name };
});

after(async () => {
  await Promise.all([sAdmin?.close(), sViewer?.close(), sTeam?.close()]);
  admin?.close();
});

test('every contract method that looks like a change is classified: tested here, local/SSH, or exempt with a reason', () => {
  const listed = new Set<string>(MUTATING_CLUSTER_METHODS);
  for (const m of MUTATING_CLUSTER_METHODS) assert.ok(methodNames.includes(m as never), `${m} is in the contract`);
  const unclassified = methodNames.filter((m) => CHANGE_VERB.test(m) && !listed.has(m) && !EXEMPT.has(m) && !LOCAL_OR_SSH.test(m));
  assert.deepEqual(unclassified, [], 'new mutating methods: add them to MUTATING_CLUSTER_METHODS (and this test) or to EXEMPT');
});

test('the viewer is refused every mutating cluster method with the permission named, and nothing changes', async (t) => {
  const gpuNode = (await admin.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>('/api/v1/nodes', { labelSelector: 'nvidia.com/mig.capable=true' })).items[0]!.metadata.name;
  const before = await clusterDigest();
  const missingBy: Record<string, string[]> = {};
  for (const c of callsAs(ids.viewer, TEAM_NS, WS_TEAM, { namespace: TEAM_NS, name: teamPod }, gpuNode)) {
    missingBy[c.method] = assertForbidden(c.method, await sViewer.call(c.method, c.params));
  }
  assert.deepEqual(Object.keys(missingBy).sort(), [...MUTATING_CLUSTER_METHODS].sort());
  // Spot checks that the permission named is the one that matters.
  assert.ok(missingBy['mig.apply']!.includes('patch nodes'), JSON.stringify(missingBy['mig.apply']));
  assert.ok(missingBy['rollouts.pause']!.includes('update configmaps in tessera-system'));
  assert.ok(missingBy['ws.stop']!.some((m) => /^patch (notebooks\.kubeflow\.org|statefulsets\.apps) in team-a$/.test(m)), JSON.stringify(missingBy['ws.stop']));
  assert.ok(missingBy['terminals.open']!.includes(`create pods/exec in ${TEAM_NS}`));
  assert.deepEqual(missingBy['endpoints.create'], [`create inferenceservices.serving.kserve.io in ${TEAM_NS}`]);
  assert.deepEqual(missingBy['endpoints.promote'], [`patch inferenceservices.serving.kserve.io in ${TEAM_NS}`]);
  for (const [m, missing] of Object.entries(missingBy)) t.diagnostic(`${m}: ${missing.join(', ')}`);
  assert.equal(await clusterDigest(), before, 'the refused calls changed nothing in the cluster');
});

test('team-a is refused everything outside team-a (and cluster-wide), with the permission named, and nothing changes', async (t) => {
  const gpuNode = (await admin.get<{ items: { metadata: { name: string } }[] }>('/api/v1/nodes', { labelSelector: 'nvidia.com/mig.capable=true' })).items[0]!.metadata.name;
  const before = await clusterDigest();
  const missingBy: Record<string, string[]> = {};
  for (const c of callsAs(ids.team, OTHER_NS, WS_OTHER, otherPod, gpuNode)) {
    missingBy[c.method] = assertForbidden(c.method, await sTeam.call(c.method, c.params));
  }
  assert.ok(missingBy['terminals.open']!.includes('create pods/exec in ml-research'));
  assert.ok(missingBy['ws.stop']!.some((m) => m.endsWith(` in ${OTHER_NS}`)), JSON.stringify(missingBy['ws.stop']));
  for (const [m, missing] of Object.entries(missingBy)) t.diagnostic(`${m}: ${missing.join(', ')}`);
  assert.equal(await clusterDigest(), before, 'the refused calls changed nothing in the cluster');
});

test('team-a may do what its edit role allows in team-a (a pod shell), and is told exactly what edit lacks (Kubeflow Notebooks, snapshots)', async () => {
  const opened = await sTeam.call<{ id: string }>('terminals.open', { kind: 'pod', clusterId: ids.team, namespace: TEAM_NS, pod: teamPod, cols: 80, rows: 24 });
  assert.ok(opened.ok, JSON.stringify(opened));
  await sTeam.must('terminals.close', { id: opened.result.id });
  const page = await sTeam.must<{ entries: { action: string; outcome: string; cluster?: string; actor: { kubeUser?: string } }[] }>('audit.query', { limit: 20 });
  const entry = page.entries.find((e) => e.action === 'terminal.open' && e.outcome === 'succeeded');
  assert.ok(entry, JSON.stringify(page.entries.map((e) => `${e.action} ${e.outcome}`)));
  // Kubernetes' built-in edit role does not cover CRDs: Kubeflow aggregates Notebook rights into
  // its own kubeflow-edit role, and the snapshot API into none. The refusal names the permission.
  const stop = await sTeam.call('ws.stop', { id: ids.team, namespace: TEAM_NS, name: WS_TEAM });
  assert.deepEqual(assertForbidden('ws.stop', stop), ['get notebooks.kubeflow.org in team-a']);
  const snap = await sTeam.call('ws.snapshot', { id: ids.team, namespace: TEAM_NS, name: WS_TEAM, snapshot: 'rbac-team-snap' });
  assertForbidden('ws.snapshot', snap);
});
