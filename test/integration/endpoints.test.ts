// KServe endpoints on the real test bed (its simulated KServe controller and
// data plane): discovery, preview with the server's dry run, an endpoint on a
// full GPU (Serverless) and one on a MIG slice (RawDeployment) reaching Ready
// with the devices bound in the simulator's truth, real requests in v1, v2 and
// both OpenAI routes, a 10% canary seen in a load test, promote, a second
// canary rolled back, a failing revision reported with its reason, a
// readiness-gated Raw update, a viewer's create refused before submit, the
// live list, delete keeping the model storage, and the audit trail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import yaml from 'js-yaml';
import { createCore, type Core } from '../../electron/core/core.ts';
import type { FlatSpec } from '../../electron/core/endpoints/endpoint-service.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { LoadTestEvent, UpdateEvent } from '../../shared/contract/endpoints.ts';
import { ENDPOINT_ACTION_VERBS, type Endpoint, type EndpointsDelta } from '../../shared/model/endpoints.ts';
import { fleetTruth, injectFault, sharedTestbed, testbedClient, type FleetTruth, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually as poll } from '../support/testbed-info.ts';

const NS = 'inference';
const GPU = 'epc-gpu';
const MIG = 'epc-mig';
const LLM = 'epc-llm';
const VIEWER_TRY = 'epc-nope';
const ALL = [GPU, MIG, LLM, VIEWER_TRY];

let info: TestbedInfo;
let core: Core;
let admin: Kube;
let id: string;
let viewerId: string;
let dataDir: string;

const eventually: typeof poll = (what, fn, ms = 90_000, every = 300) => poll(what, fn, ms, every);
const ep = () => core.endpoints;
const row = (name: string) => ep().row(id, NS, name);
const until = (name: string, what: string, ok: (e: Endpoint) => boolean) =>
  eventually(`${name}: ${what}`, async () => {
    const e = await row(name);
    return ok(e) ? e : undefined;
  });

function spec(name: string, extra: Partial<FlatSpec>): FlatSpec {
  return { name, namespace: NS, modelFormat: 'sklearn', storageUri: 'pvc://models/iris', gpu: { kind: 'none' }, cpu: '1', memory: '1Gi', ...extra };
}

/** Devices the simulator says a pod holds. */
function held(truth: FleetTruth | undefined, pod: string): { gpus: number; mig: string[] } {
  const out = { gpus: 0, mig: [] as string[] };
  for (const n of Object.values(truth?.nodes ?? {})) {
    for (const g of n.gpus) {
      if (g.holder?.namespace === NS && g.holder.pod === pod) out.gpus++;
      for (const m of g.migDevices) if (m.holder?.namespace === NS && m.holder.pod === pod) out.mig.push(m.profile);
    }
  }
  return out;
}

async function wipe(): Promise<void> {
  for (const n of ALL) await admin.request('DELETE', `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${n}`).catch(() => undefined);
  await injectFault(info.stateDir, 'isvc-clear', [`${NS}/${GPU}`]).catch(() => undefined);
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  await wipe();
  await eventually('previous endpoints gone', async () => {
    const pods = await admin.get<{ items: { metadata: { labels?: Record<string, string> } }[] }>(`/api/v1/namespaces/${NS}/pods`);
    return !pods.items.some((p) => ALL.includes(p.metadata.labels?.['serving.kserve.io/inferenceservice'] ?? ''));
  });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ep-'));
  core = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer], dataDir });
  id = core.clusters.list().find((c) => c.context.startsWith('admin@'))!.id;
  viewerId = core.clusters.list().find((c) => c.context.startsWith('viewer@'))!.id;
  await core.clusters.connect(id);
  await core.clusters.connect(viewerId);
});

after(async () => {
  try {
    await wipe();
  } finally {
    await core?.dispose();
    admin?.close();
  }
});

