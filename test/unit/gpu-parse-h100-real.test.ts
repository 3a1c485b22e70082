import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { detectFormat, GpuParseError, parseAny, parseSmiText } from '../../electron/core/gpu/index.ts';
import type { GpuEntry, GpuReportFormat } from '../../electron/core/gpu/index.ts';
import { ownDir } from '../support/gpu-fixtures.ts';

// Captures from a real H100 80GB HBM3, driver 580.159.04 (see test/fixtures/gpu/h100-real/README.md).
const dir = path.join(ownDir, 'h100-real');
const cap = (name: string): string => fs.readFileSync(path.join(dir, name), 'utf8');

const UUID = 'GPU-626630f0-0200-5fce-c6b1-62cd13275afe';
const BUS = '00000000:00:06.0';
const PRODUCT = 'NVIDIA H100 80GB HBM3';
const QUERY_FIELDS =
  'index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,mig.mode.current,mig.mode.pending,ecc.errors.uncorrected.volatile.total'.split(',');

/** The GPU as every full capture describes it; power is sampled per command, so it is checked per file. */
const H100 = {
  index: 0,
  pciBusId: BUS,
  uuid: UUID,
  product: PRODUCT,
  memoryTotalMiB: 81559,
  memoryUsedMiB: 0,
  migMode: { current: 'Disabled', pending: 'Disabled' },
  temperatureC: 40,
  utilizationPct: 0,
  eccUncorrectable: 0,
};

function pick(g: GpuEntry, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, g[k as keyof GpuEntry]]));
}

test('h100-real: every capture is detected as what it is, and the rest are refused', () => {
  const expected: Record<string, GpuReportFormat | null> = {
    'nvidia-smi-q-x.xml': 'nvidia-smi-xml',
    'nvidia-smi-q.txt': 'nvidia-smi-text',
    'supported-clocks.txt': 'nvidia-smi-text',
    'nvidia-smi-L.txt': 'nvidia-smi-list',
    'query-gpu.csv': 'nvidia-smi-csv',
    'query-gpu-noheader.csv': null,
    'mig-lgip.txt': 'mig-lgip',
    'mig-lgipp.txt': 'mig-lgipp',
    'mig-lgi.txt': null,
    'nvidia-smi.txt': null,
    'nvidia-smi-version.txt': null,
    'proc-driver-version.txt': null,
    'nvidia-smi-help-query-gpu.txt': null,
    'query-compute-apps.csv': null,
  };
  for (const [name, format] of Object.entries(expected)) assert.equal(detectFormat(cap(name)), format, name);
  assert.throws(() => parseAny(cap('nvidia-smi.txt')), /^GpuParseError: not a recognised nvidia-smi or dcgm-exporter format: starts with "Sun Nov 22 16:11:59 2026"$/);
});

test('h100-real: nvidia-smi -q -x (R580, DTD v13) reads every value', () => {
  const r = parseAny(cap('nvidia-smi-q-x.xml'));
  assert.equal(r.format, 'nvidia-smi-xml');
  assert.equal(r.driverVersion, '580.159.04');
  assert.equal(r.cudaVersion, '13.0');
  assert.deepEqual(r.warnings, []);
  assert.equal(r.gpus.length, 1);
  const g = r.gpus[0]!;
  assert.deepEqual(pick(g, Object.keys(H100)), H100);
  // R580 has no <power_draw>: power.draw means the 1 s average on Hopper, so average_power_draw wins over instant (71.04).
  assert.equal(g.powerDrawW, 91.82);
  assert.deepEqual(g.migDevices, [], '<mig_devices>None</mig_devices> is an empty list');
  assert.equal(g.eccUncorrectableAggregate, 0);
  assert.equal(g.profiles, null);
});

