import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateGates } from '../../electron/core/rollouts/node-gates.ts';
import { nodeFacts } from '../../electron/core/rollouts/node-facts.ts';
import { xidGate } from '../../electron/core/rollouts/xid-gate.ts';

const src = 'dcgm-exporter gpu-operator/nvidia-dcgm-exporter-n1';

test('xid gate: a different non-zero last XID after the change fails, naming the GPU and what it was before', () => {
  const g = xidGate({ 0: 0, 1: 0 }, { byGpu: { 0: 79, 1: 0 }, source: src });
  assert.equal(g.ok, false);
  assert.equal(g.detail, `XID 79 on GPU 0 (none before) (${src})`);
  const changed = xidGate({ 0: 13 }, { byGpu: { 0: 48 }, source: src });
  assert.equal(changed.ok, false);
  assert.match(changed.detail, /XID 48 on GPU 0 \(last XID 13 before\)/);
});

test('xid gate: the same XID as before, or none, passes and says so', () => {
  assert.deepEqual(xidGate({ 0: 0, 1: 0 }, { byGpu: { 0: 0, 1: 0 }, source: src }), { gate: 'xid', ok: true, detail: `no new XID on 2 GPU(s) (${src})` });
  const same = xidGate({ 0: 79 }, { byGpu: { 0: 79 }, source: src });
  assert.equal(same.ok, true);
  assert.match(same.detail, /XID 79 on GPU 0 as before/);
});

test('xid gate: without a reading now or before it never passes silently', () => {
  const none = xidGate(undefined, undefined, 'the node runs no dcgm-exporter');
  assert.deepEqual(none, { gate: 'xid', ok: true, detail: 'not checked: the node runs no dcgm-exporter' });
  const noBefore = xidGate(undefined, { byGpu: { 0: 79 }, source: src }, 'no reading from before: exporter down');
  assert.equal(noBefore.ok, true);
  assert.match(noBefore.detail, /^XID 79 on GPU 0; not compared: no reading from before: exporter down/);
});

test('gates: the xid result is one of the node gates, and a failing one fails the node', () => {
  const f = nodeFacts({ metadata: { name: 'n', labels: { 'nvidia.com/cuda.driver-version.full': '550.127.05', 'nvidia.com/gpu.count': '1', 'nvidia.com/gpu.present': 'true' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
  const before = { version: '535.54.03', cordoned: false, gpuCount: 1, migResources: {} };
  const failed = evaluateGates(f, '550.127.05', before, undefined, xidGate({ 0: 0 }, { byGpu: { 0: 79 }, source: src })).filter((g) => !g.ok);
  assert.deepEqual(failed.map((g) => g.gate), ['xid']);
  const unchecked = evaluateGates(f, '550.127.05', before).find((g) => g.gate === 'xid');
  assert.match(unchecked!.detail, /^not checked: /);
});

test('SSH reboot wait: a later boot time is a new boot, a second of procps jitter is not', async () => {
  const { newBoot } = await import('../../electron/core/rollouts/executors/ssh-executor.ts');
  assert.equal(newBoot('2026-11-22 13:35:12', '2026-11-22 13:35:13'), false);
  assert.equal(newBoot('2026-11-22 13:35:12', '2026-11-22 19:02:40'), true);
  assert.equal(newBoot('2026-11-22 19:29:13.755', '2026-11-22 19:29:55.498'), true);
  assert.equal(newBoot('boot a', 'boot b'), true);
});
