// The pure parts of endpoints: form spec → InferenceService, the spec read
// back, canary/update changes, and the checks expert YAML must pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { applyChange, changeAlters, cleanForApply, endpointObject, gpuFromFlat, mergeSpec, normalizeMode, objectProblems, parseEndpointYaml, specOfObject, specProblems, toYaml, withoutCanary } from '../../electron/core/endpoints/endpoint-objects.ts';
import { modeProblems, runtimeProblems } from '../../electron/core/endpoints/endpoint-checks.ts';
import { projectRuntime } from '../../electron/core/endpoints/endpoint-discovery.ts';
import type { EndpointSpec } from '../../shared/model/endpoints.ts';
import { endpointSpec } from '../../shared/contract/endpoints.ts';
import { validate } from '../../shared/contract/schema.ts';

const spec: EndpointSpec = {
  name: 'iris',
  namespace: 'inference',
  modelFormat: 'sklearn',
  runtime: 'kserve-sklearnserver',
  storageUri: 'pvc://models/iris',
  protocolVersion: 'v2',
  gpu: { kind: 'mig', profile: '1g.10gb', count: 1 },
  cpu: '1',
  memory: '2Gi',
  minReplicas: 1,
  maxReplicas: 3,
  scaleTarget: 10,
  scaleMetric: 'concurrency',
  deploymentMode: 'Serverless',
  serviceAccountName: 'models-reader',
  nodeSelector: [{ key: 'nvidia.com/gpu.product', value: 'NVIDIA-A100-SXM4-80GB' }],
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
};

