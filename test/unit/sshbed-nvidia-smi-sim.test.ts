/**
 * The sshbed's nvidia-smi stand-in: MIG rules as real hardware enforces them,
 * output the real parsers read, and the real texts for each refusal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMigLgi, parseMigLgip, parseMigLgipp } from '../../electron/core/gpu/mig-tables.ts';
import { parseSmiList } from '../../electron/core/gpu/smi-list.ts';
import { parseCgiOutput, parseComputeApps, parseMigModeCsv } from '../../electron/core/mig/mig-ssh-parse.ts';
import { install } from '../sshbed/sim/driver-install.ts';
import { run } from '../sshbed/sim/nvidia-smi.ts';
import { readHardware, readSimState, writeSimState } from '../sshbed/sim/sim-state.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function host(rows = ['0|NVIDIA A100-SXM4-80GB|GPU-a100|81920|0|0|30|60.5|550.54.15|00000000:18:00.0', '1|NVIDIA H100 80GB HBM3|GPU-h100|81559|0|0|31|70|550.54.15|00000000:2A:00.0', '2|NVIDIA GeForce RTX 4090|GPU-4090|24564|0|0|32|30|550.54.15|00000000:3C:00.0']): { dir: string; smi: (...a: string[]) => { stdout: string; exitCode: number } } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-smi-sim-'));
  fs.writeFileSync(path.join(dir, 'gpus.state'), rows.join('\n') + '\n');
  return { dir, smi: (...a) => run(dir, a) };
}

const MODE = ['--query-gpu=index,uuid,name,pci.bus_id,mig.mode.current,mig.mode.pending', '--format=csv,noheader'];

test('MIG mode: pending until a reset on an A100, at once on an H100, refused on a GPU without MIG', () => {
  const { smi } = host();
  assert.equal(smi('mig', '-lgi').stdout, 'No MIG-enabled devices found.\n');
  assert.equal(smi('mig', '-lgi').exitCode, 6);

  const a100 = smi('-i', '0', '-mig', '1');
  assert.equal(a100.exitCode, 0);
  assert.match(a100.stdout, /^Warning: MIG mode is in pending enable state for GPU 00000000:18:00\.0:Not Supported\nReboot the system or try nvidia-smi --gpu-reset/);
  assert.deepEqual(
    parseMigModeCsv(smi(...MODE).stdout).map((m) => [m.index, m.current, m.pending]),
    [
      [0, 'Disabled', 'Enabled'],
      [1, 'Disabled', 'Disabled'],
      [2, null, null],
    ],
  );
  assert.equal(smi('-r').exitCode, 2, 'a reset names its GPU');
  assert.equal(smi('-i', '0', '-r').stdout, 'GPU 00000000:18:00.0 was successfully reset.\nAll done.\n');
  assert.equal(parseMigModeCsv(smi(...MODE).stdout)[0]!.current, 'Enabled');

  assert.equal(smi('-i', '1', '-mig', '1').stdout, 'Enabled MIG Mode for GPU 00000000:2A:00.0\nAll done.\n');
  assert.equal(parseMigModeCsv(smi(...MODE).stdout)[1]!.current, 'Enabled');

  const rtx = smi('-i', '2', '-mig', '1');
  assert.equal(rtx.exitCode, 3);
  assert.match(rtx.stdout, /Unable to enable MIG Mode for GPU 00000000:3C:00\.0: Not Supported/);
  assert.equal(smi('-i', '7', '-mig', '1').stdout, 'No devices were found\n');
});

test('instances at placements read back through the real parsers; -L lists MIG devices with MIG- UUIDs', () => {
  const { smi } = host();
  smi('-i', '1', '-mig', '1');
  const created = smi('mig', '-i', '1', '-cgi', '9:0,14:4,19:6', '-C');
  assert.equal(created.exitCode, 0, created.stdout);
  const outcome = parseCgiOutput(created.stdout);
  assert.deepEqual(outcome.created.map((c) => [c.profile, c.profileId, c.computeInstanceId]), [
    ['3g.40gb', 9, 0],
    ['2g.20gb', 14, 0],
    ['1g.10gb', 19, 0],
  ]);
  // GI IDs come from per-size pools, as on real GPUs: not 1, 2, 3.
  assert.deepEqual(outcome.created.map((c) => c.gpuInstanceId), [1, 3, 7]);

  const lgi = parseMigLgi(smi('mig', '-lgi', '-i', '1').stdout);
  assert.deepEqual(lgi.warnings, []);
  assert.deepEqual(lgi.gpus[0]!.migDevices!.map((d) => [d.profile, d.placement?.start, d.placement?.size, d.gpuInstanceId]), [
    ['3g.40gb', 0, 4, 1],
    ['2g.20gb', 4, 2, 3],
    ['1g.10gb', 6, 1, 7],
  ]);
  const list = parseSmiList(smi('-L').stdout);
  assert.deepEqual(list.warnings, []);
  assert.deepEqual(list.gpus[1]!.migDevices!.map((d) => d.profile), ['3g.40gb', '2g.20gb', '1g.10gb']);
  for (const d of list.gpus[1]!.migDevices!) assert.match(d.uuid ?? '', /^MIG-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const lgip = parseMigLgip(smi('mig', '-lgip', '-i', '1').stdout);
  const free = Object.fromEntries(lgip.gpus[0]!.profiles!.map((p) => [p.name, `${p.instancesFree}/${p.instancesTotal}`]));
  // Slice 7 is free, but no 1g profile may start there.
  assert.deepEqual(free, { '1g.10gb': '0/7', '1g.10gb+me': '0/1', '1g.20gb': '0/4', '2g.20gb': '0/3', '3g.40gb': '0/2', '4g.40gb': '0/1', '7g.80gb': '0/1' });
  const lgipp = parseMigLgipp(smi('mig', '-lgipp', '-i', '1').stdout);
  assert.deepEqual(lgipp.gpus[0]!.profiles!.find((p) => p.id === 9)!.placements, [
    { start: 0, size: 4 },
    { start: 4, size: 4 },
  ]);
  assert.match(smi('mig', '-lgipp', '-i', '1').stdout, /GPU  1 Profile ID  0 Placement : \{0\}:8/);
});

test('illegal placements, overlaps, counts and unknown profiles are refused as nvidia-smi refuses them, keeping what was created before', () => {
  const { dir, smi } = host();
  smi('-i', '1', '-mig', '1');
  const bad = smi('mig', '-i', '1', '-cgi', '9:2');
  assert.equal(bad.exitCode, 2);
  assert.equal(bad.stdout, 'Unable to create a GPU instance on GPU  1 using profile 9 at placement 2:4: Invalid placement\nFailed to create GPU instances: Invalid Argument\n');

  assert.equal(smi('mig', '-i', '1', '-cgi', '9:4', '-C').exitCode, 0);
  const overlap = smi('mig', '-i', '1', '-cgi', '19:0,14:4', '-C');
  assert.equal(overlap.exitCode, 255);
  assert.match(overlap.stdout, /^Successfully created GPU instance ID\s+7 on GPU\s+1 using profile MIG 1g\.10gb/);
  assert.match(overlap.stdout, /Unable to create a GPU instance on GPU  1 using profile 14: Insufficient Resources\nFailed to create GPU instances: Insufficient Resources\n$/);
  assert.equal(readSimState(dir).gpus['1']!.instances.length, 2, 'the 1g.10gb made before the failure stays, as on real hardware');

  const me = smi('mig', '-i', '1', '-cgi', '20:1,20:2');
  assert.match(me.stdout, /Successfully created GPU instance ID\s+\d+ on GPU\s+1 using profile MIG 1g\.10gb\+me[\s\S]*profile 20: Insufficient Resources/, 'only one +me instance per GPU');

  const unknown = smi('mig', '-i', '1', '-cgi', '42');
  assert.equal(unknown.exitCode, 6);
  assert.match(unknown.stdout, /using profile 42: Not Found/);
  assert.equal(smi('mig', '-i', '1', '-cgi', '9;reboot').exitCode, 2);

  // Without a placement the driver picks the highest free start: 3g.40gb then has no room.
  assert.match(smi('mig', '-i', '1', '-cgi', '9').stdout, /Insufficient Resources/);
});

test('teardown order is enforced, processes block it, and a reset loses the instances', () => {
  const { dir, smi } = host();
  smi('-i', '0', '-mig', '1');
  smi('-i', '0', '-r');
  smi('mig', '-i', '0', '-cgi', '9:0,9:4', '-C');
  const gis = smi('mig', '-dgi', '-i', '0');
  assert.equal(gis.exitCode, 255);
  assert.match(gis.stdout, /^Unable to destroy GPU instance ID\s+1 from GPU\s+0: In use by another client\nFailed to destroy GPU instances: In use by another client\n$/);
  assert.match(smi('-i', '0', '-mig', '0').stdout, /Unable to disable MIG Mode for GPU 00000000:18:00\.0: In use by another client/);

  const mig = parseSmiList(smi('-L').stdout).gpus[0]!.migDevices![0]!.uuid!;
  const state = readSimState(dir);
  state.processes = [{ pid: 4242, gpuUuid: mig, usedMiB: 1200 }];
  writeSimState(dir, state);
  const apps = smi('--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv');
  assert.equal(apps.stdout, 'pid, gpu_uuid, used_gpu_memory [MiB]\n4242, GPU-a100, 1200 MiB\n');
  assert.deepEqual(parseComputeApps(apps.stdout), [{ pid: 4242, gpuUuid: 'GPU-a100', usedMiB: 1200 }]);
  assert.match(smi('mig', '-dci', '-i', '0').stdout, /In use by another client\nFailed to destroy compute instances: In use by another client/);
  const reset = smi('-i', '0', '-r');
  assert.equal(reset.exitCode, 255);
  assert.match(reset.stdout, /^The following GPUs could not be reset:\n  GPU 00000000:18:00\.0: In use by another client/);

  writeSimState(dir, { ...readSimState(dir), processes: [] });
  assert.match(smi('mig', '-dci', '-i', '0').stdout, /^Successfully destroyed compute instance ID\s+0 from GPU\s+0 GPU instance ID\s+1/);
  assert.equal(smi('mig', '-dci', '-i', '0').stdout, 'No compute instances found: Not Found\n');
  assert.equal(smi('mig', '-dgi', '-i', '0').exitCode, 0);
  assert.equal(smi('mig', '-lgi', '-i', '0').stdout, 'No GPU instances found: Not Found\n');

  smi('mig', '-i', '0', '-cgi', '0:0', '-C');
  assert.equal(smi('-i', '0', '-r').exitCode, 0);
  assert.equal(readSimState(dir).gpus['0']!.instances.length, 0);
});

test('the old formats are unchanged: CSV with units, XML with the MIG mode, bad arguments refused', () => {
  const { smi } = host();
  assert.equal(smi('--query-gpu=index,memory.total,power.draw', '--format=csv').stdout, 'index, memory.total [MiB], power.draw [W]\n0, 81920 MiB, 60.50 W\n1, 81559 MiB, 70.00 W\n2, 24564 MiB, 30.00 W\n');
  assert.equal(smi('--query-gpu=bogus', '--format=csv').exitCode, 2);
  assert.equal(smi('--frobnicate').exitCode, 2);
  smi('-i', '1', '-mig', '1');
  const xml = smi('-q', '-x', '-i', '1').stdout;
  assert.match(xml, /<current_mig>Enabled<\/current_mig>/);
  assert.match(xml, /<driver_version>550\.54\.15<\/driver_version>/);
  assert.match(smi('-q', '-x', '-i', '2').stdout, /<current_mig>N\/A<\/current_mig>/);
});

test('the driver installer changes the version every GPU reports, and fails when the fault is armed', () => {
  const { dir, smi } = host();
  const log: string[] = [];
  assert.equal(install(dir, ['not-a-version'], (s) => log.push(s)), 2);
  assert.equal(install(dir, ['560.35.03'], (s) => log.push(s)), 0);
  assert.ok(readHardware(dir).every((g) => g.driver === '560.35.03'));
  assert.match(smi('-q', '-x').stdout, /<driver_version>560\.35\.03<\/driver_version>/);
  fs.writeFileSync(path.join(dir, 'driver-install.fail'), '');
  assert.equal(install(dir, ['570.86.10'], (s) => log.push(s)), 1);
  assert.match(log.join(''), /ERROR: An error occurred while performing the step: "Building kernel modules"/);
  assert.ok(readHardware(dir).every((g) => g.driver === '560.35.03'));
  // While an install runs the driver is half there: nvidia-smi fails as without a driver.
  fs.writeFileSync(path.join(dir, 'driver-installing'), '570.86.10\n');
  assert.equal(smi('-L').exitCode, 9);
});

test('the wrapper runs the stand-in under the project Node with strip-types (as sshd would start it)', () => {
  const { dir } = host();
  const r = spawnSync(path.join(root, 'node_modules/.bin/node'), ['--experimental-strip-types', '--no-warnings', path.join(root, 'test/sshbed/sim/nvidia-smi.ts'), '-L'], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', TESSERA_SIM_DIR: dir },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^GPU 0: NVIDIA A100-SXM4-80GB \(UUID: GPU-a100\)\n/);
  assert.equal(fs.readFileSync(path.join(dir, 'nvidia-smi.calls'), 'utf8'), '-L\n');
});