test('discover: KServe versions, runtimes with formats and protocols, both modes, default mode, model PVCs', async () => {
  const d = await core.methods['endpoints.discover']({ id, namespace: NS });
  assert.equal(d.installed, true);
  assert.ok(d.versions.includes('v1beta1') && d.versions.includes('v1alpha1'), d.versions.join());
  assert.equal(d.runtimeApi, true);
  const sk = d.runtimes.find((r) => r.name === 'kserve-sklearnserver' && r.kind === 'ClusterServingRuntime');
  assert.ok(sk?.formats.some((f) => f.name === 'sklearn' && f.autoSelect));
  assert.deepEqual(sk?.protocols, ['v1', 'v2']);
  assert.equal(d.runtimes.find((r) => r.name === 'kserve-huggingfaceserver')?.openaiPrefix, '/openai/v1');
  assert.equal(d.runtimes.find((r) => r.name === 'kserve-vllmserver')?.openaiPrefix, '/v1');
  assert.ok(d.runtimes.some((r) => r.kind === 'ServingRuntime' && r.namespace === NS), 'the namespaced runtime is offered');
  assert.equal(d.knative, true);
  assert.deepEqual(d.modes, ['Serverless', 'RawDeployment']);
  assert.equal(d.defaultMode, 'Serverless');
  assert.equal(d.defaultModeSource, 'inferenceservice-config');
  assert.ok(d.storage.some((c) => c.name === 'models' && c.uri === 'pvc://models/'), JSON.stringify(d.storage));
});

test('preview: YAML, dry run and capacity for a good spec; named problems for bad ones; nothing created', async () => {
  const good = await ep().preview(id, { spec: spec(GPU, { gpu: { kind: 'full', count: 1 } }) });
  assert.deepEqual(good.problems, []);
  assert.equal(good.ok, true);
  assert.deepEqual(good.dryRun, { ok: true });
  assert.match(good.yaml, /storageUri: pvc:\/\/models\/iris/);
  assert.match(good.yaml, /nvidia.com\/gpu: '1'/);
  assert.ok(good.capacity && good.capacity.free > 0, JSON.stringify(good.capacity));
  const wrongRuntime = await ep().preview(id, { spec: spec(GPU, { runtime: 'kserve-tritonserver' }) });
  assert.ok(wrongRuntime.problems.some((p) => /kserve-tritonserver does not serve model format sklearn/.test(p)), wrongRuntime.problems.join());
  const noFormat = await ep().preview(id, { spec: spec(GPU, { modelFormat: 'pmml' }) });
  assert.ok(noFormat.problems.some((p) => /no runtime here serves model format pmml/.test(p)), noFormat.problems.join());
  const yamlBad = await ep().preview(id, { yaml: good.yaml.replace('kind: InferenceService', 'kind: Deployment') });
  assert.ok(yamlBad.problems.some((p) => /kind must be InferenceService/.test(p)));
  // The server's own check: a namespace that does not exist.
  const noNs = await ep().preview(id, { spec: { ...spec(GPU, {}), namespace: 'no-such-ns' } });
  assert.equal(noNs.dryRun?.ok, false);
  assert.ok(noNs.problems.some((p) => /dry run/.test(p) && /no-such-ns/.test(p)), noNs.problems.join());
  await assert.rejects(admin.get(`/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${GPU}`), (err: { status?: number }) => err.status === 404);
});

test('a viewer\'s create is refused before submit, naming the permission; nothing is created', async () => {
  const access = await core.methods['endpoints.access']({ id: viewerId, namespace: NS });
  assert.equal(access.create.allowed, false);
  const p = await ep().preview(viewerId, { spec: spec(VIEWER_TRY, {}) });
  assert.equal(p.ok, false);
  assert.equal(p.dryRun, undefined, 'no dry run without the permission');
  await assert.rejects(ep().create(viewerId, { spec: spec(VIEWER_TRY, {}) }), (err: TesseraError) => err.code === 'FORBIDDEN' && /may not create inferenceservices\.serving\.kserve\.io in namespace inference/.test(err.message));
  await assert.rejects(admin.get(`/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${VIEWER_TRY}`), (err: { status?: number }) => err.status === 404);
});

test('access reports the verb each action needs: patch alone allows promote/rollback, not canary/update', async () => {
  // A namespace where the viewer may patch inferenceservices but not update (PUT) them.
  const ns = `ep-patchonly-${Date.now().toString(36).slice(-5)}`;
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  try {
    const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`;
    await admin.create(`${rbac}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'isvc-patch' }, rules: [{ apiGroups: ['serving.kserve.io'], resources: ['inferenceservices'], verbs: ['get', 'list', 'watch', 'patch'] }] });
    await admin.create(`${rbac}/rolebindings`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'viewer-isvc-patch' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'isvc-patch' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'viewer' }] });
    const a = await core.methods['endpoints.access']({ id: viewerId, namespace: ns, name: 'any' });
    const byAction = Object.fromEntries(Object.entries(ENDPOINT_ACTION_VERBS).map(([action, verb]) => [action, a[verb].allowed]));
    assert.deepEqual(byAction, { canary: false, promote: true, rollback: true, update: false, delete: false });
    assert.match(a.update.reason, /update/);
    const full = await core.methods['endpoints.access']({ id, namespace: NS });
    assert.deepEqual([full.create.allowed, full.patch.allowed, full.update.allowed, full.delete.allowed], [true, true, true, true]);
  } finally {
    await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
});

