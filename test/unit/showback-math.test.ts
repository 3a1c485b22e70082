import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GpuHourPrice } from '../../shared/model/settings.ts';
import type { GpuUsageRecord } from '../../shared/model/showback.ts';
import { devicePrice, migProfileOf, migShare, overlapHours, priceUsage, rollUp, showbackCsv } from '../../shared/showback/showback-math.ts';

const T = (iso: string) => Date.parse(iso);
const H100 = 'NVIDIA-H100-80GB-HBM3';

test('overlap: the part of a lifetime inside the period, open ends run to the period end', () => {
  const from = T('2026-11-01T00:00:00Z');
  const to = T('2026-11-02T00:00:00Z');
  assert.equal(overlapHours(T('2026-11-01T06:00:00Z'), T('2026-11-01T09:30:00Z'), from, to), 3.5);
  assert.equal(overlapHours(T('2026-10-31T22:00:00Z'), T('2026-11-01T02:00:00Z'), from, to), 2, 'started before the period');
  assert.equal(overlapHours(T('2026-11-01T23:00:00Z'), undefined, from, to), 1, 'still running: to the end of the period');
  assert.equal(overlapHours(T('2026-11-01T23:00:00Z'), T('2026-11-03T00:00:00Z'), from, to), 1, 'ended after the period');
  assert.equal(overlapHours(T('2026-10-30T00:00:00Z'), T('2026-10-31T00:00:00Z'), from, to), 0, 'wholly before');
  assert.equal(overlapHours(T('2026-11-03T00:00:00Z'), undefined, from, to), 0, 'wholly after');
});

test('MIG share is memory slices over the GPU\'s, whatever the model', () => {
  assert.equal(migShare('1g.10gb', H100), 1 / 8);
  assert.equal(migShare('2g.20gb', H100), 2 / 8);
  assert.equal(migShare('3g.40gb', H100), 4 / 8, '3g takes four memory slices');
  assert.equal(migShare('7g.80gb', H100), 1);
  assert.equal(migShare('1g.6gb', 'NVIDIA-A30'), 1 / 4, 'A30 has four slices');
  assert.equal(migShare('1g.5gb'), 1 / 8, 'model unknown: found by profile name (A100 40GB)');
  assert.equal(migShare('9g.99gb', H100), undefined);
  assert.equal(migProfileOf('nvidia.com/mig-1g.10gb'), '1g.10gb');
  assert.equal(migProfileOf('nvidia.com/gpu', 'NVIDIA-A100-SXM4-80GB-MIG-1g.10gb'), '1g.10gb', 'single strategy: the product names the slice');
  assert.equal(migProfileOf('nvidia.com/gpu', H100), undefined);
});

test('prices: a profile price wins, else the slice share of the GPU price, model before "*"', () => {
  const prices: GpuHourPrice[] = [
    { model: H100, price: 4 },
    { model: '*', price: 1 },
    { model: H100, profile: '2g.20gb', price: 1.5 },
  ];
  assert.deepEqual(devicePrice(prices, 'nvidia.com/gpu', H100), { share: 1, perDeviceHour: 4, basis: `${H100} GPU price` });
  assert.equal(devicePrice(prices, 'nvidia.com/gpu', 'NVIDIA-L40S').perDeviceHour, 1, 'wildcard');
  assert.equal(devicePrice(prices, 'nvidia.com/mig-1g.10gb', H100).perDeviceHour, 0.5, '1/8 of 4');
  assert.equal(devicePrice(prices, 'nvidia.com/mig-2g.20gb', H100).perDeviceHour, 1.5, 'own price');
  assert.equal(devicePrice(prices, 'nvidia.com/gpu', 'NVIDIA-H100-80GB-HBM3-MIG-1g.10gb').perDeviceHour, 0.5, 'single-strategy slice priced as a slice');
  assert.equal(devicePrice([{ model: H100, price: 4 }], 'nvidia.com/gpu', 'Tesla-T4').perDeviceHour, undefined, 'no price');
  assert.equal(devicePrice([{ model: 'nvidia-h100-80gb-hbm3', price: 4 }], 'nvidia.com/gpu', H100).perDeviceHour, 4, 'model names compare without case');
});

