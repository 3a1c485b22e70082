import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMigLgi, parseMigLgip, parseMigLgipp } from '../../electron/core/gpu/mig-tables.ts';
import { parseSmiCsv } from '../../electron/core/gpu/smi-csv.ts';
import { parseSmiList } from '../../electron/core/gpu/smi-list.ts';
import type { GpuReport, MigProfile } from '../../electron/core/gpu/gpu-report.ts';
import { own, real } from '../support/gpu-fixtures.ts';

const profileRows = (r: GpuReport, gpu = 0) =>
  r.gpus[gpu]!.profiles!.map((p: MigProfile) => [p.name, p.id, p.instancesFree, p.instancesTotal, p.memoryGiB, p.multiprocessors]);

// --- --query-gpu CSV -------------------------------------------------------

test('csv: real P100 nounits output (units only in the header, [N/A])', (t) => {
  const text = real(t, 'netdata-tesla-p100.csv');
  if (!text) return;
  const r = parseSmiCsv(text);
  assert.equal(r.format, 'nvidia-smi-csv');
  assert.equal(r.gpus.length, 1);
  const g = r.gpus[0]!;
  assert.equal(g.index, 0);
  assert.equal(g.product, 'Tesla P100-PCIE-16GB');
  assert.equal(g.uuid, 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6');
  assert.equal(g.memoryUsedMiB, 0);
  assert.equal(g.memoryTotalMiB, null, 'memory.total was not queried');
  assert.equal(g.temperatureC, 37);
  assert.equal(g.powerDrawW, 28.16);
  assert.equal(g.utilizationPct, 0);
  assert.equal(g.migMode, null);
  assert.equal(g.migDevices, null);
  assert.deepEqual(r.warnings, []);
});

test('csv: header with units and values with units, MIG mode, ECC, [N/A] and [Not Supported]', () => {
  const r = parseSmiCsv(own('smi-query-units.csv'));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.driverVersion, '550.90.07');
  assert.equal(r.gpus.length, 3);
  const [g0, g1, g2] = r.gpus as [GpuReport['gpus'][0], GpuReport['gpus'][0], GpuReport['gpus'][0]];
  assert.equal(g0.pciBusId, '00000000:07:00.0');
  assert.equal(g0.memoryTotalMiB, 81920);
  assert.deepEqual(g0.migMode, { current: 'Enabled', pending: 'Enabled' });
  assert.equal(g1.index, 1);
  assert.equal(g1.memoryUsedMiB, 80211);
  assert.equal(g1.powerDrawW, 287.04);
  assert.equal(g1.utilizationPct, 97);
  assert.deepEqual(g1.migMode, { current: 'Disabled', pending: 'Enabled' });
  assert.equal(g1.eccUncorrectable, 0);
  assert.equal(g1.eccUncorrectableAggregate, 3);
  assert.equal(g2.powerDrawW, null);
  assert.equal(g2.utilizationPct, null);
  assert.deepEqual(g2.migMode, { current: null, pending: null });
  assert.equal(g2.eccUncorrectable, null);
  assert.equal(g2.temperatureC, 36);
});

test('csv: noheader output needs the caller\'s field list', () => {
  const text = own('smi-query-noheader.csv');
  const fields = ['index', 'name', 'memory.total', 'memory.used', 'power.draw', 'temperature.gpu'];
  const r = parseSmiCsv(text, { fields });
  assert.deepEqual(r.warnings, []);
  assert.equal(r.gpus.length, 2);
  assert.equal(r.gpus[0]!.product, 'Tesla T4');
  assert.equal(r.gpus[0]!.memoryTotalMiB, 15360);
  assert.equal(r.gpus[0]!.powerDrawW, 26.78);
  assert.equal(r.gpus[1]!.memoryUsedMiB, null);
  assert.equal(r.gpus[1]!.powerDrawW, null, '[Unknown Error] is a no-value marker');
  assert.equal(r.gpus[1]!.temperatureC, 41);

  const blind = parseSmiCsv(text);
  assert.deepEqual(blind.gpus, []);
  assert.match(blind.warnings[0]!, /no header line and no field list/);
});

