import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateGates } from '../../electron/core/rollouts/node-gates.ts';
import { evictable, nodeFacts, pdbSelects, type RawPod } from '../../electron/core/rollouts/node-facts.ts';
import { needsRollback } from '../../electron/core/rollouts/rollout-runner.ts';
import { toRolloutRequest } from '../../electron/core/rollouts/rollout-service.ts';
import type { NodeProgress } from '../../shared/model/rollout.ts';
import { parseSelector, parseStageList, requestProblems, selectorMatches, splitStages } from '../../shared/rollout/stages.ts';

const nodes = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

test('stages: canary, counts and percentages of all nodes, the rest last', () => {
  const st = splitStages(nodes(10), { canary: 1, stages: [{ count: 2 }, { percent: 50 }], maxUnavailable: 2, tolerateFailures: 1 });
  assert.deepEqual(st.map((s) => s.nodes.length), [1, 2, 5, 2]);
  assert.deepEqual(st.map((s) => s.label), ['canary', '2 nodes', '50%', 'rest']);
  assert.deepEqual(st[0]!.nodes, ['n0']);
  assert.equal(st[3]!.maxUnavailable, 2);
  assert.equal(st.flatMap((s) => s.nodes).length, 10, 'every node in exactly one stage');
});

test('stages: oversize stages are clipped and empty ones dropped', () => {
  const st = splitStages(nodes(3), { canary: 2, stages: [{ percent: 100 }, { count: 5 }], maxUnavailable: 1, tolerateFailures: 0 });
  assert.deepEqual(st.map((s) => s.nodes), [['n0', 'n1'], ['n2']]);
  assert.deepEqual(st.map((s) => s.index), [0, 1]);
});

test('stage lists and selectors parse, and bad ones are refused with the reason', () => {
  assert.deepEqual(parseStageList('1, 25%,3'), [{ count: 1 }, { percent: 25 }, { count: 3 }]);
  assert.throws(() => parseStageList('1,half'), /"half" is neither/);
  const terms = parseSelector('nvidia.com/gpu.present=true,pool!=b,gpu,!skip');
  assert.equal(selectorMatches(terms, { 'nvidia.com/gpu.present': 'true', pool: 'a', gpu: 'x' }), true);
  assert.equal(selectorMatches(terms, { 'nvidia.com/gpu.present': 'true', pool: 'b', gpu: 'x' }), false);
  assert.equal(selectorMatches(terms, { 'nvidia.com/gpu.present': 'true', gpu: 'x', skip: '1' }), false);
  assert.throws(() => parseSelector('env in (a,b)'), /set-based/);
  assert.throws(() => parseSelector('a=b;rm -rf'), /not a label value/);
});

test('requests: one kind of target, a real driver version, sane stages', () => {
  const base = { id: 'src/ctx', driverVersion: '550.127.05', executor: { kind: 'gpu-operator' as const } };
  assert.deepEqual(requestProblems({ ...base, targets: { nodes: ['a'] } }), []);
  assert.match(requestProblems({ ...base, targets: { nodes: ['a'], pool: 'x' } }).join(), /exactly one/);
  assert.match(requestProblems({ ...base, targets: { nodes: ['a', 'a'] } }).join(), /twice/);
  assert.match(requestProblems({ ...base, driverVersion: 'latest; reboot', targets: { nodes: ['a'] } }).join(), /not a driver version/);
  assert.throws(() => toRolloutRequest({ ...base, targets: { nodes: ['a'] }, stages: [{ count: 1, percent: 5 }] }), /either count or percent/);
  assert.throws(() => toRolloutRequest({ ...base, targets: { nodes: ['a'] }, pause: { kind: 'duration' } }), /needs seconds/);
  assert.deepEqual(toRolloutRequest({ ...base, targets: { nodes: ['a'] }, stages: [{ percent: 50 }], pause: { kind: 'approval' } }).stages, [{ percent: 50 }]);
});