test('h100-real: nvidia-smi -q text reads the same values as -q -x', () => {
  const r = parseAny(cap('nvidia-smi-q.txt'));
  assert.equal(r.format, 'nvidia-smi-text');
  assert.equal(r.driverVersion, '580.159.04');
  assert.equal(r.cudaVersion, '13.0');
  assert.deepEqual(r.warnings, []);
  assert.equal(r.gpus.length, 1);
  const g = r.gpus[0]!;
  assert.deepEqual(pick(g, Object.keys(H100)), H100);
  assert.equal(g.powerDrawW, 84.04, 'Average Power Draw, not Instantaneous (70.39) or GPU Memory (41.65)');
  assert.deepEqual(g.migDevices, [], 'the listing omits "MIG devices" when MIG is disabled');
  assert.equal(g.eccUncorrectableAggregate, 0);

  const xml = parseAny(cap('nvidia-smi-q-x.xml')).gpus[0]!;
  const sampled = new Set(['powerDrawW']);
  for (const k of Object.keys(xml) as (keyof GpuEntry)[]) if (!sampled.has(k)) assert.deepEqual(g[k], xml[k], k);
});

test('h100-real: -q text with two GPU sections (the real section doubled) gives two GPUs in order', () => {
  const text = cap('nvidia-smi-q.txt');
  const start = text.indexOf(`GPU ${BUS}`);
  const second = text.slice(start).replaceAll(BUS, '00000000:18:00.0').replace(UUID, 'GPU-00000000-0000-5000-8000-000000000001');
  const two = `${text.slice(0, start).replace(/(Attached GPUs\s+: )1/, '$12')}${text.slice(start)}${second}`;
  const r = parseSmiText(two);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.gpus.map((g) => [g.index, g.pciBusId, g.uuid, g.memoryTotalMiB]), [
    [0, BUS, UUID, 81559],
    [1, '00000000:18:00.0', 'GPU-00000000-0000-5000-8000-000000000001', 81559],
  ]);
  assert.match(parseSmiText(text.slice(0, start) + text.slice(start) + second).warnings.join('\n'), /attached_gpus says 1 but 2/);
});

test('h100-real: -q text ECC counters are summed by their R550+ names (SEC-DED included)', () => {
  const text = cap('nvidia-smi-q.txt');
  let n = 0;
  // Volatile block first, then Aggregate: give each uncorrectable counter its own value.
  const edited = text.replace(/^(\s+(?:SRAM Uncorrectable Parity|SRAM Uncorrectable SEC-DED|DRAM Uncorrectable)\s+: )0$/gm, (_m, head: string) => `${head}${[1, 2, 4, 8, 16, 32][n++]}`);
  assert.equal(n, 6, 'six counters edited');
  const g = parseSmiText(edited).gpus[0]!;
  assert.equal(g.eccUncorrectable, 1 + 2 + 4);
  assert.equal(g.eccUncorrectableAggregate, 8 + 16 + 32);
});

test('h100-real: -q text cut mid-value keeps what was complete and does not read the cut value', () => {
  const text = cap('nvidia-smi-q.txt');
  const cut = text.slice(0, text.indexOf('GPU Current Temp') + 'GPU Current Temp                               : 4'.length);
  assert.ok(cut.endsWith(': 4'));
  const r = parseAny(cut);
  const g = r.gpus[0]!;
  assert.equal(g.temperatureC, null, '"4" of "40 C" must not be read');
  assert.equal(g.memoryTotalMiB, 81559);
  assert.equal(g.uuid, UUID);
  assert.ok(r.warnings.some((w) => /input ends mid-line: the last value \(gpu_temp\)/.test(w)), r.warnings.join('\n'));
});

test('h100-real: -q -d SUPPORTED_CLOCKS (a partial listing) gives the GPU and nulls, not wrong values', () => {
  const r = parseAny(cap('supported-clocks.txt'));
  assert.equal(r.driverVersion, '580.159.04');
  assert.equal(r.gpus.length, 1);
  assert.equal(r.gpus[0]!.pciBusId, BUS);
  assert.equal(r.gpus[0]!.memoryTotalMiB, null);
  assert.equal(r.gpus[0]!.product, null);
});

test('h100-real: nvidia-smi -L', () => {
  const r = parseAny(cap('nvidia-smi-L.txt'));
  assert.equal(r.format, 'nvidia-smi-list');
  assert.deepEqual(r.warnings, []);
  assert.equal(r.gpus.length, 1);
  assert.deepEqual(pick(r.gpus[0]!, ['index', 'uuid', 'product', 'migDevices']), { index: 0, uuid: UUID, product: PRODUCT, migDevices: [] });
});

