// GPU workstations on the real test bed: a full GPU and a MIG slice Running
// (as Kubeflow Notebooks through the simulated notebook controller, and as
// Tessera's own StatefulSet), stop and start with the GPU freed and re-bound
// in the simulator's truth, a refusal beyond quota naming the quota, RBAC,
// snapshot → ready with size, clone into another namespace, restore, and
// delete keeping or removing the volume as asked. Every change is audited.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { workstationHandlers } from '../../electron/core/workstations/ws-handlers.ts';
import type { WorkstationService } from '../../electron/core/workstations/workstation-service.ts';
import type { GpuOffer, Workstation, WorkstationSpec } from '../../shared/model/workstation.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import { fleetTruth, sharedTestbed, testbedClient, type FleetTruth, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually as poll } from '../support/testbed-info.ts';

const NS_A = 'ws-team-a';
const NS_B = 'ws-team-b';
const NS_Q = 'ws-quota';
let info: TestbedInfo;
let core: Core;
let plain: WorkstationService;
let admin: Kube;
let id: string;
let dataDir: string;
let offers: GpuOffer[];
let restoredClaim = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Storage and controllers are slower than pods: a minute, every 400 ms. */
const eventually: typeof poll = (what, fn, ms = 60_000, every = 400) => poll(what, fn, ms, every);


const ws = (svc: WorkstationService, ns: string, name: string) => svc.get(id, ns, name);
const inState = (svc: WorkstationService, ns: string, name: string, state: Workstation['state']) => eventually(`${ns}/${name} ${state}`, async () => {
  const w = await ws(svc, ns, name);
  return w.state === state ? w : undefined;
});

/** What the simulator says a pod holds: whole GPU UUIDs and MIG device UUIDs. */
function held(truth: FleetTruth | undefined, ns: string, pod: string): { gpus: string[]; mig: { uuid: string; profile: string }[] } {
  const out = { gpus: [] as string[], mig: [] as { uuid: string; profile: string }[] };
  for (const n of Object.values(truth?.nodes ?? {})) {
    for (const g of n.gpus) {
      if (g.holder?.namespace === ns && g.holder.pod === pod) out.gpus.push(g.uuid);
      for (const m of g.migDevices) if (m.holder?.namespace === ns && m.holder.pod === pod) out.mig.push({ uuid: m.uuid, profile: m.profile });
    }
  }
  return out;
}

function spec(name: string, ns: string, gpu: WorkstationSpec['gpu'], extra: Partial<WorkstationSpec> = {}): WorkstationSpec {
  return { name, namespace: ns, image: 'registry.local/jupyter/scipy:2024.1', gpu, cpu: '1', memory: '2Gi', volumeSize: '5Gi', env: [{ name: 'TEAM', value: ns }], ...extra };
}

async function ensureNamespace(name: string): Promise<void> {
  try {
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (err) {
    if ((err as { status?: number }).status !== 409) throw err;
  }
}

async function wipe(ns: string): Promise<void> {
  // Leave the shared test bed clean for the next run: workloads, then claims.
  for (const p of ['/apis/kubeflow.org/v1/namespaces/NS/notebooks', '/apis/apps/v1/namespaces/NS/statefulsets', '/apis/snapshot.storage.k8s.io/v1/namespaces/NS/volumesnapshots', '/api/v1/namespaces/NS/persistentvolumeclaims', '/api/v1/namespaces/NS/resourcequotas']) {
    await admin.request('DELETE', p.replace('NS', ns)).catch(() => undefined);
  }
  // Copies of snapshots are cluster-scoped contents kept with Retain.
  const contents = await admin.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>('/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents').catch(() => ({ items: [] }));
  for (const c of contents.items) if (c.metadata.labels?.['tessera.dev/copy-in'] === ns) await admin.delete(`/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${c.metadata.name}`).catch(() => undefined);
  const svcs = await admin.get<{ items: { metadata: { name: string } }[] }>(`/api/v1/namespaces/${ns}/services`).catch(() => ({ items: [] }));
  for (const s of svcs.items) await admin.delete(`/api/v1/namespaces/${ns}/services/${s.metadata.name}`).catch(() => undefined);
}

async function auditActions(): Promise<{ action: string; outcome: string }[]> {
  return (await core.audit!.query({ action: 'workstation', limit: 500 })).entries;
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  for (const ns of [NS_A, NS_B, NS_Q]) {
    await ensureNamespace(ns);
    await wipe(ns);
  }
  // A previous run's claims stay Terminating until their pods are gone: start from empty namespaces.
  for (const ns of [NS_A, NS_B, NS_Q]) {
    await eventually(`${ns} empty`, async () => (await admin.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)).items.length === 0 && (await admin.get(`/api/v1/namespaces/${ns}/pods`)).items.length === 0, 90_000);
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ws-'));
  core = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer], dataDir });
  id = core.clusters.list().find((c) => c.context.startsWith('admin@'))!.id;
  await core.clusters.connect(id);
  plain = workstationHandlers(core.clusters, core.nodes, systemClock, (input) => core.audit!.record(input), dataDir, { useNotebooks: false, pollMs: 250 }).service;
  offers = await core.workstations.offers(id);
});

