import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveNodeGpu } from '../../shared/gpu/node-gpu.ts';
import { summarizeFleet } from '../../shared/gpu/fleet-summary.ts';
import type { NodeRow } from '../../shared/model/node.ts';

function row(name: string, labels: Record<string, string>, alloc: Record<string, string>, pods: { ns: string; res: Record<string, number> }[] = [], ready: NodeRow['ready'] = 'True'): NodeRow {
  return {
    name,
    ready,
    unschedulable: false,
    roles: [],
    taints: 0,
    gpu: deriveNodeGpu(labels, alloc, alloc, pods.map((p, i) => ({ ref: { namespace: p.ns, name: `${name}-p${i}` }, resources: p.res }))),
  };
}

test('totals, per-model counts, MIG instances, version histograms and problems', () => {
  const rows: NodeRow[] = [
    row('h1', { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu.count': '8', 'nvidia.com/cuda.driver-version.full': '550.127.05', 'nvidia.com/cuda.runtime-version.full': '12.4' }, { 'nvidia.com/gpu': '8' }, [{ ns: 'ml', res: { 'nvidia.com/gpu': 3 } }]),
    row('a1', { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB-MIG-1g.10gb', 'nvidia.com/gpu.count': '14', 'nvidia.com/mig.strategy': 'single', 'nvidia.com/cuda.driver.major': '535', 'nvidia.com/cuda.driver.minor': '183', 'nvidia.com/cuda.driver.rev': '01' }, { 'nvidia.com/gpu': '14' }, [{ ns: 'a', res: { 'nvidia.com/gpu': 2 } }]),
    row('bad', { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB-MIG-INVALID', 'nvidia.com/gpu.count': '0', 'nvidia.com/cuda.driver-version.full': '550.127.05' }, {}, [], 'Unknown'),
    row('cpu', {}, { cpu: '8' }),
  ];
  const s = summarizeFleet([['c1/x', rows.slice(0, 2)], ['c2/y', rows.slice(2)]]);
  assert.equal(s.clusters, 2);
  assert.equal(s.nodes, 4);
  assert.equal(s.readyNodes, 3);
  assert.equal(s.gpuNodes, 3);
  assert.equal(s.gpus, 8 + 2 + 0);
  assert.deepEqual(s.fullGpus, { total: 8, allocated: 3 });
  assert.deepEqual(s.migInstances, { total: 14, allocated: 2 });
  assert.deepEqual(s.devices, { total: 22, allocated: 5 });
  assert.deepEqual(s.byModel.map((m) => [m.model, m.gpus]), [['NVIDIA-H100-80GB-HBM3', 8], ['NVIDIA-A100-SXM4-80GB', 2]]);
  assert.deepEqual(s.drivers.map((d) => [d.version, d.nodes]), [['550.127.05', 2], ['535.183.01', 1]]);
  const bad = s.problems.find((p) => p.node === 'bad');
  assert.ok(bad);
  assert.equal(bad.clusterId, 'c2/y');
  assert.ok(bad.reasons.some((r) => /MIG-INVALID/.test(r)));
  assert.ok(bad.reasons.some((r) => /Unknown/.test(r)));
  assert.equal(s.problems.length, 1);
});

test('inventory CSV: one row per GPU or MIG instance, quoted per RFC 4180', async () => {
  const { inventoryCsv } = await import('../../shared/gpu/inventory-export.ts');
  const h = row('h1', { 'nvidia.com/gpu.product': 'NVIDIA-L40S', 'nvidia.com/gpu.count': '2' }, { 'nvidia.com/gpu': '2' }, [{ ns: 'ml', res: { 'nvidia.com/gpu': 1 } }]);
  h.pool = 'edge, "north"';
  const m = row('m1', { 'nvidia.com/gpu.product': 'NVIDIA-A30-MIG-1g.6gb', 'nvidia.com/gpu.count': '4', 'nvidia.com/mig.strategy': 'single' }, { 'nvidia.com/gpu': '4' });
  const csv = inventoryCsv([['c/x', [h, m, row('cpu', {}, {})]]]);
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines.length, 1 + 2 + 4 + 1);
  assert.match(lines[0]!, /^cluster,node,ready,/);
  assert.ok(lines[1]!.includes('"edge, ""north"""'));
  assert.match(lines[1]!, /,0,whole,,ml,h1-p0,$/);
  assert.match(lines[3]!, /,0,1g\.6gb,0:1,,,$/);
  assert.match(lines[7]!, /^c\/x,cpu,True,false,/);
});
