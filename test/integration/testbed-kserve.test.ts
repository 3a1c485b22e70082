// The KServe part of the test bed: CRDs and runtimes installed by `up`, the
// simulated controller (revisions, traffic, canary/promote/rollback, Raw mode,
// failures, stop, delete) and the loopback data plane (v1, v2, OpenAI), all
// driven with plain REST calls to the API server and plain HTTP to status.url.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fleetTruth, injectFault, ISVC_LABEL, KubeError, sharedTestbed, testbedClient, testbedStatus, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually } from '../support/testbed-info.ts';
import { restartProcess } from '../testbed/supervise.ts';

let info: TestbedInfo;
let admin: Kube;
const NS = 'inference';
const stamp = Date.now().toString(36).slice(-5);
const GPU = `tb-gpu-${stamp}`; // Serverless, Hugging Face runtime, one full GPU
const MIG = `tb-mig-${stamp}`; // RawDeployment, sklearn, one MIG slice
const LLM = `tb-llm-${stamp}`; // Serverless, vLLM, CPU only
const BAD = `tb-bad-${stamp}`; // a format no runtime serves
const ISVCS = `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices`;

type Cond = { type: string; status: string; reason?: string; message?: string };
type Isvc = { metadata: { name: string; generation: number; resourceVersion?: string }; status?: Record<string, any> };

const get = (name: string) => admin.get<Isvc>(`${ISVCS}/${name}`);
const cond = (o: Isvc, type: string) => (o.status?.conditions as Cond[] | undefined)?.find((c) => c.type === type);
const patch = (name: string, body: unknown) => admin.patch(`${ISVCS}/${name}`, body, 'merge');

function isvc(name: string, model: Record<string, unknown>, extra: { annotations?: Record<string, string>; predictor?: Record<string, unknown> } = {}) {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, namespace: NS, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { predictor: { ...extra.predictor, model } },
  };
}

async function waitReady(name: string, timeoutMs = 30_000): Promise<Isvc> {
  return eventually(
    `${name} Ready`,
    async () => {
      const o = await get(name);
      return cond(o, 'Ready')?.status === 'True' && o.status?.observedGeneration === o.metadata.generation && o;
    },
    timeoutMs,
  );
}

async function predictorPods(name: string): Promise<any[]> {
  const { items } = await admin.get<{ items: any[] }>(`/api/v1/namespaces/${NS}/pods`, { labelSelector: `${ISVC_LABEL}=${name}` });
  return items.filter((p) => !p.metadata.deletionTimestamp);
}