after(async () => {
  try {
    for (const ns of [NS_A, NS_B, NS_Q]) await wipe(ns);
  } finally {
    await core?.dispose();
    admin?.close();
  }
});

test('options: Notebook API, snapshot classes and the default storage class are discovered', async () => {
  const o = await core.workstations.options(id);
  assert.equal(o.kind, 'notebook');
  assert.equal(o.snapshotApi, true);
  assert.ok(o.storageClasses.some((c) => c.name === 'tessera-sim' && c.default));
  assert.deepEqual(o.snapshotClasses.map((c) => c.name).sort(), ['tessera-sim-snapshots', 'tessera-sim-snapshots-retain']);
  assert.ok(o.namespaces.includes(NS_A));
});

test('offers list free full GPUs and free MIG slices from the inventory', () => {
  assert.ok(offers.some((o) => o.kind === 'full' && o.free > 0), 'some full GPU is free');
  const mig = offers.filter((o) => o.kind === 'mig');
  assert.ok(mig.length > 0, 'some MIG slice is free');
  for (const o of mig) assert.match(o.profile!, /^\d+g\.\d+gb/);
});

test('a full-GPU Notebook workstation runs, stops (GPU freed) and starts (GPU re-bound)', async () => {
  const full = offers.find((o) => o.kind === 'full' && !/MIG/.test(o.pool) && o.free >= 1)!;
  const created = await core.workstations.create(id, spec('gpu-one', NS_A, { kind: 'full', count: 1 }, { nodePool: full.pool }));
  assert.equal(created.kind, 'notebook');
  const running = await inState(core.workstations, NS_A, 'gpu-one', 'running');
  assert.equal(running.gpuLabel, '1× GPU');
  assert.equal(running.volume?.claim, 'gpu-one-home');
  assert.equal(running.volume?.phase, 'Bound');
  assert.ok(running.runningSince);
  const nodeLabels = (await admin.get(`/api/v1/nodes/${running.node}`)).metadata.labels;
  assert.equal(nodeLabels['nvidia.com/gpu.product'], full.pool, 'landed in the chosen pool');
  const boundGpu = await eventually('GPU held in fleet truth', () => held(fleetTruth(info.stateDir), NS_A, 'gpu-one-0').gpus[0]);
  assert.match(boundGpu, /^GPU-/);

  await sleep(1100); // some GPU-time to bank
  // What the stop banks from: the pod's run as the API server has it at that moment.
  const podAtStop = await admin.get(`/api/v1/namespaces/${NS_A}/pods/gpu-one-0`).catch((err: Error) => ({ error: err.message }));
  const stopping = await core.workstations.stop(id, NS_A, 'gpu-one');
  assert.ok(stopping.state === 'stopping' || stopping.state === 'stopped');
  const stopped = await inState(core.workstations, NS_A, 'gpu-one', 'stopped');
  const banked = (await admin.get(`/apis/kubeflow.org/v1/namespaces/${NS_A}/notebooks/gpu-one`)).metadata.annotations?.['tessera.dev/gpu-seconds'];
  assert.ok(
    stopped.gpuHours > 0,
    `the run was banked as GPU-hours (annotation ${banked}; pod at stop: ${JSON.stringify({ uid: podAtStop.metadata?.uid, phase: podAtStop.status?.phase, started: podAtStop.status?.containerStatuses?.[0]?.state, deleting: podAtStop.metadata?.deletionTimestamp, error: podAtStop.error })}; running since ${running.runningSince})`,
  );
  await eventually('GPU freed in fleet truth', () => held(fleetTruth(info.stateDir), NS_A, 'gpu-one-0').gpus.length === 0);
  const claim = await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/gpu-one-home`);
  assert.equal(claim.status.phase, 'Bound', 'the volume stays while stopped');

  await core.workstations.start(id, NS_A, 'gpu-one');
  await inState(core.workstations, NS_A, 'gpu-one', 'running');
  const again = await eventually('GPU re-bound in fleet truth', () => held(fleetTruth(info.stateDir), NS_A, 'gpu-one-0').gpus[0]);
  assert.match(again, /^GPU-/);
});

test('a MIG-slice workstation (plain StatefulSet) runs on a slice of that profile and stops/starts', async () => {
  const slice = offers.find((o) => o.kind === 'mig' && o.free >= 1)!;
  const created = await plain.create(id, spec('mig-one', NS_A, { kind: 'mig', profile: slice.profile!, count: 1 }));
  assert.equal(created.kind, 'statefulset');
  const sts = await admin.get(`/apis/apps/v1/namespaces/${NS_A}/statefulsets/mig-one`);
  assert.equal(sts.metadata.labels['tessera.dev/workstation'], 'mig-one');
  assert.equal(sts.spec.template.spec.containers[0].resources.limits[`nvidia.com/mig-${slice.profile}`], '1');
  await admin.get(`/api/v1/namespaces/${NS_A}/services/mig-one`);
  const running = await inState(plain, NS_A, 'mig-one', 'running');
  assert.equal(running.gpuLabel, `1× ${slice.profile}`);
  const dev = await eventually('MIG device held', () => held(fleetTruth(info.stateDir), NS_A, 'mig-one-0').mig[0]);
  assert.equal(dev.profile, slice.profile);
  assert.match(dev.uuid, /^MIG-/);

  await plain.stop(id, NS_A, 'mig-one');
  assert.equal((await admin.get(`/apis/apps/v1/namespaces/${NS_A}/statefulsets/mig-one`)).spec.replicas, 0);
  await inState(plain, NS_A, 'mig-one', 'stopped');
  await eventually('slice freed', () => held(fleetTruth(info.stateDir), NS_A, 'mig-one-0').mig.length === 0);
  await plain.start(id, NS_A, 'mig-one');
  await inState(plain, NS_A, 'mig-one', 'running');
  await eventually('slice re-bound', () => held(fleetTruth(info.stateDir), NS_A, 'mig-one-0').mig.length === 1);
  // Both kinds show up in one list across clusters.
  const all = await core.workstations.list();
  assert.ok(all.some((w) => w.name === 'gpu-one' && w.kind === 'notebook'));
  assert.ok(all.some((w) => w.name === 'mig-one' && w.kind === 'statefulset'));
});

test('a workstation no node can hold waits as pending-no-capacity with the scheduler reason', async () => {
  // 16 whole GPUs in a pool of 8-GPU nodes (single-strategy MIG nodes advertise dozens of nvidia.com/gpu slices).
  const pool = offers.find((o) => o.kind === 'full' && !/MIG/.test(o.pool))!.pool;
  await plain.create(id, spec('too-wide', NS_A, { kind: 'full', count: 16 }, { nodePool: pool }));
  // The scheduler retries once the volume is bound; its reason then names the GPUs.
  const w = await eventually('no-capacity reason', async () => {
    const x = await ws(plain, NS_A, 'too-wide');
    return x.state === 'pending-no-capacity' && /Insufficient nvidia\.com\/gpu/.test(x.reason ?? '') ? x : undefined;
  });
  assert.match(w.reason!, /^0\/24 nodes are available/);
  assert.equal(w.gpuHours, 0);
  await plain.delete(id, NS_A, 'too-wide', true);
});

test('a workstation beyond the GPU quota is refused with the quota named, and nothing is created', async () => {
  await admin.create(`/api/v1/namespaces/${NS_Q}/resourcequotas`, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'team-gpus' }, spec: { hard: { 'requests.nvidia.com/gpu': '1', 'requests.memory': '64Gi' } } });
  await eventually('quota status', async () => (await admin.get(`/api/v1/namespaces/${NS_Q}/resourcequotas/team-gpus`)).status?.hard);
  const check = await core.workstations.check(id, spec('too-big', NS_Q, { kind: 'full', count: 2 }));
  assert.equal(check.ok, false);
  assert.match(check.problems.join('\n'), /ResourceQuota "team-gpus" in ws-quota allows requests\.nvidia\.com\/gpu 1; 0 is in use and this workstation asks for 2/);
  await assert.rejects(core.workstations.create(id, spec('too-big', NS_Q, { kind: 'full', count: 2 })), (err: TesseraError) => err.code === 'FORBIDDEN' && /team-gpus/.test(err.message));
  assert.equal((await admin.get(`/api/v1/namespaces/${NS_Q}/persistentvolumeclaims`)).items.length, 0, 'no volume left behind');
  await assert.rejects(admin.get(`/apis/kubeflow.org/v1/namespaces/${NS_Q}/notebooks/too-big`), /404/);
  // One GPU fits; once stopped, a lowered quota refuses the start, naming it.
  assert.equal((await core.workstations.check(id, spec('fits', NS_Q, { kind: 'none' }))).ok, true);
  await plain.create(id, spec('fits', NS_Q, { kind: 'full', count: 1 }));
  await inState(plain, NS_Q, 'fits', 'running');
  await plain.stop(id, NS_Q, 'fits');
  await inState(plain, NS_Q, 'fits', 'stopped');
  await admin.patch(`/api/v1/namespaces/${NS_Q}/resourcequotas/team-gpus`, { spec: { hard: { 'requests.nvidia.com/gpu': '0' } } });
  await assert.rejects(plain.start(id, NS_Q, 'fits'), (err: TesseraError) => err.code === 'FORBIDDEN' && /ResourceQuota "team-gpus" in ws-quota allows requests\.nvidia\.com\/gpu 0/.test(err.message));
  assert.equal((await admin.get(`/apis/apps/v1/namespaces/${NS_Q}/statefulsets/fits`)).spec.replicas, 0, 'the refused start changed nothing');
  await plain.delete(id, NS_Q, 'fits', true);
  const actions = await auditActions();
  assert.ok(actions.some((a) => a.action === 'workstation.create' && a.outcome === 'failed'));
});

test('bad requests and users without permission are refused with the reason', async () => {
  await assert.rejects(core.workstations.create(id, spec('bad', NS_A, { kind: 'mig', count: 1 } as never)), /MIG profile/);
  await assert.rejects(core.workstations.create(id, spec('gpu-one', NS_A, { kind: 'none' })), (err: TesseraError) => err.code === 'CONFLICT');
  const viewerId = core.clusters.list().find((c) => c.context.startsWith('viewer@'))!.id;
  await core.clusters.connect(viewerId);
  await assert.rejects(core.workstations.create(viewerId, spec('nope', NS_A, { kind: 'none' })), (err: TesseraError) => err.code === 'FORBIDDEN' && /may not create notebooks\.kubeflow\.org in namespace ws-team-a/.test(err.message));
  await assert.rejects(core.workstations.stop(viewerId, NS_A, 'gpu-one'), (err: TesseraError) => err.code === 'FORBIDDEN' && /patch notebooks/.test(err.message));
  assert.equal((await ws(core.workstations, NS_A, 'gpu-one')).state, 'running', 'the refused stop changed nothing');
});

test('snapshot → ready with size and spec; clone into another namespace; restore', async () => {
  const snap = await core.workstations.snapshot(id, NS_A, 'gpu-one', 'gpu-one-snap1', 'tessera-sim-snapshots-retain');
  assert.equal(snap.readyToUse, false);
  assert.equal(snap.className, 'tessera-sim-snapshots-retain');
  const ready = await eventually('snapshot ready', async () => (await core.workstations.snapshots(id, NS_A)).find((s) => s.name === 'gpu-one-snap1' && s.readyToUse));
  assert.equal(ready.restoreSize, '5Gi');
  assert.equal(ready.workstation, 'gpu-one');
  assert.equal(ready.spec?.image, 'registry.local/jupyter/scipy:2024.1');
  await assert.rejects(core.workstations.snapshot(id, NS_A, 'gpu-one', 'x', 'no-such-class'), /snapshot class no-such-class does not exist/);

  const clone = await core.workstations.clone(id, NS_A, 'gpu-one-snap1', { namespace: NS_B, name: 'gpu-copy' });
  assert.equal(clone.namespace, NS_B);
  assert.deepEqual(clone.spec.env, [{ name: 'TEAM', value: NS_A }], 'same spec as the source');
  const claim = await admin.get(`/api/v1/namespaces/${NS_B}/persistentvolumeclaims/gpu-copy-home`);
  assert.equal(claim.spec.dataSource.kind, 'VolumeSnapshot');
  const copied = await admin.get(`/apis/snapshot.storage.k8s.io/v1/namespaces/${NS_B}/volumesnapshots/${claim.spec.dataSource.name}`);
  assert.equal(copied.status.readyToUse, true);
  const content = await admin.get(`/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${copied.status.boundVolumeSnapshotContentName}`);
  assert.equal(content.spec.deletionPolicy, 'Retain', 'deleting the copy never deletes the data');
  await inState(core.workstations, NS_B, 'gpu-copy', 'running');
  const pv = await admin.get(`/api/v1/persistentvolumes/${(await admin.get(`/api/v1/namespaces/${NS_B}/persistentvolumeclaims/gpu-copy-home`)).spec.volumeName}`);
  assert.equal(pv.metadata.annotations['tessera.dev/sim-origin'], `snapshot ${claim.spec.dataSource.name}`);

  const restored = await core.workstations.restore(id, NS_A, 'gpu-one', 'gpu-one-snap1');
  assert.notEqual(restored.volume?.claim, 'gpu-one-home');
  assert.match(restored.volume!.claim, /^gpu-one-home-/);
  restoredClaim = restored.volume!.claim;
  const running = await inState(core.workstations, NS_A, 'gpu-one', 'running');
  assert.equal(running.volume?.claim, restored.volume?.claim);
  const newClaim = await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/${restored.volume!.claim}`);
  assert.equal(newClaim.spec.dataSource.name, 'gpu-one-snap1');
  const old = await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/gpu-one-home`);
  assert.equal(old.metadata.annotations['tessera.dev/replaced-by'], restored.volume!.claim, 'the old volume is kept and marked');
  const actions = (await auditActions()).map((a) => `${a.action}:${a.outcome}`);
  for (const a of ['workstation.snapshot:succeeded', 'workstation.clone:started', 'workstation.clone:succeeded', 'workstation.restore:started', 'workstation.restore:succeeded', 'workstation.start:succeeded', 'workstation.stop:succeeded']) assert.ok(actions.includes(a), a);
});

test('without snapshots: a CSI volume clone in the same namespace; another namespace is refused', async () => {
  await assert.rejects(plain.cloneVolume(id, NS_A, 'mig-one', { namespace: NS_B, name: 'mig-twin' }), /a volume clone stays in its namespace \(ws-team-a\)/);
  const twin = await plain.cloneVolume(id, NS_A, 'mig-one', { namespace: NS_A, name: 'mig-twin' });
  assert.equal(twin.spec.gpu.kind, 'mig');
  const claim = await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/mig-twin-home`);
  assert.equal(claim.spec.dataSource.kind, 'PersistentVolumeClaim');
  assert.equal(claim.spec.dataSource.name, 'mig-one-home');
  await inState(plain, NS_A, 'mig-twin', 'running');
  const pv = await admin.get(`/api/v1/persistentvolumes/${(await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/mig-twin-home`)).spec.volumeName}`);
  assert.equal(pv.metadata.annotations['tessera.dev/sim-origin'], 'clone of mig-one-home');
  const gone = await plain.delete(id, NS_A, 'mig-twin', true);
  assert.ok(gone.deleted.some((d) => d.name === 'mig-twin-home'));
});

test('delete keeps the volume unless asked, and removes it when asked', async () => {
  const kept = await plain.delete(id, NS_A, 'mig-one', false);
  assert.deepEqual(kept.kept.map((k) => k.name), ['mig-one-home']);
  await eventually('StatefulSet gone', async () => admin.get(`/apis/apps/v1/namespaces/${NS_A}/statefulsets/mig-one`).then(() => false, () => true));
  await assert.rejects(admin.get(`/api/v1/namespaces/${NS_A}/services/mig-one`), /404/);
  assert.equal((await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims/mig-one-home`)).status.phase, 'Bound');

  const gone = await core.workstations.delete(id, NS_A, 'gpu-one', true);
  const claims = gone.deleted.filter((d) => d.kind === 'PersistentVolumeClaim').map((d) => d.name);
  for (const c of ['gpu-one-home', restoredClaim]) assert.ok(claims.includes(c), `${c} deleted (deleted: ${claims.join(', ')})`);
  await eventually('claims gone', async () => (await admin.get(`/api/v1/namespaces/${NS_A}/persistentvolumeclaims`, { labelSelector: 'tessera.dev/workstation=gpu-one' })).items.length === 0);
  await eventually('pod gone, GPU free', async () => held(fleetTruth(info.stateDir), NS_A, 'gpu-one-0').gpus.length === 0);
  await assert.rejects(core.workstations.get(id, NS_A, 'gpu-one'), (err: TesseraError) => err.code === 'NOT_FOUND');
  const deletes = (await core.audit!.query({ action: 'workstation.delete', limit: 50 })).entries.map((e) => `${e.targets[0]?.name}:${JSON.stringify(e.params)}:${e.outcome}`);
  assert.ok(deletes.includes('mig-one:{"deleteVolume":false}:succeeded'), deletes.join(' '));
  assert.ok(deletes.includes('gpu-one:{"deleteVolume":true}:succeeded'), deletes.join(' '));
});

test('templates are saved atomically in the data folder and audited', async () => {
  const t = await core.workstations.saveTemplate({ name: 'jupyter-1g', image: 'registry.local/jupyter/scipy:2024.1', gpu: { kind: 'mig', profile: '1g.10gb', count: 1 }, cpu: '2', memory: '8Gi', volumeSize: '20Gi' });
  assert.ok(t.updatedAt);
  const file = JSON.parse(fs.readFileSync(path.join(dataDir, 'workstation-templates.json'), 'utf8'));
  assert.equal(file.templates[0].name, 'jupyter-1g');
  assert.deepEqual((await core.workstations.templates()).map((x) => x.name), ['jupyter-1g']);
  await assert.rejects(core.workstations.saveTemplate({ name: 'bad', image: 'x', gpu: { kind: 'none' }, cpu: '0', memory: '1Gi', volumeSize: '1Gi' }), /cpu/);
  assert.deepEqual(await core.workstations.deleteTemplate('jupyter-1g'), { deleted: true });
  assert.deepEqual(await core.workstations.templates(), []);
  const actions = (await auditActions()).map((a) => a.action);
  assert.ok(actions.includes('workstation.template.save') && actions.includes('workstation.template.delete'));
});
