// Readiness, traffic and revisions projected from InferenceService status
// (Serverless and RawDeployment), runtime protocols, and load-test arithmetic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModeFrom, openaiPrefixOf, projectRuntime } from '../../electron/core/endpoints/endpoint-discovery.ts';
import { probesFor, requestFor, resolveTarget } from '../../electron/core/endpoints/endpoint-dataplane.ts';
import { endpointObject } from '../../electron/core/endpoints/endpoint-objects.ts';
import { autoSelectRuntime, projectEndpoint, projectPod, revisionsOf } from '../../electron/core/endpoints/endpoint-status.ts';
import { errorKind, percentile, summarizeLoad } from '../../electron/core/endpoints/load-stats.ts';
import type { ServingRuntimeInfo } from '../../shared/model/endpoints.ts';

const sklearn = projectRuntime({ metadata: { name: 'kserve-sklearnserver' }, spec: { supportedModelFormats: [{ name: 'sklearn', version: '1', autoSelect: true, priority: 1 }], protocolVersions: ['v1', 'v2'], containers: [{ name: 'kserve-container' }] } }, 'ClusterServingRuntime');
const hf = projectRuntime({ metadata: { name: 'kserve-huggingfaceserver' }, spec: { supportedModelFormats: [{ name: 'huggingface', autoSelect: true }], protocolVersions: ['v2', 'v1'], containers: [{ name: 'kserve-container' }] } }, 'ClusterServingRuntime');
const vllm = projectRuntime({ metadata: { name: 'kserve-vllmserver' }, spec: { supportedModelFormats: [{ name: 'vLLM', autoSelect: true }], containers: [{ name: 'kserve-container', command: ['python', '-m', 'vllm.entrypoints.openai.api_server'] }] } }, 'ClusterServingRuntime');
const runtimes: ServingRuntimeInfo[] = [sklearn, hf, vllm];

