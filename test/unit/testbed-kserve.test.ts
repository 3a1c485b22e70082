// The pure parts of the test bed's KServe simulator: runtime selection, mode
// parsing, the weighted split, the protocol handlers and the 1.20 CRD clean-up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripFor120 } from '../testbed/kserve/apis.ts';
import { deploymentMode } from '../testbed/kserve/controller.ts';
import { pickWeighted } from '../testbed/kserve/dataplane.ts';
import { handle, type ModelContext } from '../testbed/kserve/protocols.ts';
import { clusterRuntimes, namespacedRuntimes, openAiPrefix, resolveRuntime, runtimeProtocols } from '../testbed/kserve/runtimes.ts';

const cluster = clusterRuntimes();
const ns = namespacedRuntimes();
const named = (n: string) => cluster.find((r) => r.metadata.name === n)!;

test('runtime selection: explicit, autoSelect with namespaced first, and the failure reasons', () => {
  const pick = (format: string | undefined, explicit?: string, protocol?: string, nsList = ns) => {
    const r = resolveRuntime(format ? { name: format } : undefined, explicit, protocol, nsList, cluster);
    return 'reason' in r ? r.reason : r.runtime.metadata.name;
  };
  assert.equal(pick('sklearn'), 'inference-sklearn', 'the namespaced runtime wins');
  assert.equal(pick('sklearn', undefined, undefined, []), 'kserve-sklearnserver');
  assert.equal(pick('onnx'), 'kserve-tritonserver');
  assert.equal(pick('ONNX'), 'kserve-tritonserver', 'format names compare case-insensitively');
  assert.equal(pick('vLLM'), 'kserve-vllmserver');
  assert.equal(pick('sklearn', 'kserve-sklearnserver'), 'kserve-sklearnserver');
  assert.equal(pick('caffe'), 'NoSupportingRuntime');
  assert.equal(pick('sklearn', 'nope'), 'RuntimeNotRecognized');
  assert.equal(pick('onnx', 'kserve-sklearnserver'), 'NoSupportingRuntime');
  assert.equal(pick('onnx', undefined, 'v1'), 'NoSupportingRuntime', 'triton does not speak v1');
  const disabled = [{ ...ns[0]!, spec: { ...ns[0]!.spec, disabled: true } }];
  assert.equal(pick('sklearn', 'inference-sklearn', undefined, disabled), 'RuntimeDisabled');
  assert.equal(pick('sklearn', undefined, undefined, disabled), 'kserve-sklearnserver', 'a disabled runtime is skipped');
});

test('runtime protocols and OpenAI prefixes', () => {
  assert.deepEqual(runtimeProtocols(named('kserve-tritonserver')), ['v2', 'grpc-v2']);
  assert.deepEqual(runtimeProtocols(named('kserve-vllmserver')), []);
  assert.equal(openAiPrefix(named('kserve-vllmserver')), '');
  assert.equal(openAiPrefix(named('kserve-huggingfaceserver')), '/openai');
  assert.equal(openAiPrefix(named('kserve-sklearnserver')), undefined);
});

test('deployment mode: annotation first, both generations of names, else the config default', () => {
  assert.deepEqual(deploymentMode(undefined, 'Serverless'), { kind: 'Serverless', name: 'Serverless' });
  assert.deepEqual(deploymentMode('RawDeployment', 'Serverless'), { kind: 'Raw', name: 'RawDeployment' });
  assert.deepEqual(deploymentMode('Standard', 'Serverless'), { kind: 'Raw', name: 'Standard' });
  assert.deepEqual(deploymentMode('Knative', 'RawDeployment'), { kind: 'Serverless', name: 'Knative' });
  assert.equal(deploymentMode('ModelMesh', 'Serverless'), undefined);
});