test('form spec → InferenceService: model block, GPU as requests = limits, predictor fields, mode annotation', () => {
  const o = endpointObject(spec);
  assert.equal(o.apiVersion, 'serving.kserve.io/v1beta1');
  assert.equal(o.kind, 'InferenceService');
  assert.deepEqual(o.metadata.annotations, { 'serving.kserve.io/deploymentMode': 'Serverless' });
  const p = o.spec.predictor;
  assert.deepEqual(p.model, {
    modelFormat: { name: 'sklearn' },
    runtime: 'kserve-sklearnserver',
    storageUri: 'pvc://models/iris',
    protocolVersion: 'v2',
    resources: { requests: { cpu: '1', memory: '2Gi', 'nvidia.com/mig-1g.10gb': '1' }, limits: { cpu: '1', memory: '2Gi', 'nvidia.com/mig-1g.10gb': '1' } },
  });
  assert.equal(p.minReplicas, 1);
  assert.equal(p.maxReplicas, 3);
  assert.equal(p.scaleTarget, 10);
  assert.equal(p.scaleMetric, 'concurrency');
  assert.equal(p.serviceAccountName, 'models-reader');
  assert.deepEqual(p.nodeSelector, { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' });
  assert.deepEqual(p.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  assert.equal(p.canaryTrafficPercent, undefined);
  const full = endpointObject({ ...spec, gpu: { kind: 'full', count: 2 }, deploymentMode: undefined });
  assert.equal(full.spec.predictor.model.resources.limits['nvidia.com/gpu'], '2');
  assert.equal(full.metadata.annotations, undefined, 'no mode: the cluster default applies');
  assert.deepEqual(objectProblems(o), []);
});

test('spec read back from the object it made, and from a framework-block object', () => {
  assert.deepEqual(specOfObject(endpointObject(spec)), spec);
  const legacy = { metadata: { name: 'flowers', namespace: 'ns', annotations: { 'serving.kserve.io/deploymentMode': 'Knative' } }, spec: { predictor: { canaryTrafficPercent: 20, tensorflow: { storageUri: 'gs://b/flowers', resources: { limits: { 'nvidia.com/gpu': '1' } } } } } };
  const s = specOfObject(legacy);
  assert.equal(s.modelFormat, 'tensorflow');
  assert.equal(s.storageUri, 'gs://b/flowers');
  assert.deepEqual(s.gpu, { kind: 'full', count: 1 });
  assert.equal(s.deploymentMode, 'Serverless', 'Knative is the new name of Serverless');
});

test('modes: old and new spellings', () => {
  assert.equal(normalizeMode('Knative'), 'Serverless');
  assert.equal(normalizeMode('serverless'), 'Serverless');
  assert.equal(normalizeMode('Standard'), 'RawDeployment');
  assert.equal(normalizeMode('RawDeployment'), 'RawDeployment');
  assert.equal(normalizeMode('ModelMesh'), 'ModelMesh');
  assert.equal(normalizeMode('Bogus'), undefined);
});

test('flat GPU from the contract: contradictions are named', () => {
  assert.deepEqual(gpuFromFlat({ kind: 'full', count: 1 }).gpu, { kind: 'full', count: 1 });
  assert.deepEqual(gpuFromFlat({ kind: 'mig', profile: '3g.40gb' }).gpu, { kind: 'mig', profile: '3g.40gb', count: 1 });
  assert.match(gpuFromFlat({ kind: 'none', count: 1 }).problem ?? '', /takes no count/);
  assert.match(gpuFromFlat({ kind: 'full' }).problem ?? '', /needs a count/);
  assert.match(gpuFromFlat({ kind: 'mig', profile: 'big' }).problem ?? '', /MIG profile/);
});

test('spec problems: cross-field rules in words', () => {
  assert.deepEqual(specProblems(spec), []);
  const p = specProblems({ ...spec, minReplicas: 0, maxReplicas: 0, deploymentMode: 'RawDeployment', cpu: '0', storageUri: 'pvc://Bad_Claim/x', nodeSelector: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] });
  assert.ok(p.some((x) => /scale to zero/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /scaleMetric concurrency/.test(x)));
  assert.ok(p.some((x) => /cpu: "0"/.test(x)));
  assert.ok(p.some((x) => /must name a PVC/.test(x)));
  assert.ok(p.some((x) => /a is set twice/.test(x)));
  assert.ok(specProblems({ ...spec, minReplicas: 3, maxReplicas: 2 }).some((x) => /below minReplicas/.test(x)));
});

test('contract schema: rejects a bare path as storage URI, bad names and unknown fields', () => {
  const flat = { ...spec, gpu: { kind: 'mig', profile: '1g.10gb', count: 1 } };
  assert.equal(validate(endpointSpec, flat).ok, true);
  const bad = validate(endpointSpec, { ...flat, name: 'Iris_1', storageUri: 'models/iris', extra: 1 });
  assert.equal(bad.ok, false);
  const paths = bad.ok ? [] : bad.issues.map((i) => i.path);
  assert.deepEqual(paths.sort(), ['extra', 'name', 'storageUri']);
});

test('a change: model fields and resources change, everything else stays; canary detection', () => {
  const o = { ...endpointObject(spec), status: { url: 'x' } } as Record<string, any>;
  o.spec.predictor.model.env = [{ name: 'A', value: '1' }];
  const c = applyChange(o, { storageUri: 'pvc://models/iris-v2', gpu: { kind: 'full', count: 1 } });
  assert.equal(c.spec.predictor.model.storageUri, 'pvc://models/iris-v2');
  assert.deepEqual(c.spec.predictor.model.resources.limits, { cpu: '1', memory: '2Gi', 'nvidia.com/gpu': '1' }, 'the MIG resource is replaced, not added to');
  assert.deepEqual(c.spec.predictor.model.env, [{ name: 'A', value: '1' }]);
  assert.equal(o.spec.predictor.model.storageUri, 'pvc://models/iris', 'the input is not mutated');
  assert.equal(changeAlters(o, { storageUri: 'pvc://models/iris' }), false);
  assert.equal(changeAlters(o, { storageUri: 'pvc://models/iris-v2' }), true);
  const legacy = { spec: { predictor: { sklearn: { storageUri: 'gs://a' } } } };
  assert.equal(applyChange(legacy, { storageUri: 'gs://b' }).spec.predictor.sklearn.storageUri, 'gs://b');
  assert.throws(() => applyChange(legacy, { modelFormat: 'onnx' }), /framework block/);
});

test('expert YAML: round trip, and every refusal names its reason', () => {
  const o = endpointObject(spec);
  const ok = parseEndpointYaml(toYaml(o), { namespace: 'inference', name: 'iris' });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.object, o);
  const one = (text: string, expect = {}) => parseEndpointYaml(text, expect).problems.join(' | ');
  assert.match(one('a: [1'), /does not parse/);
  assert.match(one(''), /empty/);
  assert.match(one(`${toYaml(o)}\n---\n${toYaml(o)}`), /2 documents/);
  assert.match(one('- 1\n- 2'), /must be a mapping/);
  assert.match(one(toYaml({ ...o, kind: 'Deployment' })), /kind must be InferenceService/);
  assert.match(one(toYaml({ ...o, apiVersion: 'serving.kserve.io/v1alpha1' })), /apiVersion must be serving.kserve.io\/v1beta1/);
  assert.match(one(toYaml(o), { namespace: 'team-a' }), /metadata.namespace is inference, but this endpoint is in team-a/);
  assert.match(one(toYaml({ ...o, metadata: { name: 'iris' } })), /metadata.namespace null must be set/);
  assert.match(one(toYaml({ ...o, spec: {} })), /spec.predictor is missing/);
  assert.match(one(toYaml({ ...o, spec: { predictor: { minReplicas: 1 } } })), /names no model/);
  assert.match(one(toYaml({ ...o, spec: { predictor: { model: { storageUri: 'pvc://m/x' } } } })), /modelFormat.name is missing/);
  assert.match(one(toYaml({ ...o, spec: { predictor: { ...o.spec.predictor, sklearn: {} } } })), /exactly one model block/);
  assert.match(one(toYaml({ ...o, spec: { predictor: { ...o.spec.predictor, canaryTrafficPercent: 150 } } })), /canaryTrafficPercent/);
  // An alias bomb: small text, a huge tree once expanded.
  let bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 8; i++) bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]\n`;
  assert.match(one(bomb), /too large/);
  // Tags that would build non-JSON values are not honoured (core schema: plain data only).
  assert.match(one('!!js/function "function(){}"'), /does not parse/);
});

test('clean for apply: no status or server-set metadata; YAML has no managedFields', () => {
  const o = { ...endpointObject(spec), status: { url: 'u' }, metadata: { ...endpointObject(spec).metadata, uid: 'u1', resourceVersion: '5', generation: 2, managedFields: [{}], creationTimestamp: 't' } };
  const c = cleanForApply(o);
  assert.equal(c.status, undefined);
  assert.deepEqual(Object.keys(c.metadata).sort(), ['annotations', 'labels', 'name', 'namespace']);
  assert.equal(cleanForApply(o, true).metadata.resourceVersion, '5');
  assert.doesNotMatch(toYaml(o), /managedFields/);
  assert.equal((yaml.load(toYaml(c)) as Record<string, any>).spec.predictor.model.storageUri, 'pvc://models/iris');
});

test('a form edit over an existing object: form fields replaced, the rest (env, args, transformer, annotations) kept', () => {
  const current = structuredClone(endpointObject(spec)) as Record<string, any>;
  current.metadata.annotations['team'] = 'vision';
  current.spec.predictor.model.env = [{ name: 'HF_HUB_OFFLINE', value: '1' }];
  current.spec.predictor.model.resources.limits['ephemeral-storage'] = '1Gi';
  current.spec.predictor.containerConcurrency = 4;
  current.spec.predictor.canaryTrafficPercent = 10;
  current.spec.transformer = { containers: [{ name: 't', image: 'x' }] };
  const next = mergeSpec(current, { ...spec, storageUri: 'pvc://models/iris-v2', gpu: { kind: 'full', count: 1 }, nodeSelector: undefined, tolerations: undefined, maxReplicas: 5 });
  const p = next.spec.predictor;
  assert.equal(p.model.storageUri, 'pvc://models/iris-v2');
  assert.deepEqual(p.model.env, [{ name: 'HF_HUB_OFFLINE', value: '1' }]);
  assert.deepEqual(p.model.resources.limits, { 'ephemeral-storage': '1Gi', cpu: '1', memory: '2Gi', 'nvidia.com/gpu': '1' });
  assert.equal(p.nodeSelector, undefined, 'cleared in the form, cleared in the object');
  assert.equal(p.maxReplicas, 5);
  assert.equal(p.containerConcurrency, 4);
  assert.equal(next.metadata.annotations.team, 'vision');
  assert.deepEqual(next.spec.transformer, current.spec.transformer);
  assert.equal(withoutCanary(next).spec.predictor.canaryTrafficPercent, undefined);
  assert.equal(current.spec.predictor.model.storageUri, 'pvc://models/iris', 'the input is not mutated');
  assert.throws(() => mergeSpec(current, { ...spec, name: 'other' }), /the spec is for inference\/other/);
});

test('whole GPUs keep off single-strategy MIG nodes unless a product is chosen; a user affinity is never replaced', () => {
  const whole = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.slices.gi', operator: 'DoesNotExist' }] }] } } };
  const full = { ...spec, gpu: { kind: 'full' as const, count: 1 }, nodeSelector: undefined };
  assert.deepEqual(endpointObject(full).spec.predictor.affinity, whole);
  assert.equal(endpointObject(spec).spec.predictor.affinity, undefined, 'a MIG slice needs no such rule');
  assert.equal(endpointObject({ ...full, nodeSelector: [{ key: 'nvidia.com/gpu.product', value: 'NVIDIA-A100-80GB-PCIe-MIG-1g.10gb' }] }).spec.predictor.affinity, undefined, 'the product was chosen');
  const current = endpointObject(full);
  assert.equal(mergeSpec(current, spec).spec.predictor.affinity, undefined, 'full → MIG drops the rule Tessera added');
  const own = structuredClone(endpointObject(spec)) as Record<string, any>;
  own.spec.predictor.affinity = { podAntiAffinity: { x: 1 } };
  assert.deepEqual(mergeSpec(own, full).spec.predictor.affinity, { podAntiAffinity: { x: 1 } });
});

test('cluster checks: Serverless without Knative, ModelMesh, runtimes that do not fit', () => {
  const sk = projectRuntime({ metadata: { name: 'kserve-sklearnserver' }, spec: { supportedModelFormats: [{ name: 'sklearn', autoSelect: true }], protocolVersions: ['v1', 'v2'] } }, 'ClusterServingRuntime');
  const off = { ...sk, name: 'off', disabled: true };
  const ctx = { apis: { knative: false, runtimeApi: true }, defaultMode: 'Serverless' as const, runtimes: [sk, off] };
  assert.match(modeProblems(endpointObject({ ...spec, deploymentMode: undefined }), ctx).join(), /needs Knative Serving.*cluster default/);
  assert.deepEqual(modeProblems(endpointObject({ ...spec, deploymentMode: 'RawDeployment' }), ctx), []);
  const mm = endpointObject(spec);
  mm.metadata.annotations = { 'serving.kserve.io/deploymentMode': 'ModelMesh' };
  assert.match(modeProblems(mm, { ...ctx, apis: { knative: true } }).join(), /ModelMesh/);
  assert.deepEqual(runtimeProblems(endpointObject(spec), ctx), []);
  assert.match(runtimeProblems(endpointObject({ ...spec, runtime: 'nope' }), ctx).join(), /runtime nope does not exist/);
  assert.match(runtimeProblems(endpointObject({ ...spec, runtime: 'off' }), ctx).join(), /runtime off is disabled/);
  assert.match(runtimeProblems(endpointObject({ ...spec, runtime: undefined, modelFormat: 'onnx' }), ctx).join(), /no runtime here serves model format onnx/);
  assert.match(runtimeProblems(endpointObject({ ...spec, runtime: 'kserve-sklearnserver', modelFormat: 'onnx' }), ctx).join(), /does not serve model format onnx/);
  assert.deepEqual(runtimeProblems(endpointObject({ ...spec, runtime: 'nope' }), { ...ctx, apis: { runtimeApi: false } }), [], 'old KServe without the runtime API: nothing to check');
});