test('csv: a cut-off row and unreadable values are reported, the rest is kept', () => {
  const cut = parseSmiCsv(own('smi-query-truncated.csv'));
  assert.equal(cut.gpus.length, 2);
  assert.equal(cut.gpus[0]!.temperatureC, 31);
  assert.equal(cut.gpus[0]!.memoryUsedMiB, 512);
  assert.equal(cut.gpus[1]!.memoryUsedMiB, null);
  assert.deepEqual(cut.warnings, ['line 3: 3 value(s) for 5 field(s) (cut short?)']);

  const bad = parseSmiCsv(own('smi-query-garbage-values.csv'));
  const g = bad.gpus[0]!;
  assert.equal(g.memoryTotalMiB, null);
  assert.equal(g.temperatureC, null, 'Fahrenheit is not silently read as Celsius');
  assert.equal(g.powerDrawW, 72.1);
  assert.equal(bad.warnings.length, 2);
  assert.ok(bad.warnings.some((w) => w.includes('memory.total') && w.includes('"lots"')));
  assert.ok(bad.warnings.some((w) => w.includes('temperature.gpu') && w.includes('"40 F"')));
});

// --- nvidia-smi -L -------------------------------------------------------------

test('-L: four A100-80GB with mixed MIG layouts', (t) => {
  const text = real(t, 'nvidia-smi-L-a100-80gb-x4-mig.txt');
  if (!text) return;
  const r = parseSmiList(text);
  assert.equal(r.format, 'nvidia-smi-list');
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.gpus.map((g) => g.index), [0, 1, 2, 3]);
  assert.ok(r.gpus.every((g) => g.product === 'NVIDIA A100-SXM4-80GB'));
  assert.equal(r.gpus[0]!.uuid, 'GPU-b614723c-e261-4605-066e-79daab4c00ff');
  assert.deepEqual(r.gpus.map((g) => g.migDevices!.length), [1, 4, 4, 4]);
  assert.deepEqual(r.gpus[0]!.migDevices![0], {
    index: 0,
    gpuInstanceId: null,
    computeInstanceId: null,
    profileId: null,
    profile: '7g.80gb',
    uuid: 'MIG-dc34c2fd-4bd7-52ad-a6d0-645dcd1794e4',
    placement: null,
    memoryTotalMiB: null,
    multiprocessors: null,
  });
  assert.deepEqual(r.gpus[1]!.migDevices!.map((d) => d.profile), ['2g.20gb', '1g.20gb', '2g.20gb', '2g.20gb']);
  assert.deepEqual(r.gpus[3]!.migDevices!.map((d) => d.index), [0, 1, 2, 3]);
  assert.equal(r.gpus[3]!.migDevices![3]!.uuid, 'MIG-150c2a67-74ea-53c3-a121-319ed514b431');
});

test('-L: inside a pasted session after other output', (t) => {
  const text = real(t, 'node-labels-a100-80gb-pcie-mig-single.txt');
  if (!text) return;
  const r = parseSmiList(text);
  assert.equal(r.gpus.length, 1);
  assert.equal(r.gpus[0]!.product, 'NVIDIA A100 80GB PCIe');
  assert.equal(r.gpus[0]!.migDevices!.length, 7);
  assert.ok(r.gpus[0]!.migDevices!.every((d) => d.profile === '1g.10gb'));
  assert.deepEqual(r.warnings, ['45 line(s) before the first GPU line ignored']);
});

