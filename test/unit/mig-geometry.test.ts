import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readGpuLabels } from '../../shared/gpu/labels.ts';
import { distributeOverGpus, MIG_MODELS, migModelFor, placeOnGpu } from '../../shared/gpu/mig-geometry.ts';
import { deriveNodeDevices } from '../../shared/gpu/node-devices.ts';

const model = (key: string) => MIG_MODELS.find((m) => m.key === key)!;

test('GFD product names map to MIG models; GPUs without MIG map to none', () => {
  assert.equal(migModelFor('NVIDIA-A100-SXM4-80GB')?.key, 'A100-80GB');
  assert.equal(migModelFor('NVIDIA-A100-80GB-PCIe-MIG-1g.10gb')?.key, 'A100-80GB');
  assert.equal(migModelFor('NVIDIA-A100-SXM4-40GB')?.key, 'A100-40GB');
  assert.equal(migModelFor('NVIDIA-H100-80GB-HBM3')?.key, 'H100-80GB');
  assert.equal(migModelFor('NVIDIA-H100-NVL')?.key, 'H100-NVL');
  assert.equal(migModelFor('NVIDIA-H200')?.key, 'H200');
  assert.equal(migModelFor('NVIDIA-A30')?.key, 'A30');
  assert.equal(migModelFor('NVIDIA-L40S'), undefined);
  assert.equal(migModelFor('Tesla-T4'), undefined);
});

test('placement follows the real -lgipp starts, and refuses what does not fit', () => {
  const a100 = model('A100-80GB');
  assert.deepEqual(placeOnGpu(a100, { '3g.40gb': 2 }), [
    { profile: '3g.40gb', start: 0, size: 4 },
    { profile: '3g.40gb', start: 4, size: 4 },
  ]);
  assert.equal(placeOnGpu(a100, { '1g.10gb': 7 })?.length, 7);
  assert.equal(placeOnGpu(a100, { '1g.10gb': 8 }), null, 'seven compute slices at most');
  assert.equal(placeOnGpu(a100, { '4g.40gb': 1, '3g.40gb': 1 })?.length, 2);
  assert.equal(placeOnGpu(a100, { '7g.80gb': 1, '1g.10gb': 1 }), null);
  assert.equal(placeOnGpu(a100, { '2g.20gb': 3, '1g.10gb': 1 })?.length, 4, '2g at 0,2,4 leaves slice 6 for a 1g');
  assert.equal(placeOnGpu(a100, { 'no-such': 1 }), null);
  const balanced = placeOnGpu(a100, a100.balanced)!;
  // 1g profiles may not start at slice 7, so the greedy 3g@0 + 2g@4 is backtracked.
  assert.deepEqual(balanced.map((p) => `${p.profile}@${p.start}`), ['2g.20gb@0', '1g.10gb@2', '1g.10gb@3', '3g.40gb@4']);
  const a30 = model('A30');
  assert.equal(placeOnGpu(a30, { '1g.6gb': 4 })?.length, 4);
  assert.equal(placeOnGpu(a30, { '2g.12gb': 1, '1g.6gb': 3 }), null, 'A30 has four memory slices');
});

test('instance counts spread over a node GPU by GPU', () => {
  const even = distributeOverGpus(model('A100-80GB'), 2, { '3g.40gb': 2, '1g.10gb': 6 });
  assert.equal(even.length, 2);
  for (const gpu of even) assert.deepEqual(gpu.map((p) => p.profile).sort(), ['1g.10gb', '1g.10gb', '1g.10gb', '3g.40gb']);
  const uneven = distributeOverGpus(model('A100-80GB'), 2, { '3g.40gb': 3, '1g.10gb': 1 });
  assert.deepEqual(uneven[0]!.map((p) => p.profile), ['3g.40gb', '3g.40gb']);
  assert.deepEqual(uneven[1]!.map((p) => p.profile).sort(), ['1g.10gb', '3g.40gb']);
});

test('single strategy: 56 MIG devices on A100-80GB are 8 GPUs of 7 x 1g.10gb, pods get slots', () => {
  const facts = readGpuLabels({ 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB-MIG-1g.10gb', 'nvidia.com/gpu.count': '56', 'nvidia.com/mig.strategy': 'single' });
  const d = deriveNodeDevices(facts, { 'nvidia.com/gpu': 56 }, [
    { ref: { namespace: 'b', name: 'p2' }, resources: { 'nvidia.com/gpu': 2 } },
    { ref: { namespace: 'a', name: 'p1' }, resources: { 'nvidia.com/gpu': 1 } },
  ]);
  assert.equal(d.physical, 8);
  assert.equal(d.devices.length, 8);
  assert.ok(d.devices.every((g) => g.mig && g.slots.length === 7));
  const held = d.devices.flatMap((g) => g.slots).filter((s) => s.holder);
  assert.deepEqual(held.map((s) => s.holder!.name), ['p1', 'p2', 'p2']);
  assert.equal(d.inferred, true);
});

test('full GPUs: holders by pod, free GPUs have none', () => {
  const facts = readGpuLabels({ 'nvidia.com/gpu.product': 'NVIDIA-L40S', 'nvidia.com/gpu.count': '4' });
  const d = deriveNodeDevices(facts, { 'nvidia.com/gpu': 4 }, [{ ref: { namespace: 'ml', name: 'infer', workload: 'Deployment/infer' }, resources: { 'nvidia.com/gpu': 3 } }]);
  assert.equal(d.physical, 4);
  assert.deepEqual(d.devices.map((g) => g.holder?.name ?? null), ['infer', 'infer', 'infer', null]);
});

test('MIG-INVALID nodes have no devices to draw', () => {
  const facts = readGpuLabels({ 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB-MIG-INVALID', 'nvidia.com/gpu.count': '0' });
  assert.deepEqual(deriveNodeDevices(facts, {}, []), { physical: 0, devices: [], inferred: false });
});

test('mixed all-balanced on 8 x A100-40GB is read back as 8 GPUs of the balanced layout', () => {
  const facts = readGpuLabels({ 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB', 'nvidia.com/gpu.count': '8', 'nvidia.com/mig.strategy': 'mixed' });
  const d = deriveNodeDevices(facts, { 'nvidia.com/mig-1g.5gb': 16, 'nvidia.com/mig-2g.10gb': 8, 'nvidia.com/mig-3g.20gb': 8 }, []);
  assert.equal(d.physical, 8);
  for (const g of d.devices) assert.deepEqual(g.slots.map((s) => s.profile).sort(), ['1g.5gb', '1g.5gb', '2g.10gb', '3g.20gb']);
});
