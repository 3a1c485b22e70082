// Every read-only operation Tessera sends to a GPU host, captured on a real
// H100 80GB HBM3 (driver 580.159.04) idle and under a matmul load, read by the
// parser Tessera applies to that operation's output. See
// test/fixtures/gpu/h100-ops/README.md for how they were taken.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseSmiCsv, parseSmiXml } from '../../electron/core/gpu/index.ts';
import { xidsByGpu } from '../../electron/core/gpu/kernel-xids.ts';
import { parseMigLgi, parseMigLgip } from '../../electron/core/gpu/mig-tables.ts';
import { parseComputeApps, parseMigModeCsv } from '../../electron/core/mig/mig-ssh-parse.ts';
import { newBoot, parseVersions } from '../../electron/core/rollouts/executors/ssh-executor.ts';
import { SMI_CSV_FIELDS } from '../../electron/core/ssh/command-registry.ts';
import { ownDir } from '../support/gpu-fixtures.ts';

const dir = path.join(ownDir, 'h100-ops');
const cap = (state: 'idle' | 'busy', file: string) => fs.readFileSync(path.join(dir, state, file), 'utf8');
const rc = (state: 'idle' | 'busy', file: string) => Number(cap(state, `${file}.rc`).trim());
const UUID = 'GPU-4590f021-a8df-5bc9-e400-0567c625a067';
const PRODUCT = 'NVIDIA H100 80GB HBM3';

test('h100-ops: nvidia-smi.query (-q -x) and nvidia-smi.csv agree, idle and under load', () => {
  for (const state of ['idle', 'busy'] as const) {
    const xml = parseSmiXml(cap(state, 'nvidia-smi.query.xml'));
    const one = parseSmiXml(cap(state, 'nvidia-smi.query-i0.xml'));
    const csv = parseSmiCsv(cap(state, 'nvidia-smi.csv.txt'), { fields: SMI_CSV_FIELDS });
    for (const r of [xml, one, csv]) {
      assert.deepEqual(r.warnings, [], state);
      assert.equal(r.gpus.length, 1);
      assert.equal(r.gpus[0]!.uuid, UUID);
      assert.equal(r.gpus[0]!.product, PRODUCT);
      assert.equal(r.gpus[0]!.memoryTotalMiB, 81559);
    }
    assert.equal(xml.driverVersion, '580.159.04');
    assert.equal(csv.driverVersion, '580.159.04');
    assert.equal(xml.cudaVersion, '13.0');
    // Sampled a moment apart, so the busy readings are close, not equal.
    const [x, c] = [xml.gpus[0]!, csv.gpus[0]!];
    assert.equal(x.memoryUsedMiB, c.memoryUsedMiB);
    assert.ok(Math.abs(x.temperatureC! - c.temperatureC!) <= 2, `${x.temperatureC} vs ${c.temperatureC}`);
    assert.ok(Math.abs(x.powerDrawW! - c.powerDrawW!) <= 25, `${x.powerDrawW} vs ${c.powerDrawW}`);
  }
  const idle = parseSmiXml(cap('idle', 'nvidia-smi.query.xml')).gpus[0]!;
  const busy = parseSmiXml(cap('busy', 'nvidia-smi.query.xml')).gpus[0]!;
  assert.equal(idle.utilizationPct, 0);
  assert.equal(idle.memoryUsedMiB, 0);
  assert.equal(busy.utilizationPct, 100);
  assert.equal(busy.memoryUsedMiB, 1139);
  assert.ok(busy.powerDrawW! > 600 && busy.powerDrawW! <= 700, `a saturated H100 SXM draws near its 700 W cap: ${busy.powerDrawW}`);
  assert.ok(busy.temperatureC! > idle.temperatureC!, 'warmer under load');
});

test('h100-ops: compute-apps and the XML name the process and its memory under load, and nothing when idle', () => {
  assert.deepEqual(parseComputeApps(cap('busy', 'nvidia-smi.compute-apps.txt')), [{ pid: 649, gpuUuid: UUID, usedMiB: 1130 }]);
  assert.deepEqual(parseComputeApps(cap('idle', 'nvidia-smi.compute-apps.txt')), []);
  assert.deepEqual(parseSmiXml(cap('busy', 'nvidia-smi.query.xml')).gpus[0]!.processes, [{ pid: 649, type: 'C', name: 'python3', usedMemoryMiB: 1130, gpuInstanceId: null, computeInstanceId: null }]);
  assert.deepEqual(parseSmiXml(cap('idle', 'nvidia-smi.query.xml')).gpus[0]!.processes, []);
});

test('h100-ops: MIG reads on a GPU with MIG off: mode Disabled, 7 profiles offered, no instances', () => {
  assert.deepEqual(parseMigModeCsv(cap('idle', 'nvidia-smi.mig-mode-query.txt')), [{ index: 0, uuid: UUID, name: PRODUCT, busId: '00000000:00:06.0', current: 'Disabled', pending: 'Disabled' }]);
  const profiles = parseMigLgip(cap('idle', 'nvidia-smi.mig-lgip.txt')).gpus[0]!.profiles!;
  assert.deepEqual(profiles.map((p) => p.name), ['1g.10gb', '1g.10gb+me', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb']);
  // "No MIG-enabled devices found." with exit 0: no instances, never an error.
  assert.equal(rc('idle', 'nvidia-smi.mig-lgi.txt'), 0);
  assert.deepEqual(parseMigLgi(cap('idle', 'nvidia-smi.mig-lgi.txt')).gpus, []);
});

test('h100-ops: what the SSH rollout reads: driver version, boot time, bus ids, and XIDs from dmesg (this host has no journalctl)', () => {
  assert.deepEqual(parseVersions(cap('idle', 'recipe-driver.version.txt')), { version: '580.159.04', detail: '1 GPU(s) report 580.159.04' });
  const boot = cap('idle', 'host.boot-time.txt');
  assert.equal(newBoot(boot, cap('busy', 'host.boot-time.txt')), false, 'the same boot a minute later');
  assert.equal(newBoot(boot, '2026-11-23 05:00:00'), true);
  // The real ring buffer: "[    0.751234] NVRM: ..." lines, none an XID.
  const dmesg = cap('idle', 'gpu.xids.dmesg.txt');
  assert.match(dmesg, /^\[\s+\d+\.\d{6}\] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64 {2}580\.159\.04/m);
  assert.deepEqual(xidsByGpu(dmesg, cap('idle', 'gpu.bus-ids.txt')), { '0': 0 });
  const withXid = `${dmesg}[ 4242.000001] NVRM: Xid (PCI:0000:00:06): 79, pid=649, name=python3, GPU has fallen off the bus.\n`;
  assert.deepEqual(xidsByGpu(withXid, cap('idle', 'gpu.bus-ids.txt')), { '0': 79 });
  assert.equal(rc('idle', 'gpu.xids.journal.txt'), 127, 'journalctl is not installed on this host');
});