test('h100-real: --query-gpu CSV with units, and noheader,nounits with the field list', () => {
  const r = parseAny(cap('query-gpu.csv'));
  assert.equal(r.format, 'nvidia-smi-csv');
  assert.equal(r.driverVersion, '580.159.04');
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(pick(r.gpus[0]!, Object.keys(H100)), H100);
  assert.equal(r.gpus[0]!.powerDrawW, 80.5);

  const bare = parseAny(cap('query-gpu-noheader.csv'), { csvFields: QUERY_FIELDS });
  assert.deepEqual(bare.warnings, []);
  assert.deepEqual(pick(bare.gpus[0]!, Object.keys(H100)), H100);
  assert.equal(bare.gpus[0]!.powerDrawW, 78.5);

  assert.throws(
    () => parseAny(cap('query-gpu-noheader.csv')),
    (e: unknown) => e instanceof GpuParseError && /noheader: pass --csv-fields/.test(e.message) && /^not a recognised/.test(e.message),
  );
});

test('h100-real: mig -lgip lists the seven H100 80GB profiles (MIG disabled still lists them)', () => {
  const r = parseAny(cap('mig-lgip.txt'));
  assert.equal(r.format, 'mig-lgip');
  assert.deepEqual(r.warnings, []);
  const rows = r.gpus[0]!.profiles!.map((p) => [p.id, p.name, p.instancesFree, p.instancesTotal, p.memoryGiB, p.multiprocessors]);
  assert.deepEqual(rows, [
    [19, '1g.10gb', 7, 7, 9.75, 16],
    [20, '1g.10gb+me', 1, 1, 9.75, 16],
    [15, '1g.20gb', 4, 4, 19.62, 26],
    [14, '2g.20gb', 3, 3, 19.62, 32],
    [9, '3g.40gb', 2, 2, 39.5, 60],
    [5, '4g.40gb', 1, 1, 39.5, 64],
    [0, '7g.80gb', 1, 1, 79.25, 132],
  ]);
});

test('h100-real: mig -lgipp placements per profile id', () => {
  const r = parseAny(cap('mig-lgipp.txt'));
  assert.equal(r.format, 'mig-lgipp');
  assert.deepEqual(r.warnings, []);
  const byId = Object.fromEntries(r.gpus[0]!.profiles!.map((p) => [p.id, p.placements!.map((x) => `${x.start}:${x.size}`).join(' ')]));
  assert.deepEqual(byId, {
    19: '0:1 1:1 2:1 3:1 4:1 5:1 6:1',
    20: '0:1 1:1 2:1 3:1 4:1 5:1 6:1',
    15: '0:2 2:2 4:2 6:2',
    14: '0:2 2:2 4:2',
    9: '0:4 4:4',
    5: '0:4',
    0: '0:8',
  });
});

test('h100-real: mig -lgi with MIG disabled is reported as nvidia-smi said it', () => {
  assert.equal(cap('mig-lgi.txt'), 'No MIG-enabled devices found.\n');
  assert.throws(() => parseAny(cap('mig-lgi.txt')), (e: unknown) => e instanceof GpuParseError && e.message === 'nvidia-smi reported: No MIG-enabled devices found.');
});

test('h100-real: --query-compute-apps CSV (gpu_uuid header) is never read as one GPU per process', () => {
  const header = cap('query-compute-apps.csv');
  assert.equal(header, 'pid, gpu_uuid, used_gpu_memory [MiB]\n');
  const busy = `${header}4242, ${UUID}, 1024 MiB\n4243, ${UUID}, 2048 MiB\n`;
  assert.equal(detectFormat(busy), null);
  for (const text of [header, busy]) {
    assert.throws(() => parseAny(text), (e: unknown) => e instanceof GpuParseError && /it is --query-compute-apps output \(one row per process\), not --query-gpu$/.test(e.message));
  }
  assert.throws(() => parseAny(busy, { format: 'nvidia-smi-csv' }), /nothing understood as nvidia-smi-csv: this is --query-compute-apps output/);
});