test('-L: R450 MIG-GPU-<uuid>/<gi>/<ci> UUIDs give GI and CI ids', () => {
  const r = parseSmiList(own('smi-L-r450-mixed.txt'));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.gpus.length, 2);
  assert.deepEqual(
    r.gpus[0]!.migDevices!.map((d) => [d.profile, d.gpuInstanceId, d.computeInstanceId]),
    [
      ['3g.20gb', 1, 0],
      ['2g.10gb', 5, 0],
      ['1c.2g.10gb', 6, 1],
    ],
  );
  assert.equal(r.gpus[0]!.migDevices![0]!.uuid, 'MIG-GPU-e91edf3b-b297-37c1-a2a7-7601c3238fa2/1/0');
  assert.deepEqual(r.gpus[1]!.migDevices, []);
});

test('-L: a cut-off line is reported and the complete lines kept', () => {
  const r = parseSmiList(own('smi-L-truncated.txt'));
  assert.equal(r.gpus.length, 1);
  assert.equal(r.gpus[0]!.migDevices!.length, 1);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^line 3: not a GPU or MIG line/);
});

// --- nvidia-smi mig -lgip / -lgipp / -lgi -------------------------------------

test('-lgip: A100 80GB PCIe (R515) from a pasted session with other tables', (t) => {
  const text = real(t, 'a100-80gb-mig-lgip-lgi-lcip.txt');
  if (!text) return;
  const r = parseMigLgip(text);
  assert.equal(r.format, 'mig-lgip');
  assert.equal(r.gpus.length, 1);
  assert.deepEqual(profileRows(r), [
    ['1g.10gb', 19, 7, 7, 9.5, 14],
    ['1g.10gb+me', 20, 1, 1, 9.5, 14],
    ['2g.20gb', 14, 3, 3, 19.5, 28],
    ['3g.40gb', 9, 2, 2, 39.25, 42],
    ['4g.40gb', 5, 1, 1, 39.25, 56],
    ['7g.80gb', 0, 1, 1, 79, 98],
  ]);
  assert.equal(r.gpus[0]!.profiles![0]!.placements, null, '-lgip does not print placements');
  assert.ok(r.warnings.some((w) => w.includes('"GPU instances"') && w.includes('mig-lgi')));
  assert.ok(r.warnings.some((w) => w.includes('"Compute instances"')));
});

test('-lgi: the GPU instances table of the same session', (t) => {
  const text = real(t, 'a100-80gb-mig-lgip-lgi-lcip.txt');
  if (!text) return;
  const r = parseMigLgi(text);
  assert.equal(r.format, 'mig-lgi');
  assert.equal(r.gpus.length, 1);
  assert.deepEqual(
    r.gpus[0]!.migDevices!.map((d) => [d.profile, d.profileId, d.gpuInstanceId, d.placement]),
    [
      ['3g.40gb', 9, 1, { start: 4, size: 4 }],
      ['3g.40gb', 9, 2, { start: 0, size: 4 }],
    ],
  );
});

test('-lgip: H100 PCIe (570.169) and H100 SXM profile tables', (t) => {
  const pcie = real(t, 'h100-pcie-mig-lgip.txt');
  const sxm = pcie && real(t, 'h100-sxm-80gb-mig-lgip.txt');
  if (!pcie || !sxm) return;
  const p = parseMigLgip(pcie);
  assert.deepEqual(p.warnings, []);
  assert.deepEqual(profileRows(p), [
    ['1g.10gb', 19, 7, 7, 9.75, 14],
    ['1g.10gb+me', 20, 1, 1, 9.75, 14],
    ['1g.20gb', 15, 4, 4, 19.62, 14],
    ['2g.20gb', 14, 3, 3, 19.62, 30],
    ['3g.40gb', 9, 2, 2, 39.5, 46],
    ['4g.40gb', 5, 1, 1, 39.5, 62],
    ['7g.80gb', 0, 1, 1, 79.25, 114],
  ]);
  const s = parseMigLgip(sxm);
  assert.deepEqual(s.warnings, []);
  assert.deepEqual(
    s.gpus[0]!.profiles!.map((x) => x.multiprocessors),
    [16, 16, 26, 32, 60, 64, 132],
  );
  assert.equal(s.gpus[0]!.profiles![2]!.name, '1g.20gb');
  assert.equal(s.gpus[0]!.profiles![2]!.memoryGiB, 19.62);
});