test('full GPU (Serverless) and MIG slice (RawDeployment) endpoints reach Ready holding their devices', async () => {
  const a = await ep().create(id, { spec: spec(GPU, { gpu: { kind: 'full', count: 1 }, deploymentMode: 'Serverless', runtime: 'kserve-sklearnserver' }) });
  assert.equal(a.mode, 'Serverless');
  const b = await ep().create(id, { spec: spec(MIG, { gpu: { kind: 'mig', profile: '1g.10gb', count: 1 }, deploymentMode: 'RawDeployment', modelFormat: 'huggingface', storageUri: 'pvc://models/tiny-llm' }) });
  assert.equal(b.mode, 'RawDeployment');
  await assert.rejects(ep().create(id, { spec: spec(GPU, {}) }), (err: TesseraError) => /already exists/.test(err.message), 'a second create of the same name is refused');
  const ga = await until(GPU, 'Ready', (e) => e.state === 'ready');
  const gb = await until(MIG, 'Ready', (e) => e.state === 'ready');
  assert.match(ga.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(ga.traffic.length, 1);
  assert.equal(ga.traffic[0]!.percent, 100);
  assert.deepEqual(ga.gpusHeld, [{ resource: 'nvidia.com/gpu', count: 1 }]);
  assert.deepEqual(gb.gpusHeld, [{ resource: 'nvidia.com/mig-1g.10gb', count: 1 }]);
  assert.deepEqual(gb.traffic, []);
  assert.equal(gb.runtime, 'kserve-huggingfaceserver');
  const d = await ep().get(id, NS, GPU);
  assert.ok(d.conditions.some((c) => c.type === 'PredictorReady' && c.status === 'True'));
  assert.equal(d.pods.length, 1);
  const truth = fleetTruth(info.stateDir);
  assert.equal(held(truth, d.pods[0]!.name).gpus, 1, 'the simulator bound a whole GPU to the predictor pod');
  const dm = await ep().get(id, NS, MIG);
  assert.deepEqual(held(truth, dm.pods[0]!.name).mig, ['1g.10gb']);
  assert.equal(d.revisions.length, 1);
  assert.equal(d.revisions[0]!.ready, 'True');
  assert.match(d.yaml, /kind: InferenceService/);
  assert.ok(d.events.length > 0, 'events of the endpoint and its pods are shown');
  assert.equal(typeof d.pods[0]!.gpuUtilPct, 'number', `GPU utilisation of the predictor pod from dcgm-exporter (${d.metricsNote ?? ''})`);
  const logs = await ep().logs(id, NS, GPU);
  assert.deepEqual(logs.map((l) => [l.pod, l.container]), [[d.pods[0]!.name, 'kserve-container']]);
  assert.equal(logs[0]!.error, undefined, 'the kubelet serves the predictor log');
  // The model server's start-up, as the simulated container wrote it (served by the kubelet through pods/log).
  assert.match(logs[0]!.text, new RegExp(`Registering model: ${GPU}\\n[^]*Model ${GPU} loaded successfully\\n[^]*Uvicorn running on http://0\\.0\\.0\\.0:8080`));
});

test('requests in each protocol: v1 predict, v2 infer, OpenAI completions and chat; probes', async () => {
  const v1 = await ep().test(id, NS, GPU, 'v1');
  assert.equal(v1.status, 200);
  assert.deepEqual(JSON.parse(v1.body), { predictions: [3, 7] });
  assert.match(v1.revision ?? '', new RegExp(`^${GPU}-predictor-\\d+$`));
  assert.ok(v1.latencyMs > 0);
  const v2 = await ep().test(id, NS, GPU, 'v2', JSON.stringify({ inputs: [{ name: 'input0', shape: [3], datatype: 'FP32', data: [1, 2, 3] }] }));
  assert.deepEqual(JSON.parse(v2.body).outputs[0].data, [2, 4, 6]);
  // Each served request is in the predictor pod's log, as the model server's access log.
  const served = (await ep().logs(id, NS, GPU))[0]!.text;
  assert.match(served, new RegExp(`"POST /v1/models/${GPU}:predict HTTP/1\\.1" 200 OK`));
  assert.match(served, new RegExp(`"POST /v2/models/${GPU}/infer HTTP/1\\.1" 200 OK`));
  const comp = await ep().test(id, NS, MIG, 'openai-completions', JSON.stringify({ model: MIG, prompt: 'hi there' }));
  assert.equal(comp.status, 200, comp.body);
  assert.equal(JSON.parse(comp.body).choices[0].text, 'echo: hi there');
  assert.match(comp.url, /\/openai\/v1\/completions$/);
  const chat = await ep().test(id, NS, MIG, 'openai-chat');
  assert.equal(JSON.parse(chat.body).choices[0].message.content, 'echo: Hello');
  // A bad body gets the server's own 400, shown as it is.
  const bad = await ep().test(id, NS, GPU, 'v1', '{"instances": "x"}');
  assert.equal(bad.status, 400);
  assert.equal(bad.ok, false);
  await assert.rejects(ep().test(id, NS, GPU, 'openai-chat'), /does not speak openai-chat/);
  const probes = await ep().probe(id, NS, GPU);
  assert.deepEqual(probes.map((p) => [p.name, p.ok]), [['v1 model ready', true], ['v2 server ready', true], ['v2 model ready', true]]);
  // vLLM's own server: OpenAI routes without the /openai prefix.
  await ep().create(id, { spec: spec(LLM, { modelFormat: 'vLLM', storageUri: 'pvc://models/tiny-llm', deploymentMode: 'RawDeployment' }) });
  await until(LLM, 'Ready', (e) => e.state === 'ready');
  const vchat = await ep().test(id, NS, LLM, 'openai-chat', JSON.stringify({ model: LLM, messages: [{ role: 'user', content: 'ping' }] }));
  assert.match(vchat.url, /:\d+\/v1\/chat\/completions$/);
  assert.equal(JSON.parse(vchat.body).choices[0].message.content, 'echo: ping');
});

test('events: those of an earlier object of the same name are left out (matched by uid, else by time)', async () => {
  const d0 = await ep().get(id, NS, GPU);
  const isvc = await admin.get<{ metadata: { uid: string; creationTimestamp: string } }>(`/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${GPU}`);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const before = new Date(Date.parse(isvc.metadata.creationTimestamp) - 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const event = (n: string, involved: Record<string, string>, at: string, message: string) =>
    admin.create(`/api/v1/namespaces/${NS}/events`, { apiVersion: 'v1', kind: 'Event', metadata: { name: `${GPU}.${n}.${Date.now().toString(36)}` }, involvedObject: { apiVersion: 'v1', namespace: NS, ...involved }, reason: 'TesseraTest', message, type: 'Normal', count: 1, firstTimestamp: at, lastTimestamp: at, source: { component: 'tessera-test' } });
  await event('olduid', { kind: 'InferenceService', name: GPU, uid: 'uid-of-an-earlier-one' }, now, 'earlier isvc (other uid)');
  await event('olduidpod', { kind: 'Pod', name: d0.pods[0]!.name, uid: 'uid-of-an-earlier-pod' }, now, 'earlier pod of the same name (other uid)');
  await event('sameuid', { kind: 'InferenceService', name: GPU, uid: isvc.metadata.uid }, before, 'this isvc (its uid)');
  await event('oldrev', { kind: 'Revision', name: `${GPU}-predictor-00001` }, before, 'revision event from before this isvc existed');
  await event('newrev', { kind: 'Revision', name: `${GPU}-predictor-00001` }, now, 'revision event since this isvc exists');
  const msgs = (await ep().get(id, NS, GPU)).events.map((e) => e.message);
  assert.ok(msgs.includes('this isvc (its uid)'), 'an event with the uid counts, whatever its time');
  assert.ok(msgs.includes('revision event since this isvc exists'));
  for (const m of ['earlier isvc (other uid)', 'earlier pod of the same name (other uid)', 'revision event from before this isvc existed']) assert.ok(!msgs.includes(m), `left out: ${m}`);
});

test('canary at 10%: traffic split, the load test sees ~10% on the new revision; promote moves all', async () => {
  const first = (await row(GPU)).latestReadyRevision!;
  const c = await ep().canary(id, NS, GPU, { storageUri: 'pvc://models/iris-v2' }, 10);
  assert.equal(c.canaryTrafficPercent, 10);
  const split = await until(GPU, 'canary split 10/90 with the new revision ready', (e) => e.latestReadyRevision !== first && e.traffic.length === 2 && e.traffic.some((t) => t.latest && t.percent === 10));
  const canaryRev = split.latestReadyRevision!;
  assert.deepEqual(split.traffic.find((t) => t.tag === 'prev'), { revision: first, percent: 90, latest: false, tag: 'prev', ...(split.traffic.find((t) => t.tag === 'prev')?.url ? { url: split.traffic.find((t) => t.tag === 'prev')!.url } : {}) });
  const detail = await ep().get(id, NS, GPU);
  const side = detail.revisions.filter((r) => r.name === first || r.name === canaryRev);
  assert.equal(side.length, 2, 'both revisions side by side');
  assert.ok(side.every((r) => r.ready === 'True' && r.readyPods === 1), JSON.stringify(side));
  const load = await ep().loadTest(id, { namespace: NS, name: GPU, protocol: 'v1', requests: 400, concurrency: 8 });
  assert.equal(load.completed, 400);
  assert.equal(load.succeeded, 400, JSON.stringify(load.errors));
  const share = load.perRevision.find((p) => p.revision === canaryRev)?.percent ?? 0;
  assert.ok(share >= 5 && share <= 15, `canary share ${share}% (${JSON.stringify(load.perRevision)})`);
  assert.ok(load.latencyMs.p50 <= load.latencyMs.p95 && load.latencyMs.p95 <= load.latencyMs.p99 && load.latencyMs.p99 <= load.latencyMs.max && load.latencyMs.p50 > 0);
  // The old revision can be addressed on its own URL.
  const prev = await ep().test(id, NS, GPU, 'v1', undefined, 'prev');
  assert.equal(prev.revision, first);

  await ep().promote(id, NS, GPU);
  const promoted = await until(GPU, 'all traffic on the canary revision', (e) => e.traffic.length === 1 && e.traffic[0]!.revision === canaryRev && e.traffic[0]!.percent === 100 && e.canaryTrafficPercent === undefined);
  assert.equal(promoted.latestRolledoutRevision, canaryRev);
  // The load test as the UI runs it: progress events, then the result.
  const events: LoadTestEvent[] = [];
  const stop = core.streams['endpoints.loadTestRun']({ id, namespace: NS, name: GPU, protocol: 'v1', requests: 40, concurrency: 4 }, (e) => events.push(e));
  const done = await eventually('load test result', () => events.find((e) => e.kind === 'result'), 30_000);
  stop();
  assert.ok(events.some((e) => e.kind === 'progress' && e.progress.total === 40));
  const after = done.kind === 'result' ? done.result : assert.fail('no result');
  assert.equal(after.completed, 40);
  assert.deepEqual(after.perRevision.map((p) => p.revision), [canaryRev]);
  await assert.rejects(ep().promote(id, NS, GPU), (err: TesseraError) => err.code === 'CONFLICT' && /nothing to promote/.test(err.message));
});

test('a second canary rolled back: all traffic returns to the previous rolled-out revision', async () => {
  const rolled = (await row(GPU)).latestRolledoutRevision!;
  await ep().canary(id, NS, GPU, { storageUri: 'pvc://models/iris-v3' }, 30);
  const split = await until(GPU, '30% canary', (e) => e.traffic.some((t) => t.latest && t.percent === 30) && e.latestReadyRevision !== rolled);
  const third = split.latestReadyRevision!;
  await ep().rollback(id, NS, GPU);
  const back = await until(GPU, 'all traffic back on the rolled-out revision', (e) => e.canaryTrafficPercent === 0 && e.traffic.filter((t) => t.percent > 0).every((t) => t.revision === rolled));
  assert.equal(back.latestCreatedRevision, third, 'the rolled-back revision stays deployed');
  const r = await ep().loadTest(id, { namespace: NS, name: GPU, protocol: 'v1', requests: 30, concurrency: 3 });
  assert.deepEqual(r.perRevision.map((p) => p.revision), [rolled]);
  await assert.rejects(ep().rollback(id, NS, GPU), (err: TesseraError) => err.code === 'CONFLICT' && /already rolled back/.test(err.message));
});

test('a failing revision is reported with its reason; promote is refused, roll back works', async () => {
  await injectFault(info.stateDir, 'isvc-fail', [`${NS}/${GPU}`]);
  try {
    const rolled = (await row(GPU)).latestRolledoutRevision!;
    await ep().canary(id, NS, GPU, { storageUri: 'pvc://models/broken' }, 10);
    const failed = await until(GPU, 'canary revision failed', (e) => e.reason === 'ModelLoadFailed');
    assert.notEqual(failed.latestCreatedRevision, failed.latestReadyRevision);
    const d = await ep().get(id, NS, GPU);
    assert.equal(d.failure?.reason, 'ModelLoadFailed');
    const bad = d.revisions.find((r) => r.name === failed.latestCreatedRevision);
    assert.equal(bad?.ready, 'False');
    assert.equal(bad?.reason, 'ModelLoadFailed');
    assert.ok(d.conditions.some((c) => c.status === 'False' && c.reason === 'ModelLoadFailed' && c.message), 'the failing condition carries its reason and message');
    // The crash-looping model server's log says why, and the good revision's still serves.
    const logs = await ep().logs(id, NS, GPU);
    assert.ok(logs.some((l) => new RegExp(`ERROR:kserve:Failed to load model ${GPU}: `).test(l.text)), logs.map((l) => `${l.pod}: ${l.text.slice(-300)}`).join('\n'));
    assert.ok(logs.some((l) => /loaded successfully/.test(l.text)));
    // The run before the crash-looping container's last restart, asked for by name; a pod that never restarted says so.
    const crashing = logs.find((l) => /Failed to load model/.test(l.text))!;
    assert.ok((crashing.restarts ?? 0) >= 1, `the crash-looping container counts its restarts (${crashing.restarts})`);
    const [before] = await ep().logs(id, NS, GPU, crashing.pod, 50, true);
    assert.equal(before!.previous, true);
    assert.equal(before!.error, undefined, before!.error);
    assert.match(before!.text, new RegExp(`Registering model: ${GPU}\\n[^]*ERROR:kserve:Failed to load model ${GPU}: [^]*Model server exited with code 1`), 'the earlier run started, failed to load and exited');
    const healthy = logs.find((l) => /loaded successfully/.test(l.text) && !l.restarts)!;
    const [none] = await ep().logs(id, NS, GPU, healthy.pod, 50, true);
    assert.match(none!.error ?? '', /has not restarted: there is no earlier run to show/);
    // Traffic stays on the good revision: requests still succeed there.
    const v1 = await ep().test(id, NS, GPU, 'v1');
    assert.equal(v1.status, 200);
    assert.equal(v1.revision, rolled);
    await assert.rejects(ep().promote(id, NS, GPU), (err: TesseraError) => err.code === 'CONFLICT' && /failed \(ModelLoadFailed/.test(err.message));
    await ep().rollback(id, NS, GPU);
    await until(GPU, 'rolled back', (e) => e.canaryTrafficPercent === 0);
  } finally {
    await injectFault(info.stateDir, 'isvc-clear', [`${NS}/${GPU}`]);
  }
});

test('Serverless update with wait: the new revision takes all traffic (the canary percentage is dropped)', async () => {
  const r = await ep().update(id, NS, GPU, { change: { storageUri: 'pvc://models/iris-v4' }, wait: true, timeoutSeconds: 90 });
  const msgs = r.steps.map((s) => s.message);
  assert.ok(msgs.some((m) => /canaryTrafficPercent removed/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => /ready with all traffic: the update is live/.test(m)), msgs.join('\n'));
  assert.equal(r.endpoint.state, 'ready');
  assert.equal(r.endpoint.canaryTrafficPercent, undefined);
  assert.deepEqual(r.endpoint.traffic.map((t) => [t.revision, t.percent]), [[r.endpoint.latestCreatedRevision, 100]]);
  assert.equal((await ep().test(id, NS, GPU, 'v1')).revision, r.endpoint.latestCreatedRevision);
});

test('expert YAML edit: applied as an object after the same checks; another namespace or kind is refused', async () => {
  const d = await ep().get(id, NS, MIG);
  const doc = yaml.load(d.yaml) as { spec: { predictor: Record<string, any> } };
  doc.spec.predictor.maxReplicas = 3;
  doc.spec.predictor.model.env = [{ name: 'HF_HUB_OFFLINE', value: '1' }];
  const edited = yaml.dump(doc);
  assert.notEqual(edited, d.yaml);
  const r = await ep().update(id, NS, MIG, { yaml: edited });
  assert.equal(r.endpoint.replicas.max, 3);
  // A later form edit keeps what the form does not show (the env), and its preview shows exactly that.
  const formSpec = { ...r.endpoint.spec, storageUri: 'pvc://models/tiny-llm-v1b' } as FlatSpec;
  const p = await ep().preview(id, { spec: formSpec, update: true });
  assert.equal(p.ok, true, p.problems.join());
  assert.match(p.yaml, /HF_HUB_OFFLINE/);
  assert.match(p.yaml, /tiny-llm-v1b/);
  await assert.rejects(ep().update(id, NS, MIG, { yaml: edited.replace('namespace: inference', 'namespace: team-a') }), (err: TesseraError) => err.code === 'INVALID_REQUEST' && /metadata.namespace is team-a, but this endpoint is in inference/.test(err.message));
  await assert.rejects(ep().update(id, NS, MIG, { yaml: 'kind: Pod\n' }), (err: TesseraError) => /kind must be InferenceService/.test(err.message));
});

test('RawDeployment: canary refused with the reason; update gated on the new pods being Ready and the old gone', async () => {
  await assert.rejects(ep().canary(id, NS, MIG, { storageUri: 'pvc://models/tiny-llm-v2' }, 10), (err: TesseraError) => err.code === 'INVALID_REQUEST' && /runs in RawDeployment/.test(err.message) && /Use update/.test(err.message));
  const before = (await ep().get(id, NS, MIG)).pods.map((p) => p.name);
  const steps: string[] = [];
  const r = await ep().update(id, NS, MIG, { change: { storageUri: 'pvc://models/tiny-llm-v2' }, wait: true, timeoutSeconds: 120 }, (s) => steps.push(s.message));
  assert.ok(r.steps.some((s) => /new pods Ready and old pods gone/.test(s.message)), r.steps.map((s) => s.message).join('\n'));
  assert.deepEqual(steps, r.steps.map((s) => s.message), 'progress is reported as it happens');
  assert.equal(r.endpoint.storageUri, 'pvc://models/tiny-llm-v2');
  assert.equal(r.endpoint.state, 'ready');
  const now = (await ep().get(id, NS, MIG)).pods.filter((p) => p.phase !== 'Terminating').map((p) => p.name);
  assert.ok(now.length >= 1 && now.every((p) => !before.includes(p)), `old ${before} → new ${now}`);
  // An update that cannot go live (a MIG profile no node has: the new pod stays Pending) ends with a clear
  // timeout; the change stays applied and the old pod keeps serving.
  // Through the progress stream, as the UI runs it.
  const events: UpdateEvent[] = [];
  const stop = core.streams['endpoints.updateRun']({ id, namespace: NS, name: MIG, change: { gpu: { kind: 'mig', profile: '7g.999gb', count: 1 } }, wait: true, timeoutSeconds: 5 }, (e) => events.push(e));
  const last = await eventually('the update ends', () => events.find((e) => e.kind !== 'step'), 30_000);
  stop();
  assert.ok(last.kind === 'error' && last.error.code === 'TIMEOUT' && /not live after 5 s/.test(last.error.message) && /old pod/.test(last.error.message), JSON.stringify(last));
  assert.ok(events.some((e) => e.kind === 'step' && /applied: generation/.test(e.step.message)), 'steps arrive before the end');
  const stuck = await ep().get(id, NS, MIG);
  assert.ok(stuck.pods.some((p) => p.phase === 'Pending'), JSON.stringify(stuck.pods));
  assert.equal((await ep().test(id, NS, MIG, 'openai-chat')).status, 200, 'the old pod still serves');
});

test('the live list: a reset with every endpoint, then coalesced upserts when one changes', async () => {
  const deltas: EndpointsDelta[] = [];
  const stop = core.streams['endpoints.watch']({ id }, (d) => deltas.push(d));
  try {
    await eventually('reset', () => deltas.find((d) => d.reset && d.reset.some((e) => e.name === GPU)));
    const reset = deltas.find((d) => d.reset)!.reset!;
    assert.ok([GPU, MIG, LLM].every((n) => reset.some((e) => e.name === n)));
    await admin.request('PATCH', `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${LLM}`, { metadata: { labels: { touched: 'yes' } } }, { contentType: 'application/merge-patch+json' });
    await eventually('an upsert after the change', () => deltas.some((d) => !d.reset && d.upsert.some((e) => e.name === LLM)));
    assert.ok(deltas.length < 50, `coalesced: ${deltas.length} deltas`);
    await ep().delete(id, NS, LLM);
    await eventually('removal', () => deltas.some((d) => d.remove.some((k) => k.endsWith(`|${NS}/${LLM}`))));
  } finally {
    stop();
  }
});

test('the list of all clusters follows a cluster that connects later, and drops one that disconnects', async () => {
  core.clusters.disconnect(viewerId);
  const deltas: EndpointsDelta[] = [];
  const stop = core.streams['endpoints.watch']({}, (d) => deltas.push(d));
  try {
    const rowsOf = (cid: string) => {
      // The rows as a subscriber holds them: the last reset, then upserts and removals.
      const rows = new Map<string, Endpoint>();
      for (const d of deltas) {
        if (d.reset) {
          rows.clear();
          for (const e of d.reset) rows.set(`${e.clusterId}|${e.namespace}/${e.name}`, e);
        }
        for (const e of d.upsert) rows.set(`${e.clusterId}|${e.namespace}/${e.name}`, e);
        for (const k of d.remove) rows.delete(k);
      }
      return [...rows.values()].filter((e) => e.clusterId === cid);
    };
    await eventually('the admin cluster\'s rows', () => rowsOf(id).some((e) => e.name === GPU));
    assert.deepEqual(rowsOf(viewerId), [], 'nothing of a cluster not connected');
    await core.clusters.connect(viewerId);
    await eventually('the viewer cluster\'s rows once it connects', () => rowsOf(viewerId).some((e) => e.name === GPU));
    core.clusters.disconnect(viewerId);
    await eventually('its rows removed when it disconnects', () => rowsOf(viewerId).length === 0 && rowsOf(id).some((e) => e.name === GPU));
  } finally {
    stop();
    await core.clusters.connect(viewerId);
  }
});

test('delete says what goes and keeps the model storage; pods go with the endpoint', async () => {
  const plan = await ep().deletePlan(id, NS, GPU);
  assert.ok(plan.deletes.some((d) => d.kind === 'InferenceService' && d.name === GPU));
  assert.ok(plan.deletes.some((d) => d.kind === 'Pod'));
  assert.ok(plan.deletes.filter((d) => d.kind === 'Revision').length >= 2);
  assert.deepEqual(plan.keeps.map((k) => [k.kind, k.name]), [['PersistentVolumeClaim', 'models']]);
  assert.match(plan.summary, /Model storage stays: PVC models/);
  await assert.rejects(ep().delete(viewerId, NS, GPU), (err: TesseraError) => err.code === 'FORBIDDEN' && /delete inferenceservices/.test(err.message));
  await ep().delete(id, NS, GPU);
  await ep().delete(id, NS, MIG);
  await eventually('predictor pods gone', async () => {
    const pods = await admin.get<{ items: { metadata: { labels?: Record<string, string> } }[] }>(`/api/v1/namespaces/${NS}/pods`);
    return !pods.items.some((p) => [GPU, MIG].includes(p.metadata.labels?.['serving.kserve.io/inferenceservice'] ?? ''));
  });
  await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/models`);
  assert.ok(!(await ep().list(id)).some((e) => e.name === GPU || e.name === MIG));
});

test('audit: every create, canary, promote, rollback, update, delete and load test, refusals included', async () => {
  const entries = (await core.audit!.query({ action: 'endpoint', limit: 500 })).entries;
  const seen = new Set(entries.map((e) => `${e.action}:${e.outcome}`));
  for (const a of ['endpoint.create:succeeded', 'endpoint.create:failed', 'endpoint.canary:succeeded', 'endpoint.promote:succeeded', 'endpoint.promote:failed', 'endpoint.rollback:succeeded', 'endpoint.update:succeeded', 'endpoint.delete:succeeded', 'endpoint.delete:failed', 'endpoint.loadtest:started', 'endpoint.loadtest:succeeded', 'endpoint.canary:failed']) {
    assert.ok(seen.has(a), `missing ${a} in ${[...seen].join(', ')}`);
  }
  const refused = entries.find((e) => e.action === 'endpoint.create' && e.outcome === 'failed' && e.targets[0]?.name === VIEWER_TRY);
  assert.match(refused?.error?.message ?? '', /may not create inferenceservices/);
  const canary = entries.find((e) => e.action === 'endpoint.canary' && e.outcome === 'succeeded');
  assert.equal((canary?.params as { percent?: number }).percent, 10);
});