const base = endpointObject({ name: 'iris', namespace: 'inference', modelFormat: 'sklearn', storageUri: 'pvc://models/iris', gpu: { kind: 'full', count: 1 }, deploymentMode: 'Serverless' });
const NOW = Date.parse('2026-01-01T01:00:00Z');
const withStatus = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...base, ...extra, metadata: { ...base.metadata, generation: 2, creationTimestamp: '2026-01-01T00:00:00Z' }, status: { observedGeneration: 2, ...status } });
const cond = (type: string, status: string, reason?: string, message?: string) => ({ type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
const pod = (name: string, rev: string | undefined, ready: boolean, res: Record<string, string> = { 'nvidia.com/gpu': '1' }) => ({
  metadata: { name, namespace: 'inference', uid: name, labels: { 'serving.kserve.io/inferenceservice': 'iris', ...(rev ? { 'serving.knative.dev/revision': rev } : {}) } },
  spec: { nodeName: 'gpu-1', containers: [{ name: 'kserve-container', resources: { limits: res } }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

test('runtimes: protocols and OpenAI prefixes per runtime; auto-select by format and priority', () => {
  assert.deepEqual(sklearn.protocols, ['v1', 'v2']);
  assert.deepEqual(hf.protocols, ['v1', 'v2', 'openai-completions', 'openai-chat']);
  assert.equal(hf.openaiPrefix, '/openai/v1');
  assert.deepEqual(vllm.protocols, ['openai-completions', 'openai-chat']);
  assert.equal(vllm.openaiPrefix, '/v1');
  assert.equal(openaiPrefixOf({ spec: { supportedModelFormats: [{ name: 'huggingface' }], containers: [{ name: 'kserve-container', env: [{ name: 'KSERVE_OPENAI_ROUTE_PREFIX', value: '' }] }] } }), '/v1');
  const low = { ...sklearn, name: 'low', formats: [{ name: 'sklearn', autoSelect: true, priority: 1 }] };
  const high = { ...sklearn, name: 'high', formats: [{ name: 'sklearn', autoSelect: true, priority: 2 }] };
  assert.equal(autoSelectRuntime([low, high], 'sklearn', 'ns')?.name, 'high');
  assert.equal(autoSelectRuntime([low, { ...high, disabled: true }], 'sklearn', 'ns')?.name, 'low');
  assert.equal(autoSelectRuntime([low], 'SKLearn', 'ns', 'v2')?.name, 'low');
  assert.equal(autoSelectRuntime(runtimes, 'onnx', 'ns'), undefined);
  assert.equal(defaultModeFrom({ data: { deploy: '{"defaultDeploymentMode":"Knative"}' } }), 'Serverless');
  assert.equal(defaultModeFrom({ data: { deploy: '{"defaultDeploymentMode":"Standard"}' } }), 'RawDeployment');
  assert.equal(defaultModeFrom({ data: { deploy: 'not json' } }), undefined);
});

test('Serverless, first rollout: Ready, 100% to the latest revision, GPUs held by its pod', () => {
  const obj = withStatus({
    url: 'http://127.0.0.1:9001',
    conditions: [cond('IngressReady', 'True'), cond('PredictorReady', 'True'), cond('Ready', 'True')],
    components: { predictor: { latestCreatedRevision: 'iris-predictor-00001', latestReadyRevision: 'iris-predictor-00001', latestRolledoutRevision: 'iris-predictor-00001', traffic: [{ revisionName: 'iris-predictor-00001', percent: 100, latestRevision: true, tag: 'latest', url: 'http://127.0.0.1:9002' }] } },
  });
  const e = projectEndpoint({ clusterId: 'c/x', obj, pods: [pod('p1', 'iris-predictor-00001', true)], now: NOW, runtimes });
  assert.equal(e.state, 'ready');
  assert.equal(e.ready, 'True');
  assert.equal(e.url, 'http://127.0.0.1:9001');
  assert.equal(e.mode, 'Serverless');
  assert.equal(e.runtime, 'kserve-sklearnserver', 'auto-selected runtime shown');
  assert.deepEqual(e.protocols, ['v1', 'v2']);
  assert.deepEqual(e.traffic, [{ revision: 'iris-predictor-00001', percent: 100, latest: true, tag: 'latest', url: 'http://127.0.0.1:9002' }]);
  assert.deepEqual(e.gpusHeld, [{ resource: 'nvidia.com/gpu', count: 1 }]);
  assert.deepEqual(e.replicas, { ready: 1, total: 1 });
  assert.equal(e.ageSeconds, 3600);
  assert.equal(e.upToDate, true);
});

test('Serverless canary: split traffic, both revisions side by side; a failed canary names its reason', () => {
  const pred = {
    latestCreatedRevision: 'iris-predictor-00002',
    latestReadyRevision: 'iris-predictor-00002',
    latestRolledoutRevision: 'iris-predictor-00001',
    traffic: [
      { revisionName: 'iris-predictor-00002', percent: 10, latestRevision: true, tag: 'latest' },
      { revisionName: 'iris-predictor-00001', percent: 90, latestRevision: false, tag: 'prev' },
    ],
  };
  const obj = withStatus({ conditions: [cond('PredictorReady', 'True'), cond('Ready', 'True')], components: { predictor: pred } }, { spec: { predictor: { ...base.spec.predictor, canaryTrafficPercent: 10 } } });
  const pods = [pod('a', 'iris-predictor-00001', true), pod('b', 'iris-predictor-00002', true, { 'nvidia.com/mig-1g.10gb': '1' })].map(projectPod);
  pods[0]!.gpuUtilPct = 40;
  const e = projectEndpoint({ clusterId: 'c/x', obj, pods: [], now: NOW, runtimes });
  assert.equal(e.state, 'canary');
  assert.equal(e.canaryTrafficPercent, 10);
  const revs = revisionsOf(e, pods);
  assert.deepEqual(revs.map((r) => [r.name, r.percent, r.ready, r.tag, r.pods, r.gpuUtilPct]), [
    ['iris-predictor-00002', 10, 'True', 'latest', 1, undefined],
    ['iris-predictor-00001', 90, 'True', 'prev', 1, 40],
  ]);
  // The new revision fails to load: traffic stays on the old one, Ready stays True, the reason is shown.
  const failedPred = { ...pred, latestReadyRevision: 'iris-predictor-00001', traffic: [{ revisionName: 'iris-predictor-00001', percent: 100, latestRevision: false, tag: 'prev' }] };
  const failed = withStatus(
    { conditions: [cond('PredictorReady', 'False', 'ModelLoadFailed', 'model at pvc://models/bad did not load'), cond('Ready', 'True')], components: { predictor: failedPred }, modelStatus: { lastFailureInfo: { reason: 'ModelLoadFailed', message: 'model at pvc://models/bad did not load' } } },
    { spec: { predictor: { ...base.spec.predictor, canaryTrafficPercent: 10 } } },
  );
  const f = projectEndpoint({ clusterId: 'c/x', obj: failed, pods: [], now: NOW, runtimes });
  assert.equal(f.state, 'canary');
  assert.equal(f.reason, 'ModelLoadFailed');
  const fr = revisionsOf(f, [], { reason: 'ModelLoadFailed', message: 'x' });
  assert.equal(fr.find((r) => r.name === 'iris-predictor-00002')?.ready, 'False');
  assert.equal(fr.find((r) => r.name === 'iris-predictor-00002')?.reason, 'ModelLoadFailed');
});

test('failed, progressing and stopped; generation not yet observed is not ready', () => {
  const failed = withStatus({ conditions: [cond('PredictorReady', 'False', 'ModelLoadFailed', 'no model'), cond('Ready', 'False', 'ModelLoadFailed')] });
  const f = projectEndpoint({ clusterId: 'c/x', obj: failed, pods: [], now: NOW, runtimes });
  assert.deepEqual([f.state, f.reason, f.message], ['failed', 'ModelLoadFailed', 'no model']);
  const coming = withStatus({ conditions: [cond('PredictorReady', 'Unknown', 'RevisionMissing'), cond('Ready', 'Unknown')] });
  assert.deepEqual([projectEndpoint({ clusterId: 'c/x', obj: coming, pods: [], now: NOW, runtimes }).state, projectEndpoint({ clusterId: 'c/x', obj: coming, pods: [], now: NOW, runtimes }).reason], ['progressing', 'RevisionMissing']);
  const stale = { ...withStatus({ conditions: [cond('Ready', 'True')] }), status: { observedGeneration: 1, conditions: [cond('Ready', 'True')] } };
  const s = projectEndpoint({ clusterId: 'c/x', obj: stale, pods: [], now: NOW, runtimes });
  assert.equal(s.upToDate, false);
  assert.equal(s.state, 'progressing');
  const stopped = withStatus({ conditions: [cond('Stopped', 'True', 'Stopped'), cond('Ready', 'False')] });
  assert.equal(projectEndpoint({ clusterId: 'c/x', obj: stopped, pods: [], now: NOW, runtimes }).state, 'stopped');
  const none = { ...base, metadata: { ...base.metadata } };
  assert.equal(projectEndpoint({ clusterId: 'c/x', obj: none, pods: [], now: NOW, runtimes }).reason, 'Pending');
});

test('RawDeployment: no traffic or revisions even if status carries some; replicas from pods', () => {
  const raw = endpointObject({ name: 'iris', namespace: 'inference', modelFormat: 'sklearn', storageUri: 'pvc://models/iris', gpu: { kind: 'mig', profile: '1g.10gb', count: 1 }, deploymentMode: 'RawDeployment', minReplicas: 2 });
  const obj = { ...raw, status: { url: 'http://127.0.0.1:9005', conditions: [cond('Ready', 'True')], components: { predictor: { traffic: [{ revisionName: 'x', percent: 100 }] } } } };
  const terminating = { ...pod('old', undefined, true), metadata: { ...pod('old', undefined, true).metadata, deletionTimestamp: 't' } };
  const e = projectEndpoint({ clusterId: 'c/x', obj, pods: [pod('a', undefined, true, { 'nvidia.com/mig-1g.10gb': '1' }), pod('b', undefined, false, { 'nvidia.com/mig-1g.10gb': '1' }), terminating], now: NOW, runtimes });
  assert.equal(e.mode, 'RawDeployment');
  assert.deepEqual(e.traffic, []);
  assert.deepEqual(revisionsOf(e, []), []);
  assert.deepEqual(e.replicas, { ready: 1, total: 2, min: 2 });
  assert.deepEqual(e.gpusHeld, [{ resource: 'nvidia.com/mig-1g.10gb', count: 2 }]);
  assert.equal(e.gpuLabel, '1× 1g.10gb');
  // The cluster default applies when the annotation is absent.
  const plain = { ...raw, metadata: { name: 'iris', namespace: 'inference' } };
  assert.equal(projectEndpoint({ clusterId: 'c/x', obj: plain, pods: [], now: NOW, runtimes, defaultMode: 'Serverless' }).mode, 'Serverless');
});

test('data plane: paths per protocol, only the object\'s own URLs, bodies must be JSON objects', () => {
  assert.equal(requestFor('v1', 'iris', undefined).path, '/v1/models/iris:predict');
  assert.deepEqual(JSON.parse(requestFor('v1', 'iris', undefined).body), { instances: [[1, 2], [3, 4]] });
  assert.equal(requestFor('v2', 'iris', undefined).path, '/v2/models/iris/infer');
  assert.equal(requestFor('openai-chat', 'llm', '/v1').path, '/v1/chat/completions');
  assert.equal(requestFor('openai-completions', 'llm', '/openai/v1').path, '/openai/v1/completions');
  assert.throws(() => requestFor('v1', 'iris', undefined, '{nope'), /not JSON/);
  assert.throws(() => requestFor('v1', 'iris', undefined, '[1]'), /JSON object/);
  assert.deepEqual(probesFor(['v1', 'v2', 'openai-chat'], 'm', '/openai/v1').map((p) => p.path), ['/v1/models/m', '/v2/health/ready', '/v2/models/m/ready', '/openai/v1/models']);
  const obj = { metadata: { namespace: 'n', name: 'm' }, status: { url: 'http://127.0.0.1:9001/', components: { predictor: { traffic: [{ revisionName: 'm-predictor-00001', tag: 'prev', url: 'http://127.0.0.1:9003' }, { revisionName: 'm-predictor-00002', tag: 'latest' }] } } } };
  assert.equal(resolveTarget(obj).baseUrl, 'http://127.0.0.1:9001');
  assert.equal(resolveTarget(obj, 'prev').baseUrl, 'http://127.0.0.1:9003');
  assert.equal(resolveTarget(obj, 'm-predictor-00001').baseUrl, 'http://127.0.0.1:9003');
  assert.throws(() => resolveTarget(obj, 'latest'), /enable-tag-routing/);
  assert.throws(() => resolveTarget(obj, 'nope'), /no traffic target "nope"/);
  assert.throws(() => resolveTarget({ metadata: { namespace: 'n', name: 'm' }, status: {} }), /no URL yet/);
  assert.throws(() => resolveTarget({ metadata: { namespace: 'n', name: 'm' }, status: { url: 'file:///etc/passwd' } }), /not http/);
});

test('percentiles (nearest rank) and the load summary', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 95), 95);
  assert.equal(percentile(v, 99), 99);
  assert.equal(percentile(v, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), 0);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  const samples = [
    ...Array.from({ length: 90 }, (_, i) => ({ latencyMs: 10 + i, status: 200, revision: 'r1' })),
    ...Array.from({ length: 8 }, () => ({ latencyMs: 5, status: 200, revision: 'r2' })),
    { latencyMs: 1, status: 503, error: 'HTTP 503' },
    { latencyMs: 2, error: 'connection refused' },
  ];
  const r = summarizeLoad('v1', 100, 4, samples, 2000);
  assert.equal(r.completed, 100);
  assert.equal(r.succeeded, 98);
  assert.deepEqual(r.errors, [{ kind: 'HTTP 503', count: 1 }, { kind: 'connection refused', count: 1 }].sort((a, b) => a.kind.localeCompare(b.kind)));
  assert.equal(r.latencyMs.min, 5, 'failed requests do not count towards latency');
  assert.equal(r.latencyMs.max, 99);
  assert.deepEqual(r.perRevision.map((p) => [p.revision, p.count]), [['r1', 90], ['r2', 8]]);
  assert.equal(r.perRevision[1]!.percent, 8.16);
  assert.equal(r.requestsPerSecond, 50);
  assert.equal(errorKind({ code: 'ECONNREFUSED' }), 'connection refused');
  assert.equal(errorKind({ name: 'TimeoutError' }), 'timeout');
});
