import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readGpuLabels, splitProduct } from '../../shared/gpu/labels.ts';
import { deriveNodeGpu, podGpuDevices } from '../../shared/gpu/node-gpu.ts';
import { parseCount, parseQuantity } from '../../shared/quantity.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sharedFixtures = path.resolve(here, '../../../shared/fixtures/gpu');

test('quantities', () => {
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('16Gi'), 16 * 2 ** 30);
  assert.equal(parseQuantity('1e3'), 1000);
  assert.equal(parseQuantity('2k'), 2000);
  assert.equal(parseQuantity('garbage'), undefined);
  assert.equal(parseCount('8'), 8);
  assert.equal(parseCount(undefined), 0);
});

test('product names split into model, MIG profile, INVALID and SHARED', () => {
  assert.deepEqual(splitProduct('NVIDIA-A100-80GB-PCIe-MIG-1g.10gb'), { model: 'NVIDIA-A100-80GB-PCIe', migProfile: '1g.10gb', migInvalid: false, shared: false });
  assert.deepEqual(splitProduct('NVIDIA-H100-NVL-MIG-INVALID'), { model: 'NVIDIA-H100-NVL', migInvalid: true, shared: false });
  assert.deepEqual(splitProduct('Tesla-T4-SHARED'), { model: 'Tesla-T4', migInvalid: false, shared: true });
  assert.deepEqual(splitProduct('NVIDIA-L40S'), { model: 'NVIDIA-L40S', migInvalid: false, shared: false });
});

test('current label generation wins; deprecated-only fleets still give versions', () => {
  const both = readGpuLabels({
    'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
    'nvidia.com/cuda.driver-version.full': '550.127.05',
    'nvidia.com/cuda.driver.major': '535',
    'nvidia.com/cuda.driver.minor': '183',
    'nvidia.com/cuda.driver.rev': '01',
    'nvidia.com/cuda.runtime-version.full': '12.4',
    'nvidia.com/cuda.runtime.major': '12',
    'nvidia.com/cuda.runtime.minor': '2',
  });
  assert.equal(both.driverVersion, '550.127.05');
  assert.equal(both.cudaVersion, '12.4');
  assert.equal(both.labelGeneration, 'both');

  const old = readGpuLabels({ 'nvidia.com/gpu.present': 'true', 'nvidia.com/cuda.driver.major': '515', 'nvidia.com/cuda.driver.minor': '86', 'nvidia.com/cuda.driver.rev': '01', 'nvidia.com/cuda.runtime.major': '11', 'nvidia.com/cuda.runtime.minor': '7' });
  assert.equal(old.driverVersion, '515.86.01');
  assert.equal(old.cudaVersion, '11.7');
  assert.equal(old.labelGeneration, 'deprecated');

  const parts = readGpuLabels({ 'nvidia.com/cuda.driver-version.major': '570', 'nvidia.com/cuda.driver-version.minor': '86', 'nvidia.com/cuda.driver-version.revision': '15' });
  assert.equal(parts.driverVersion, '570.86.15');
  assert.equal(parts.labelGeneration, 'current');
  assert.equal(readGpuLabels({}).labelGeneration, 'none');
  assert.equal(readGpuLabels(undefined).present, false);
});

test('mixed strategy: physical count from gpu.count, devices from allocatable, stale capacity ignored', () => {
  const g = deriveNodeGpu(
    {
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB',
      'nvidia.com/gpu.count': '2',
      'nvidia.com/mig.strategy': 'mixed',
      'nvidia.com/mig-3g.20gb.count': '1',
      'nvidia.com/mig-1g.5gb.count': '3',
      'nvidia.com/mig.config.state': 'success',
    },
    { 'nvidia.com/mig-3g.20gb': '1', 'nvidia.com/mig-1g.5gb': '3', 'nvidia.com/gpu': '1', cpu: '64' },
    { 'nvidia.com/mig-3g.20gb': '2', 'nvidia.com/mig-1g.5gb': '3', 'nvidia.com/mig-7g.40gb': '1', 'nvidia.com/gpu': '1' },
    [{ ref: { namespace: 'ml', name: 'train-0' }, resources: { 'nvidia.com/mig-3g.20gb': 1, 'nvidia.com/mig-1g.5gb': 1 } }],
  );
  assert.ok(g);
  assert.equal(g.count, 2);
  assert.equal(g.allocatable, 5);
  assert.equal(g.allocated, 2);
  assert.equal(g.migStrategy, 'mixed');
  assert.equal(g.devices.length, 2);
  assert.deepEqual(g.devices.map((d) => d.mig), [true, false]);
  assert.equal(g.devices[0]!.slots.filter((s) => s.holder?.name === 'train-0').length, 2);
  assert.ok(!g.devices.some((d) => d.slots.some((s) => s.profile === '7g.40gb')), 'the stale 7g.40gb capacity key is not drawn');
  assert.equal(readGpuLabels({ 'nvidia.com/mig-1g.5gb.count': '3' }).migProfiles['1g.5gb'], 3);
});

test('nodes without GPU labels or resources have no GPU; resources alone still count', () => {
  assert.equal(deriveNodeGpu({ 'kubernetes.io/hostname': 'cpu-1' }, { cpu: '8' }, { cpu: '8' }, []), null);
  const bare = deriveNodeGpu({}, { 'nvidia.com/gpu': '4' }, { 'nvidia.com/gpu': '4' }, [{ ref: { namespace: 'a', name: 'p' }, resources: { 'nvidia.com/gpu': 1 } }]);
  assert.equal(bare?.allocatable, 4);
  assert.equal(bare?.model, 'unknown');
});

test('pod GPU devices count limits of nvidia.com/gpu and MIG resources over containers', () => {
  assert.equal(
    podGpuDevices([
      { resources: { limits: { 'nvidia.com/gpu': '2', cpu: '4' } } },
      { resources: { requests: { 'nvidia.com/mig-1g.10gb': '1' }, limits: { 'nvidia.com/mig-1g.10gb': '1' } } },
      { resources: {} },
      {},
    ]),
    3,
  );
  assert.equal(podGpuDevices(undefined), 0);
});

test('real GFD dump (single strategy) from ../shared/fixtures', (t) => {
  const file = path.join(sharedFixtures, 'node-labels-a100-80gb-pcie-mig-single.txt');
  if (!fs.existsSync(file)) return t.skip('../shared/fixtures is absent');
  const labels: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.startsWith('$')) {
      if (Object.keys(labels).length) break;
      continue;
    }
    const m = /^(nvidia\.com\/[^=]+)=(.*)$/.exec(line.trim());
    if (m) labels[m[1]!] = m[2]!;
  }
  const facts = readGpuLabels(labels);
  assert.equal(facts.model, 'NVIDIA-A100-80GB-PCIe');
  assert.equal(facts.migProfile, '1g.10gb');
  assert.equal(facts.count, 7);
  assert.equal(facts.driverVersion, '515.86.01');
  assert.equal(facts.cudaVersion, '11.7');
  assert.equal(facts.labelGeneration, 'deprecated');
  assert.equal(facts.migConfigState, 'success');
});
