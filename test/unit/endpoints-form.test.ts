// The Endpoints page's create form rules (renderer/features/endpoints/ep-draft.ts):
// draft → contract spec, the text fields it parses, and which runtimes it offers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointSpec } from '../../shared/contract/endpoints.ts';
import { validate } from '../../shared/contract/schema.ts';
import type { ServingRuntimeInfo } from '../../shared/model/endpoints.ts';
import { autoRuntime, compatibleRuntimes, draftSpec, EMPTY_DRAFT, formatsOffered, parseTolerations, POOL_LABEL, unreachableHint, type EpDraft } from '../../renderer/features/endpoints/ep-draft.ts';

const base: EpDraft = { clusterId: 'c1', ...EMPTY_DRAFT, name: 'iris', namespace: 'inference', modelFormat: 'sklearn', pvc: 'models', modelPath: '/iris/v1' };

function rt(name: string, formats: { name: string; autoSelect?: boolean; priority?: number }[], extra: Partial<ServingRuntimeInfo> = {}): ServingRuntimeInfo {
  return { name, kind: 'ClusterServingRuntime', formats: formats.map((f) => ({ autoSelect: false, ...f })), protocolVersions: ['v1', 'v2'], disabled: false, multiModel: false, protocols: ['v1'], ...extra };
}

test('a MIG choice becomes a MIG GPU spec pinned to its pool, with the pvc:// URI and replicas', () => {
  const { spec, problems } = draftSpec({ ...base, gpuChoice: 'mig:1g.10gb@NVIDIA-A100-SXM4-80GB', gpuCount: 2, minReplicas: '1', maxReplicas: '3', scaleTarget: '5', scaleMetric: 'concurrency', deploymentMode: 'Serverless' });
  assert.deepEqual(problems, []);
  assert.deepEqual(spec.gpu, { kind: 'mig', profile: '1g.10gb', count: 2 });
  assert.equal(spec.storageUri, 'pvc://models/iris/v1');
  assert.deepEqual(spec.nodeSelector, [{ key: POOL_LABEL, value: 'NVIDIA-A100-SXM4-80GB' }]);
  assert.equal(spec.minReplicas, 1);
  assert.equal(spec.maxReplicas, 3);
  assert.equal(spec.scaleTarget, 5);
  assert.equal(spec.deploymentMode, 'Serverless');
  assert.equal(spec.runtime, undefined, 'no runtime named: KServe auto-selects');
  // What the form makes passes the contract's own validator.
  assert.deepEqual(validate(endpointSpec, spec), { ok: true, value: spec });
});

test('a full GPU keeps an expert pool choice; tolerations and node selector lines parse', () => {
  const { spec, problems } = draftSpec({ ...base, gpuChoice: 'full:NVIDIA-H100-80GB-HBM3', nodeSelector: `${POOL_LABEL}=NVIDIA-A100\nzone=a`, tolerations: 'nvidia.com/gpu:NoSchedule\ndedicated=inference:NoExecute\nspot' });
  assert.deepEqual(problems, []);
  assert.deepEqual(spec.gpu, { kind: 'full', count: 1 });
  assert.deepEqual(spec.nodeSelector, [
    { key: POOL_LABEL, value: 'NVIDIA-A100' },
    { key: 'zone', value: 'a' },
  ]);
  assert.deepEqual(spec.tolerations, [
    { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'dedicated', operator: 'Equal', value: 'inference', effect: 'NoExecute' },
    { key: 'spot', operator: 'Exists' },
  ]);
  assert.deepEqual(validate(endpointSpec, spec), { ok: true, value: spec });
});

test('bad lines and numbers are named, and the form says what is missing', () => {
  assert.match(parseTolerations('gpu:Sometimes').problems[0]!, /effect must be one of NoSchedule, PreferNoSchedule, NoExecute/);
  const { problems } = draftSpec({ ...base, name: '', modelFormat: '', pvc: '', nodeSelector: 'novalue', minReplicas: '3', maxReplicas: '2', scaleTarget: 'ten' });
  assert.ok(problems.includes('node selector "novalue" must read key=value'));
  assert.ok(problems.includes('max replicas (2) is below min replicas (3)'));
  assert.ok(problems.includes('scale target must be a whole number'));
  assert.ok(problems.includes('the endpoint needs a name'));
  assert.ok(problems.includes('pick a model format'));
  assert.ok(problems.includes('pick the PVC that holds the model'));
  assert.ok(draftSpec({ ...base, minReplicas: '0', deploymentMode: 'RawDeployment' }).problems.includes('min replicas 0 (scale to zero) needs Serverless mode'));
});

test('public hubs are flagged as unreachable from an air-gapped site; pvc:// and in-site stores are not', () => {
  assert.match(unreachableHint('hf://meta-llama/Llama-3-8B')!, /air-gapped/);
  assert.match(unreachableHint('https://huggingface.co/x/y')!, /air-gapped/);
  assert.equal(unreachableHint('pvc://models/iris'), undefined);
  assert.equal(unreachableHint('s3://models.site.local/iris'), undefined);
  assert.equal(draftSpec({ ...base, storage: 'uri', uri: ' s3://models.site.local/iris ' }).spec.storageUri, 's3://models.site.local/iris');
});

test('only compatible, enabled runtimes are offered; auto-select follows autoSelect and priority', () => {
  const runtimes = [
    rt('kserve-sklearnserver', [{ name: 'sklearn', autoSelect: true, priority: 1 }]),
    rt('sklearn-fast', [{ name: 'sklearn', autoSelect: true, priority: 2 }]),
    rt('kserve-tritonserver', [{ name: 'triton', autoSelect: true }, { name: 'onnx' }]),
    rt('old-sklearn', [{ name: 'sklearn', autoSelect: true, priority: 9 }], { disabled: true }),
    rt('team-sklearn', [{ name: 'sklearn', autoSelect: true, priority: 1 }], { kind: 'ServingRuntime', namespace: 'team-a' }),
    rt('kserve-vllmserver', [{ name: 'vLLM', autoSelect: true }]),
  ];
  assert.deepEqual(
    compatibleRuntimes(runtimes, 'sklearn', 'inference').map((r) => r.name),
    ['kserve-sklearnserver', 'sklearn-fast'],
  );
  assert.deepEqual(
    compatibleRuntimes(runtimes, 'sklearn', 'team-a').map((r) => r.name),
    ['kserve-sklearnserver', 'sklearn-fast', 'team-sklearn'],
  );
  assert.equal(autoRuntime(runtimes, 'sklearn', 'inference')?.name, 'sklearn-fast', 'higher priority wins among cluster runtimes');
  assert.equal(autoRuntime(runtimes, 'sklearn', 'team-a')?.name, 'team-sklearn', 'a namespaced runtime comes before cluster-wide ones');
  assert.equal(autoRuntime(runtimes, 'onnx', 'inference'), undefined, 'onnx is supported but not autoSelect');
  assert.deepEqual(compatibleRuntimes(runtimes, 'vllm', 'inference').map((r) => r.name), ['kserve-vllmserver']);
  assert.deepEqual(formatsOffered(runtimes, 'inference'), ['onnx', 'sklearn', 'triton', 'vLLM']);
});