function rec(p: Partial<GpuUsageRecord> & Pick<GpuUsageRecord, 'pod' | 'resource' | 'count' | 'start'>): GpuUsageRecord {
  return { cluster: 'c/x', namespace: 'ml', workload: `Pod/${p.pod}`, model: H100, ...p };
}

test('roll-up by namespace, team and workload, with idle only where measured', () => {
  const from = T('2026-11-01T00:00:00Z');
  const to = T('2026-11-01T10:00:00Z');
  const records = [
    rec({ pod: 'a-0', workload: 'StatefulSet/a', team: 'red', resource: 'nvidia.com/gpu', count: 2, start: '2026-11-01T00:00:00Z', end: '2026-11-01T05:00:00Z', idleFraction: 0.2 }),
    rec({ pod: 'a-1', workload: 'StatefulSet/a', team: 'red', resource: 'nvidia.com/gpu', count: 2, start: '2026-11-01T01:00:00Z', end: '2026-11-01T06:00:00Z' }),
    rec({ pod: 'b', namespace: 'inf', resource: 'nvidia.com/mig-1g.10gb', count: 4, start: '2026-10-31T20:00:00Z', idleFraction: 1 }),
  ];
  const prices: GpuHourPrice[] = [{ model: H100, price: 2 }];
  const priced = priceUsage(records, prices, from, to);
  assert.deepEqual(priced.map((u) => u.gpuHours), [10, 10, 5], 'b: 4 slices × 1/8 × 10 h');
  const r = rollUp(priced);
  assert.equal(r.totals.gpuHours, 25);
  assert.equal(r.totals.cost, 50);
  assert.equal(r.totals.pods, 3);
  const ml = r.byNamespace.find((x) => x.key === 'ml')!;
  assert.equal(ml.gpuHours, 20);
  assert.equal(ml.idleHours, 2, '20% of a-0\'s 10 h');
  assert.equal(ml.usedHours, 8);
  assert.equal(ml.unknownIdleHours, 10, 'a-1 had no samples');
  assert.deepEqual(r.byTeam.map((x) => [x.key, x.gpuHours]), [['red', 20], ['(no team)', 5]]);
  assert.equal(r.byWorkload.find((x) => x.key === 'ml/StatefulSet/a')!.pods, 2);
  assert.equal(r.byNamespace.find((x) => x.key === 'inf')!.idleHours, 5);

  const csv = showbackCsv(r, 'USD').split('\n');
  assert.equal(csv[0], 'group,key,namespace,team,gpu_hours,used_hours,idle_hours,unknown_idle_hours,cost_USD,unpriced_hours,pods');
  assert.ok(csv.includes('namespace,ml,ml,,20,8,2,10,40,0,2'), csv.join('\n'));
  assert.ok(csv.includes('team,red,,red,20,8,2,10,40,0,2'));
  assert.ok(csv.includes('total,total,,,25,8,7,10,50,0,3'));
});

test('unpriced hours are counted apart, and a spreadsheet formula in a name is neutralised', () => {
  const r = rollUp(priceUsage([rec({ pod: 'x', namespace: '=cmd', resource: 'nvidia.com/gpu', count: 1, model: 'Tesla-T4', start: '2026-11-01T00:00:00Z', end: '2026-11-01T02:00:00Z' })], [], T('2026-11-01T00:00:00Z'), T('2026-11-02T00:00:00Z')));
  assert.equal(r.totals.cost, 0);
  assert.equal(r.totals.unpricedHours, 2);
  assert.equal(r.totals.idleHours, null, 'unknown, not zero');
  assert.match(showbackCsv(r, 'EUR'), /^namespace,"=cmd","=cmd",/m);
});