const pod = (over: Partial<RawPod['metadata']> = {}, phase = 'Running'): RawPod => ({ metadata: { name: 'p', namespace: 'ns', labels: { app: 'train' }, ...over }, spec: { nodeName: 'n' }, status: { phase } });

test('drain leaves DaemonSet, mirror, operator and finished pods alone', () => {
  assert.equal(evictable(pod()), true);
  assert.equal(evictable(pod({ ownerReferences: [{ kind: 'DaemonSet', name: 'ds' }] })), false);
  assert.equal(evictable(pod({ annotations: { 'kubernetes.io/config.mirror': 'x' } })), false);
  assert.equal(evictable(pod({ labels: { 'app.kubernetes.io/part-of': 'gpu-operator' } })), false);
  assert.equal(evictable(pod({}, 'Succeeded')), false);
  assert.equal(evictable(pod({ deletionTimestamp: '2026-01-01T00:00:00Z' })), false);
});

test('PDB selectors: matchLabels, expressions, namespace, empty selector', () => {
  const pdb = (selector: object, namespace = 'ns') => ({ metadata: { name: 'b', namespace }, spec: { selector } });
  assert.equal(pdbSelects(pdb({ matchLabels: { app: 'train' } }), pod()), true);
  assert.equal(pdbSelects(pdb({ matchLabels: { app: 'train' } }, 'other'), pod()), false);
  assert.equal(pdbSelects(pdb({ matchExpressions: [{ key: 'app', operator: 'In', values: ['x', 'train'] }] }), pod()), true);
  assert.equal(pdbSelects(pdb({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['train'] }] }), pod()), false);
  assert.equal(pdbSelects(pdb({}), pod()), false);
});

const node = (labels: Record<string, string>, capacity: Record<string, string> = {}, ready = true) =>
  nodeFacts({ metadata: { name: 'n', labels }, status: { capacity, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });

test('gates: version, GPU count, MIG layout and readiness compared with what was recorded', () => {
  const before = { version: '535.54.03', cordoned: false, gpuCount: 2, migConfig: 'all-1g.10gb', migResources: { 'nvidia.com/mig-1g.10gb': '14' } };
  const good = node({ 'nvidia.com/cuda.driver-version.full': '550.127.05', 'nvidia.com/gpu.count': '2', 'nvidia.com/mig.config': 'all-1g.10gb', 'nvidia.com/gpu.present': 'true' }, { 'nvidia.com/mig-1g.10gb': '14' });
  assert.deepEqual(evaluateGates(good, '550.127.05', before).filter((g) => !g.ok), []);
  const bad = node({ 'nvidia.com/cuda.driver.major': '535', 'nvidia.com/cuda.driver.minor': '54', 'nvidia.com/cuda.driver.rev': '03', 'nvidia.com/gpu.count': '1', 'nvidia.com/mig.config': 'all-disabled' }, { 'nvidia.com/gpu': '1' }, false);
  const failed = evaluateGates(bad, '550.127.05', before).filter((g) => !g.ok).map((g) => g.gate);
  assert.deepEqual(failed, ['driver-version', 'gpu-count', 'mig-layout', 'ready']);
});

test('rollback covers nodes whose driver was touched, not ones that failed before the install', () => {
  const np = (step: NodeProgress['upgrade']['step'], failedAt?: NodeProgress['upgrade']['step']): NodeProgress => ({ name: 'n', stage: 0, upgrade: { toVersion: 'v', step, ...(failedAt ? { failedAt } : {}), drains: 0, log: [] } });
  assert.equal(needsRollback(np('done')), true);
  assert.equal(needsRollback(np('upgrading')), true);
  assert.equal(needsRollback(np('failed', 'upgrading')), true);
  assert.equal(needsRollback(np('failed', 'draining')), false);
  assert.equal(needsRollback(np('drained')), false);
  assert.equal(needsRollback(np('pending')), false);
});