test('smooth weighted round-robin gives exactly 10/90 over 100 picks and skips zero weights', () => {
  const rr = { key: '', current: new Map<string, number>() };
  const counts: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    const r = pickWeighted([{ revision: 'a', weight: 10 }, { revision: 'b', weight: 90 }, { revision: 'c', weight: 0 }], rr)!;
    counts[r] = (counts[r] ?? 0) + 1;
  }
  assert.deepEqual(counts, { a: 10, b: 90 });
  assert.equal(pickWeighted([{ revision: 'a', weight: 0 }], rr), undefined);
});

test('protocol handlers: v1, v2, OpenAI, errors, and only declared protocols', () => {
  const sk: ModelContext = { name: 'iris', protocols: ['v1', 'v2'], server: 'kserve-sklearnserver' };
  const hf: ModelContext = { name: 'llm', protocols: ['v2', 'v1'], openAiPrefix: '/openai', server: 'kserve-huggingfaceserver' };
  const vllm: ModelContext = { name: 'llm', protocols: [], openAiPrefix: '', server: 'kserve-vllmserver' };
  const triton: ModelContext = { name: 't', protocols: ['v2', 'grpc-v2'], server: 'kserve-tritonserver' };
  const post = (ctx: ModelContext, path: string, body: unknown) => handle(ctx, 'POST', path, typeof body === 'string' ? body : JSON.stringify(body));

  assert.deepEqual(post(sk, '/v1/models/iris:predict', { instances: [[1, 2], [3, [4, 5]]] }), { status: 200, body: { predictions: [3, 12] } });
  assert.equal(post(sk, '/v1/models/iris:predict', '{').status, 400);
  assert.equal(post(sk, '/v1/models/iris:predict', { instances: [['x']] }).status, 400);
  assert.equal(post(sk, '/v1/models/other:predict', { instances: [] }).status, 404);
  assert.deepEqual(handle(sk, 'GET', '/v1/models/iris', '').body, { name: 'iris', ready: true });
  const v2 = post(triton, '/v2/models/t/versions/3/infer', { inputs: [{ name: 'input0', shape: [3], datatype: 'INT32', data: [1, 2, 3] }] });
  assert.deepEqual(v2.body, { model_name: 't', model_version: '3', outputs: [{ name: 'output0', datatype: 'FP32', shape: [3], data: [2, 4, 6] }] });
  assert.equal(post(triton, '/v2/models/t/infer', { inputs: [{ name: 'input0', shape: [2, 2], data: [1] }] }).status, 400, 'shape and data disagree');
  assert.equal(handle(triton, 'GET', '/v1/models/t', '').status, 404, 'triton has no v1');
  assert.deepEqual(handle(triton, 'GET', '/v2/health/live', '').body, { live: true });

  const chat = post(hf, '/openai/v1/chat/completions', { model: 'llm', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c d' }] });
  assert.equal((chat.body as any).choices[0].message.content, 'echo: c d');
  assert.equal((post(hf, '/openai/v1/completions', { model: 'llm', prompt: 'hi' }).body as any).choices[0].text, 'echo: hi');
  assert.equal(post(hf, '/v1/completions', { model: 'llm', prompt: 'hi' }).status, 404, 'HF OpenAI routes are prefixed');
  assert.equal(post(hf, '/openai/v1/completions', { model: 'x', prompt: 'hi' }).status, 404);
  assert.equal(post(hf, '/openai/v1/completions', { model: 'llm' }).status, 400);
  assert.equal((handle(vllm, 'GET', '/v1/models', '').body as any).object, 'list', 'vLLM /v1/models is OpenAI');
  assert.equal(handle(vllm, 'GET', '/v2/health/ready', '').status, 404);
});

test('stripFor120 drops empty-string defaults and CEL rules, nothing else', () => {
  const crd = { a: { type: 'string', default: '' }, b: { type: 'string', default: 'x' }, c: [{ 'x-kubernetes-validations': [{ rule: 'true' }], type: 'object' }] };
  assert.equal(stripFor120(crd), 2);
  assert.deepEqual(crd, { a: { type: 'string' }, b: { type: 'string', default: 'x' }, c: [{ type: 'object' }] });
});