async function call(url: string, path: string, body?: unknown): Promise<{ status: number; revision: string | null; json: any }> {
  const res = await fetch(`${url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, revision: res.headers.get('x-tessera-revision'), json: await res.json() };
}

/** Sends n v1 requests in sequence and counts the answering revisions. */
async function split(url: string, model: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await call(url, `/v1/models/${model}:predict`, { instances: [[i, 1]] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.predictions, [i + 1]);
    counts[r.revision ?? 'none'] = (counts[r.revision ?? 'none'] ?? 0) + 1;
  }
  return counts;
}

/** Holder pods of GPUs / MIG devices in the fleet truth. */
function heldBy(pod: string): { gpus: number; mig: string[] } {
  const t = fleetTruth(info.stateDir);
  assert.ok(t, 'fleet-truth.json exists');
  let gpus = 0;
  const mig: string[] = [];
  for (const node of Object.values(t.nodes)) {
    for (const g of node.gpus) {
      if (g.holder?.pod === pod && g.holder.namespace === NS) gpus++;
      for (const m of g.migDevices) if (m.holder?.pod === pod && m.holder.namespace === NS) mig.push(m.profile);
    }
  }
  return { gpus, mig };
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
});

after(async () => {
  for (const name of [GPU, MIG, LLM, BAD]) await admin.delete(`${ISVCS}/${name}`).catch(() => {});
  for (const name of [GPU, MIG, LLM]) await injectFault(info.stateDir, 'isvc-clear', [`${NS}/${name}`]).catch(() => {});
  // Later test files (MIG layouts) must find the devices free again.
  await eventually('predictor pods gone', async () => {
    for (const name of [GPU, MIG, LLM, BAD]) if ((await predictorPods(name)).length) return false;
    return true;
  }, 30_000).catch(() => {});
  admin.close();
});

test('up installs the KServe CRDs, Knative marker, runtimes, config and model PVCs; status shows the simulator alive', async () => {
  for (const crd of ['inferenceservices.serving.kserve.io', 'servingruntimes.serving.kserve.io', 'clusterservingruntimes.serving.kserve.io', 'services.serving.knative.dev']) {
    const o = await admin.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`);
    assert.ok(o.status.conditions.some((c: Cond) => c.type === 'Established' && c.status === 'True'), `${crd} Established`);
  }
  const isvcCrd = await admin.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/inferenceservices.serving.kserve.io');
  assert.deepEqual(isvcCrd.spec.names.shortNames, ['isvc']);
  assert.ok(isvcCrd.spec.versions.some((v: { name: string; subresources?: { status?: object } }) => v.name === 'v1beta1' && v.subresources?.status), 'v1beta1 with the status subresource');
  const csr = await admin.get<{ items: Array<{ metadata: { name: string }; spec: { supportedModelFormats: Array<{ name: string }> } }> }>('/apis/serving.kserve.io/v1alpha1/clusterservingruntimes');
  const byName = new Map(csr.items.map((r) => [r.metadata.name, r.spec.supportedModelFormats.map((f) => f.name)]));
  assert.deepEqual(byName.get('kserve-tritonserver'), ['triton', 'onnx', 'tensorrt']);
  assert.deepEqual(byName.get('kserve-vllmserver'), ['vLLM']);
  for (const n of ['kserve-sklearnserver', 'kserve-huggingfaceserver']) assert.ok(byName.has(n), n);
  const sr = await admin.get(`/apis/serving.kserve.io/v1alpha1/namespaces/${NS}/servingruntimes/inference-sklearn`);
  assert.equal(sr.spec.supportedModelFormats[0].name, 'sklearn');
  const cm = await admin.get('/api/v1/namespaces/kserve/configmaps/inferenceservice-config');
  assert.equal(JSON.parse(cm.data.deploy).defaultDeploymentMode, 'Serverless');
  for (const ns of ['inference', 'team-a']) {
    const pvc = await eventually(`${ns}/models Bound`, async () => {
      const p = await admin.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/models`);
      return p.status?.phase === 'Bound' && p;
    });
    assert.equal(pvc.spec.storageClassName, 'tessera-sim');
  }
  // RBAC: team-a (built-in edit, aggregated) may deploy models in team-a; the viewer may not.
  const probe = (ns: string) => ({ ...isvc('rbac-probe', { modelFormat: { name: 'sklearn' } }), metadata: { name: 'rbac-probe', namespace: ns } });
  const teamA = testbedClient(info, 'teamA');
  const viewer = testbedClient(info, 'viewer');
  try {
    await eventually('team-a may create ISVCs', async () => !!(await teamA.create('/apis/serving.kserve.io/v1beta1/namespaces/team-a/inferenceservices', probe('team-a'), { dryRun: 'All' })));
    await assert.rejects(viewer.create('/apis/serving.kserve.io/v1beta1/namespaces/team-a/inferenceservices', probe('team-a'), { dryRun: 'All' }), (e: KubeError) => e.status === 403);
    await assert.rejects(teamA.create(ISVCS, probe(NS), { dryRun: 'All' }), (e: KubeError) => e.status === 403);
  } finally {
    teamA.close();
    viewer.close();
  }
  const status = await testbedStatus(info.stateDir);
  assert.equal(status.processes.kserve?.alive, true, 'kserve process recorded and alive');
  assert.equal(status.kserve?.alive, true, 'kserve heartbeat fresh');
});

test('a Serverless ISVC on a full GPU and a Raw one on a MIG slice reach Ready with pods holding the devices', async () => {
  // Pinned to a GPU without MIG: on a single-strategy MIG node `nvidia.com/gpu` is a MIG device, as with the real device plugin.
  await admin.create(ISVCS, isvc(GPU, { modelFormat: { name: 'huggingface' }, storageUri: 'pvc://models/llama-3-8b', resources: { limits: { 'nvidia.com/gpu': '1', cpu: '4', memory: '16Gi' } } }, { predictor: { nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-L40S' } } }));
  await admin.create(
    ISVCS,
    isvc(MIG, { modelFormat: { name: 'sklearn' }, runtime: 'kserve-sklearnserver', storageUri: 'pvc://models/iris', resources: { limits: { 'nvidia.com/mig-1g.10gb': '1', cpu: '1', memory: '4Gi' } } }, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } }),
  );
  const gpu = await waitReady(GPU);
  const mig = await waitReady(MIG);

  assert.equal(gpu.status!.deploymentMode, 'Serverless');
  assert.equal(gpu.status!.clusterServingRuntimeName, 'kserve-huggingfaceserver');
  assert.match(gpu.status!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const p = gpu.status!.components.predictor;
  assert.equal(p.latestCreatedRevision, `${GPU}-predictor-00001`);
  assert.equal(p.latestReadyRevision, `${GPU}-predictor-00001`);
  assert.equal(p.latestRolledoutRevision, `${GPU}-predictor-00001`);
  assert.deepEqual(p.traffic.map((t: any) => [t.revisionName, t.percent, t.latestRevision]), [[`${GPU}-predictor-00001`, 100, true]]);
  for (const type of ['PredictorReady', 'IngressReady', 'PredictorRouteReady', 'PredictorConfigurationReady']) assert.equal(cond(gpu, type)?.status, 'True', type);
  assert.equal(gpu.status!.modelStatus.transitionStatus, 'UpToDate');

  assert.equal(mig.status!.deploymentMode, 'RawDeployment');
  assert.equal(mig.status!.clusterServingRuntimeName, 'kserve-sklearnserver');
  assert.equal(mig.status!.components.predictor.traffic, undefined, 'no traffic in Raw mode');
  assert.equal(mig.status!.components.predictor.latestCreatedRevision, undefined, 'no revisions in Raw mode');

  const [gpuPod] = await predictorPods(GPU);
  assert.ok(gpuPod, 'GPU predictor pod');
  assert.equal(gpuPod.metadata.labels['serving.knative.dev/revision'], `${GPU}-predictor-00001`);
  assert.equal(gpuPod.metadata.labels.component, 'predictor');
  assert.equal(gpuPod.metadata.ownerReferences[0].kind, 'InferenceService');
  assert.ok(gpuPod.spec.volumes.some((v: any) => v.persistentVolumeClaim?.claimName === 'models'), 'pvc://models mounted');
  const [migPod] = await predictorPods(MIG);
  assert.ok(migPod, 'MIG predictor pod');
  await eventually('devices in fleet truth', () => heldBy(gpuPod.metadata.name).gpus === 1 && heldBy(migPod.metadata.name).mig.length === 1).catch((err: Error) => {
    throw new Error(`${err.message}: GPU pod on ${gpuPod.spec.nodeName} holds ${JSON.stringify(heldBy(gpuPod.metadata.name))}, MIG pod on ${migPod.spec.nodeName} holds ${JSON.stringify(heldBy(migPod.metadata.name))}`);
  });
  assert.deepEqual(heldBy(migPod.metadata.name).mig, ['1g.10gb']);
});

test('the data plane answers v1, v2 and OpenAI correctly and only in the protocols the runtime declares', async () => {
  const gpu = (await get(GPU)).status!.url as string;
  const mig = (await get(MIG)).status!.url as string;

  const v1 = await call(mig, `/v1/models/${MIG}:predict`, { instances: [[1, 2, 3], [0.5, 0.25]] });
  assert.equal(v1.status, 200);
  assert.deepEqual(v1.json, { predictions: [6, 0.75] });
  assert.equal(v1.revision, MIG, 'Raw mode answers as the ISVC');
  assert.deepEqual((await call(mig, `/v1/models/${MIG}`)).json, { name: MIG, ready: true });
  const v2 = await call(mig, `/v2/models/${MIG}/infer`, { id: '42', inputs: [{ name: 'input0', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] });
  assert.equal(v2.status, 200);
  assert.deepEqual(v2.json.outputs[0], { name: 'output0', datatype: 'FP32', shape: [2, 2], data: [2, 4, 6, 8] });
  assert.equal(v2.json.id, '42');
  assert.deepEqual((await call(mig, '/v2/health/ready')).json, { ready: true });
  assert.deepEqual((await call(mig, `/v2/models/${MIG}/ready`)).json, { name: MIG, ready: true });

  const wrong = await call(mig, '/v1/models/nope:predict', { instances: [[1]] });
  assert.equal(wrong.status, 404);
  assert.match(wrong.json.error, /nope/);
  const bad = await call(mig, `/v1/models/${MIG}:predict`, '{"instances": [');
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /malformed JSON/);
  assert.equal((await call(mig, '/openai/v1/models')).status, 404, 'sklearn has no OpenAI routes');

  // isvc-slow adds latency until isvc-clear.
  await assert.rejects(injectFault(info.stateDir, 'isvc-slow', [`${NS}/${MIG}`, 'soon']), /whole number/);
  await injectFault(info.stateDir, 'isvc-slow', [`${NS}/${MIG}`, '1000']);
  let t0 = performance.now();
  assert.equal((await call(mig, `/v2/models/${MIG}/ready`)).status, 200);
  assert.ok(performance.now() - t0 >= 1000, 'slowed down');
  await injectFault(info.stateDir, 'isvc-clear', [`${NS}/${MIG}`]);
  t0 = performance.now();
  await call(mig, `/v2/models/${MIG}/ready`);
  assert.ok(performance.now() - t0 < 700, 'fast again');

  const comp = await call(gpu, '/openai/v1/completions', { model: GPU, prompt: 'hello there' });
  assert.equal(comp.status, 200);
  assert.equal(comp.json.object, 'text_completion');
  assert.equal(comp.json.choices[0].text, 'echo: hello there');
  assert.equal(comp.json.choices[0].finish_reason, 'stop');
  assert.equal(comp.revision, `${GPU}-predictor-00001`);
  const chat = await call(gpu, '/openai/v1/chat/completions', { model: GPU, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'ping' }] });
  assert.equal(chat.json.choices[0].message.role, 'assistant');
  assert.equal(chat.json.choices[0].message.content, 'echo: ping');
  assert.equal((await call(gpu, '/openai/v1/completions', { model: 'other', prompt: 'x' })).status, 404);
  assert.deepEqual((await call(gpu, '/openai/v1/models')).json.data.map((m: { id: string }) => m.id), [GPU]);
  assert.deepEqual((await call(gpu, `/v1/models/${GPU}`)).json, { name: GPU, ready: true }, 'HF declares v1 too');

  // vLLM: OpenAI at /v1/..., nothing else.
  await admin.create(ISVCS, isvc(LLM, { modelFormat: { name: 'vLLM' }, storageUri: 'pvc://models/qwen', resources: { limits: { cpu: '2', memory: '8Gi' } } }));
  const llm = (await waitReady(LLM)).status!;
  assert.equal(llm.clusterServingRuntimeName, 'kserve-vllmserver');
  const models = await call(llm.url, '/v1/models');
  assert.equal(models.json.object, 'list');
  assert.equal(models.json.data[0].id, LLM);
  assert.equal((await call(llm.url, '/v1/completions', { model: LLM, prompt: 'abc' })).json.choices[0].text, 'echo: abc');
  assert.equal((await call(llm.url, `/v2/models/${LLM}/ready`)).status, 404, 'vLLM does not speak v2');
});

test('a format no runtime supports gives Ready False NoSupportingRuntime and no pods', async () => {
  await admin.create(ISVCS, isvc(BAD, { modelFormat: { name: 'caffe' }, storageUri: 'pvc://models/x' }));
  const o = await eventually('NoSupportingRuntime', async () => {
    const x = await get(BAD);
    return cond(x, 'Ready')?.reason === 'NoSupportingRuntime' && x;
  });
  assert.equal(cond(o, 'Ready')?.status, 'False');
  assert.equal(o.status!.modelStatus.lastFailureInfo.reason, 'NoSupportingRuntime');
  assert.equal((await predictorPods(BAD)).length, 0);
});

test('a 10% canary splits traffic ~10/90, promote moves all to it, a second canary rolls back to the previous one', async () => {
  const url = (await get(GPU)).status!.url as string;
  const rev = (n: number) => `${GPU}-predictor-0000${n}`;

  await patch(GPU, { spec: { predictor: { canaryTrafficPercent: 10, model: { storageUri: 'pvc://models/llama-3-8b-v2' } } } });
  const canary = await eventually('canary ready', async () => {
    const o = await get(GPU);
    return o.status?.components?.predictor?.latestReadyRevision === rev(2) && o.status.observedGeneration === o.metadata.generation && cond(o, 'Ready')?.status === 'True' && o;
  });
  const traffic = canary.status!.components.predictor.traffic;
  assert.deepEqual(
    traffic.map((t: any) => [t.tag, t.revisionName, t.percent, t.latestRevision]),
    [
      ['latest', rev(2), 10, true],
      ['prev', rev(1), 90, false],
    ],
  );
  assert.match(traffic[0].url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(traffic[0].url, traffic[1].url);
  assert.equal((await call(traffic[0].url, `/v1/models/${GPU}`)).revision, rev(2), 'revision URL reaches that revision');
  assert.equal((await predictorPods(GPU)).length, 2, 'pods of both revisions run');
  const counts = await split(url, GPU, 100);
  assert.ok((counts[rev(2)] ?? 0) >= 8 && (counts[rev(2)] ?? 0) <= 12, `~10 of 100 to the canary: ${JSON.stringify(counts)}`);
  assert.equal((counts[rev(1)] ?? 0) + (counts[rev(2)] ?? 0), 100);

  // Promote: remove canaryTrafficPercent.
  await patch(GPU, { spec: { predictor: { canaryTrafficPercent: null } } });
  const promoted = await eventually('promoted', async () => {
    const o = await get(GPU);
    const p = o.status?.components?.predictor;
    return p?.latestRolledoutRevision === rev(2) && p.traffic.length === 1 && o;
  });
  assert.equal(promoted.status!.components.predictor.previousRolledoutRevision, rev(1));
  assert.deepEqual(promoted.status!.components.predictor.traffic.map((t: any) => [t.revisionName, t.percent]), [[rev(2), 100]]);
  assert.deepEqual(await split(url, GPU, 20), { [rev(2)]: 20 });
  await eventually('old revision pods gone', async () => {
    const pods = await predictorPods(GPU);
    return pods.length === 1 && pods[0].metadata.labels['serving.knative.dev/revision'] === rev(2);
  });

  // Another canary, then roll back with canaryTrafficPercent: 0.
  await patch(GPU, { spec: { predictor: { canaryTrafficPercent: 20, model: { storageUri: 'pvc://models/llama-3-8b-v3' } } } });
  await eventually('second canary ready', async () => (await get(GPU)).status?.components?.predictor?.latestReadyRevision === rev(3));
  const c2 = await split(url, GPU, 50);
  assert.ok((c2[rev(3)] ?? 0) >= 8 && (c2[rev(3)] ?? 0) <= 12, `~20% to the second canary: ${JSON.stringify(c2)}`);
  await patch(GPU, { spec: { predictor: { canaryTrafficPercent: 0 } } });
  const rolledBack = await eventually('rolled back', async () => {
    const o = await get(GPU);
    const t = o.status?.components?.predictor?.traffic;
    return t?.find((x: any) => x.tag === 'prev')?.percent === 100 && o.status!.observedGeneration === o.metadata.generation && o;
  });
  assert.deepEqual(
    rolledBack.status!.components.predictor.traffic.map((t: any) => [t.tag, t.revisionName, t.percent]),
    [
      ['latest', rev(3), 0],
      ['prev', rev(2), 100],
    ],
  );
  assert.equal(rolledBack.status!.components.predictor.latestRolledoutRevision, rev(2));
  assert.deepEqual(await split(url, GPU, 20), { [rev(2)]: 20 });
  const revs = new Set((await predictorPods(GPU)).map((p) => p.metadata.labels['serving.knative.dev/revision']));
  assert.deepEqual([...revs].sort(), [rev(2), rev(3)], 'the rolled-back revision stays deployed at 0%');
});

test('isvc-fail: the next revision fails to load (ModelLoadFailed), traffic stays on the previous revision', async () => {
  const rev = (n: number) => `${LLM}-predictor-0000${n}`;
  await assert.rejects(injectFault(info.stateDir, 'isvc-fail', ['not-a-key']), /namespace\/name/);
  await injectFault(info.stateDir, 'isvc-fail', [`${NS}/${LLM}`, '--message', 'weights file is truncated']);
  await patch(LLM, { spec: { predictor: { canaryTrafficPercent: 10, model: { storageUri: 'pvc://models/qwen-broken' } } } });
  const failed = await eventually('ModelLoadFailed', async () => {
    const o = await get(LLM);
    return cond(o, 'Ready')?.reason === 'ModelLoadFailed' && o.status!.observedGeneration === o.metadata.generation && o;
  });
  assert.equal(cond(failed, 'Ready')?.status, 'False');
  assert.equal(cond(failed, 'PredictorReady')?.status, 'False');
  assert.equal(cond(failed, 'PredictorConfigurationReady')?.reason, 'ModelLoadFailed');
  assert.match(cond(failed, 'Ready')!.message!, /weights file is truncated/);
  const ms = failed.status!.modelStatus;
  assert.equal(ms.transitionStatus, 'BlockedByFailedLoad');
  assert.equal(ms.lastFailureInfo.reason, 'ModelLoadFailed');
  assert.match(ms.lastFailureInfo.message, /weights file is truncated/);
  const p = failed.status!.components.predictor;
  assert.equal(p.latestCreatedRevision, rev(2));
  assert.equal(p.latestReadyRevision, rev(1));
  const pod = (await predictorPods(LLM)).find((x) => x.metadata.labels['serving.knative.dev/revision'] === rev(2));
  assert.equal(pod?.status.containerStatuses[0].state.waiting?.reason, 'CrashLoopBackOff');
  for (let i = 0; i < 20; i++) assert.equal((await call(failed.status!.url, '/v1/models')).revision, rev(1));
  const rv = (await get(LLM)).metadata.resourceVersion;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await get(LLM)).metadata.resourceVersion, rv, 'a steady failure is not rewritten every tick');

  // Cleared, a new revision loads and the service is Ready again.
  await injectFault(info.stateDir, 'isvc-clear', [`${NS}/${LLM}`]);
  await patch(LLM, { spec: { predictor: { canaryTrafficPercent: null, model: { storageUri: 'pvc://models/qwen-fixed' } } } });
  const ok = await waitReady(LLM);
  assert.equal(ok.status!.components.predictor.latestRolledoutRevision, rev(3));
  assert.equal(ok.status!.modelStatus.lastFailureInfo, undefined);

  // A predictor pod that dies (pod-fail) fails its revision with RevisionFailed; nothing serves.
  const [pod3] = await predictorPods(LLM);
  await injectFault(info.stateDir, 'pod-fail', [`${NS}/${pod3.metadata.name}`, '--message', 'OOMKilled while warming up']);
  const dead = await eventually('RevisionFailed', async () => {
    const o = await get(LLM);
    return cond(o, 'Ready')?.reason === 'RevisionFailed' && o;
  });
  assert.match(cond(dead, 'Ready')!.message!, /OOMKilled while warming up/);
  assert.equal(dead.status!.modelStatus.lastFailureInfo.reason, 'RuntimeUnhealthy');
  assert.equal(dead.status!.modelStatus.lastFailureInfo.location, pod3.metadata.name);
  assert.equal((await call(dead.status!.url, '/v1/models')).status, 503);
});

test('Raw mode: a spec change replaces the pod only once the new one is ready; stop deletes the pods', async () => {
  const [before] = await predictorPods(MIG);
  const url = (await get(MIG)).status!.url as string;
  // The new pod takes 2 s to start (spec.predictor.annotations reach the pod): meanwhile the old one serves.
  await patch(MIG, { spec: { predictor: { annotations: { 'tessera.dev/sim-start-delay-ms': '2000' }, model: { storageUri: 'pvc://models/iris-v2' } } } });
  const surge = await eventually('new pod created beside the old', async () => {
    const pods = await predictorPods(MIG);
    return pods.length === 2 && pods;
  });
  const fresh = surge.find((p) => p.metadata.name !== before.metadata.name);
  assert.equal(fresh.metadata.annotations['tessera.dev/sim-start-delay-ms'], '2000');
  assert.notEqual(fresh.status.phase, 'Running');
  const during = await call(url, `/v1/models/${MIG}:predict`, { instances: [[2, 2]] });
  assert.equal(during.status, 200, 'the old pod keeps serving while the new one starts');
  assert.ok((await predictorPods(MIG)).some((p) => p.metadata.name === before.metadata.name), 'old pod still there');
  await eventually('new pod replaced the old', async () => {
    const pods = await predictorPods(MIG);
    return pods.length === 1 && pods[0].metadata.name !== before.metadata.name && pods[0].status.phase === 'Running';
  });
  assert.equal(cond(await waitReady(MIG), 'PredictorReady')?.status, 'True');

  await patch(MIG, { metadata: { annotations: { 'serving.kserve.io/stop': 'true' } } });
  const stopped = await eventually('stopped', async () => {
    const o = await get(MIG);
    return cond(o, 'Stopped')?.status === 'True' && (await predictorPods(MIG)).length === 0 && o;
  });
  assert.equal(cond(stopped, 'Ready')?.status, 'False');
  assert.equal((await call(stopped.status!.url, `/v1/models/${MIG}`)).status, 503);
  await patch(MIG, { metadata: { annotations: { 'serving.kserve.io/stop': null } } });
  await waitReady(MIG);

  // A restarted simulator serves every InferenceService on the same port.
  await restartProcess(info.stateDir, 'kserve', { graceMs: 2000, log: () => {} });
  const again = await eventually('answers after a simulator restart', async () => (await call(url, `/v1/models/${MIG}`)).status === 200, 20_000);
  assert.ok(again);
  assert.equal((await get(MIG)).status!.url, url);
});

test('deleting an ISVC deletes its pods, frees its devices and closes its port', async () => {
  const url = (await get(GPU)).status!.url as string;
  const pods = (await predictorPods(GPU)).map((p) => p.metadata.name as string);
  assert.ok(pods.length > 0);
  await admin.delete(`${ISVCS}/${GPU}`);
  await eventually('pods gone', async () => (await predictorPods(GPU)).length === 0, 20_000);
  await eventually('devices free', () => pods.every((p) => heldBy(p).gpus === 0));
  await eventually('port closed', async () => {
    try {
      await fetch(`${url}/v1/models`);
      return false;
    } catch {
      return true;
    }
  });
});