test('-lgipp: A100-40GB placements from the MIG User Guide, both "Placements:" and "Placement :"', (t) => {
  const text = real(t, 'a100-40gb-mig-lgipp-mig-user-guide.txt');
  if (!text) return;
  const r = parseMigLgipp(text);
  assert.equal(r.format, 'mig-lgipp');
  assert.deepEqual(r.warnings, []);
  const byId = new Map(r.gpus[0]!.profiles!.map((p) => [p.id, p.placements!.map((x) => `${x.start}:${x.size}`)]));
  assert.deepEqual([...byId.keys()], [19, 20, 15, 14, 9, 5, 0]);
  assert.deepEqual(byId.get(19), ['0:1', '1:1', '2:1', '3:1', '4:1', '5:1', '6:1']);
  assert.deepEqual(byId.get(15), ['0:2', '2:2', '4:2', '6:2']);
  assert.deepEqual(byId.get(9), ['0:4', '4:4']);
  assert.deepEqual(byId.get(5), ['0:4']);
  assert.deepEqual(byId.get(0), ['0:8']);
});

test('-lgipp: several GPUs, and a placement line with no starts', () => {
  const r = parseMigLgipp(own('mig-lgipp-2gpu.txt'));
  assert.deepEqual(r.gpus.map((g) => g.index), [0, 1]);
  assert.deepEqual(r.gpus[1]!.profiles!.map((p) => p.id), [14, 5, 21]);
  assert.deepEqual(r.gpus[1]!.profiles![0]!.placements, [
    { start: 0, size: 2 },
    { start: 2, size: 2 },
  ]);
  assert.deepEqual(r.gpus[1]!.profiles![2]!.placements, []);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^line 6: no \{starts\}:size placement/);
});

test('-lgi: two GPUs, non-sequential GI ids', () => {
  const r = parseMigLgi(own('mig-lgi-h100-2gpu.txt'));
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.gpus.map((g) => g.index), [0, 1]);
  assert.deepEqual(r.gpus[0]!.migDevices!.map((d) => d.gpuInstanceId), [7, 8, 9, 2]);
  assert.deepEqual(r.gpus[0]!.migDevices![3]!.placement, { start: 4, size: 4 });
  assert.deepEqual(
    [r.gpus[1]!.migDevices![0]!.profile, r.gpus[1]!.migDevices![0]!.profileId, r.gpus[1]!.migDevices![0]!.placement],
    ['7g.80gb', 0, { start: 0, size: 8 }],
  );
});

test('-lgip: a cut-off table keeps complete rows and flags the short one', () => {
  const r = parseMigLgip(own('mig-lgip-truncated.txt'));
  assert.deepEqual(profileRows(r), [
    ['1g.12gb', 19, 4, 7, 10.75, 16],
    ['3g.47gb', 9, 0, 2, 46.38, 60],
    ['7g.94gb', 0, 0, 1, null, null],
  ]);
  assert.deepEqual(r.warnings, ['line 12: 4 of 9 columns (cut short?)']);
});

test('-lgip: columns are found by header name, so an added column does not shift them', () => {
  const r = parseMigLgip(own('mig-lgip-a30-newcolumn.txt'));
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(profileRows(r), [
    ['1g.6gb', 14, 4, 4, 5.81, 14],
    ['2g.12gb', 5, 2, 2, 11.69, 28],
    ['4g.24gb', 0, 1, 1, 23.44, 56],
  ]);
});

test('mig tables: text without a table gives a warning and no GPUs', () => {
  for (const parse of [parseMigLgip, parseMigLgi, parseMigLgipp]) {
    const r = parse('No MIG-enabled devices found.');
    assert.deepEqual(r.gpus, []);
    assert.equal(r.warnings.length, 1);
  }
});
