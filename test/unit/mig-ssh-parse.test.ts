import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgiPlacements, diffLayouts, errorLines, formatLayout, parseCgiOutput, parseComputeApps, parseMigModeCsv, sameLayout } from '../../electron/core/mig/mig-ssh-parse.ts';
import { checkPlanShape, previousPlans } from '../../electron/core/mig/mig-ssh-apply.ts';
import type { GpuMigState } from '../../electron/core/mig/mig-ssh-apply.ts';
import { createCommandRegistry, lookupOperation, operationArgv } from '../../electron/core/ssh/command-registry.ts';
import { MIG_MODELS } from '../../shared/gpu/mig-geometry.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

const A100_80 = MIG_MODELS.find((m) => m.key === 'A100-80GB')!;
const A30 = MIG_MODELS.find((m) => m.key === 'A30')!;

test('MIG mode CSV: Enabled/Disabled per GPU, [N/A] for GPUs without MIG', () => {
  const rows = parseMigModeCsv('0, GPU-a, NVIDIA A100-SXM4-80GB, 00000000:18:00.0, Enabled, Enabled\n1, GPU-b, NVIDIA A100-SXM4-80GB, 00000000:2A:00.0, Disabled, Enabled\n2, GPU-c, NVIDIA T4, 00000000:3C:00.0, [N/A], [N/A]\n\ngarbage\n');
  assert.deepEqual(
    rows.map((r) => [r.index, r.uuid, r.name, r.busId, r.current, r.pending]),
    [
      [0, 'GPU-a', 'NVIDIA A100-SXM4-80GB', '00000000:18:00.0', 'Enabled', 'Enabled'],
      [1, 'GPU-b', 'NVIDIA A100-SXM4-80GB', '00000000:2A:00.0', 'Disabled', 'Enabled'],
      [2, 'GPU-c', 'NVIDIA T4', '00000000:3C:00.0', null, null],
    ],
  );
});

test('compute apps CSV: header skipped, units and nounits both read', () => {
  assert.deepEqual(parseComputeApps('pid, gpu_uuid, used_gpu_memory [MiB]\n123, GPU-a, 1024 MiB\n456, GPU-b, 7\n'), [
    { pid: 123, gpuUuid: 'GPU-a', usedMiB: 1024 },
    { pid: 456, gpuUuid: 'GPU-b', usedMiB: 7 },
  ]);
  assert.deepEqual(parseComputeApps('pid, gpu_uuid, used_gpu_memory [MiB]\n'), []);
  assert.deepEqual(parseComputeApps('9, GPU-x, [N/A]'), [{ pid: 9, gpuUuid: 'GPU-x', usedMiB: null }]);
});

test('-cgi output: created GPU and compute instances (padded IDs, as in the real capture) and error lines', () => {
  const real = [
    'Successfully created GPU instance ID  1 on GPU  0 using profile MIG 3g.40gb (ID  9)',
    'Successfully created compute instance ID  0 on GPU  0 GPU instance ID  1 using profile MIG 3g.40gb (ID  2)',
    'Successfully created GPU instance ID 13 on GPU  0 using profile MIG 1g.10gb (ID 19)',
    'Unable to create a GPU instance on GPU  0 using profile 14: Insufficient Resources',
    'Failed to create GPU instances: Insufficient Resources',
  ].join('\n');
  const o = parseCgiOutput(real);
  assert.deepEqual(o.created, [
    { gpuInstanceId: 1, gpu: 0, profile: '3g.40gb', profileId: 9, computeInstanceId: 0 },
    { gpuInstanceId: 13, gpu: 0, profile: '1g.10gb', profileId: 19 },
  ]);
  assert.deepEqual(o.errors, ['Unable to create a GPU instance on GPU  0 using profile 14: Insufficient Resources', 'Failed to create GPU instances: Insufficient Resources']);
  assert.deepEqual(errorLines('Successfully destroyed compute instance ID  0 from GPU  0 GPU instance ID  1\nUnable to destroy GPU instance ID  1 from GPU  0: In use by another client\n'), [
    'Unable to destroy GPU instance ID  1 from GPU  0: In use by another client',
  ]);
  assert.deepEqual(errorLines('something odd\nmore'), ['something odd']);
});

test('-cgi placements: largest first, IDs from the device when it lists them, refused for a profile the model lacks', () => {
  const layout = [
    { profile: '1g.10gb', start: 6 },
    { profile: '3g.40gb', start: 0 },
    { profile: '2g.20gb', start: 4 },
  ];
  assert.equal(cgiPlacements(A100_80, layout), '9:0,14:4,19:6');
  assert.equal(cgiPlacements(A100_80, layout, new Map([['3g.40gb', 2]])), '2:0,14:4,19:6');
  // A30 IDs differ from the A100's for the same slice count.
  assert.equal(cgiPlacements(A30, [{ profile: '2g.12gb', start: 2 }, { profile: '1g.6gb', start: 0 }]), '5:2,14:0');
  assert.throws(() => cgiPlacements(A30, [{ profile: '3g.40gb', start: 0 }]), /not a profile of the A30/);
});

test('layout comparison ignores order and extra fields; formatting is stable', () => {
  const a = [
    { profile: '2g.20gb', start: 4, size: 2 },
    { profile: '3g.40gb', start: 0, size: 4 },
  ];
  assert.ok(sameLayout(a, [{ profile: '3g.40gb', start: 0 }, { profile: '2g.20gb', start: 4 }]));
  assert.ok(!sameLayout(a, [{ profile: '3g.40gb', start: 4 }, { profile: '2g.20gb', start: 0 }]));
  const d = diffLayouts(a, [{ profile: '3g.40gb', start: 0 }, { profile: '1g.10gb', start: 6 }]);
  assert.deepEqual(d, { kept: [{ profile: '3g.40gb', start: 0 }], removed: [{ profile: '2g.20gb', start: 4 }], added: [{ profile: '1g.10gb', start: 6 }] });
  assert.equal(formatLayout(a), '3g.40gb@0,2g.20gb@4');
  assert.equal(formatLayout([]), '(no instances)');
});

test('plan shape: indexes, starts and profile names are checked before anything else', () => {
  const bad = (plan: unknown, re: RegExp) => assert.throws(() => checkPlanShape(plan as never), (e: TesseraError) => e.code === 'INVALID_REQUEST' && re.test(e.message));
  bad({ gpus: [], layout: [] }, /names no GPU/);
  bad({ gpus: [0, 0], layout: [] }, /GPU twice/);
  bad({ gpus: ['0'], layout: [] }, /GPU index "0"/);
  bad({ gpus: [0], layout: [{ profile: '$(reboot)', start: 0 }] }, /not a MIG profile name/);
  bad({ gpus: [0], layout: [{ profile: '1g.10gb', start: 1.5 }] }, /memory-slice index/);
  checkPlanShape({ gpus: [0, 3], layout: [{ profile: '1g.10gb+me', start: 0 }, { profile: '1c.3g.40gb', start: 4 }] });
});

test('previous plans group GPUs by their old layout', () => {
  const gpu = (index: number, layout: string[]): GpuMigState => ({
    index,
    uuid: `GPU-${index}`,
    product: 'NVIDIA A100-SXM4-80GB',
    model: 'A100-80GB',
    mode: { current: 'Enabled', pending: 'Enabled' },
    instances: layout.map((s) => ({ profile: s.split('@')[0]!, start: Number(s.split('@')[1]), size: 0, profileId: null, gpuInstanceId: null })),
    migDevices: layout.length,
  });
  const plans = previousPlans({ before: [gpu(0, ['7g.80gb@0']), gpu(1, ['3g.40gb@0', '3g.40gb@4']), gpu(2, ['7g.80gb@0'])] });
  assert.deepEqual(plans, [
    { gpus: [0, 2], layout: [{ profile: '7g.80gb', start: 0 }], model: 'A100-80GB' },
    { gpus: [1], layout: [{ profile: '3g.40gb', start: 0 }, { profile: '3g.40gb', start: 4 }], model: 'A100-80GB' },
  ]);
});

test('the MIG operations build fixed nvidia-smi command lines and refuse anything but integers and profile:start pairs', () => {
  const registry = createCommandRegistry();
  const argv = (name: string, args?: Record<string, string>) => operationArgv(name, lookupOperation(registry, name), args);
  assert.deepEqual(argv('nvidia-smi.mig-cgi', { gpu: '0', placements: '9:0,14:4,19:6' }), [['nvidia-smi', 'mig', '-cgi', '9:0,14:4,19:6', '-i', '0', '-C']]);
  assert.deepEqual(argv('nvidia-smi.mig-mode', { gpu: '1', mode: '1' }), [['nvidia-smi', '-i', '1', '-mig', '1']]);
  assert.deepEqual(argv('nvidia-smi.gpu-reset', { gpu: '1' }), [['nvidia-smi', '-i', '1', '-r']]);
  assert.deepEqual(argv('nvidia-smi.mig-dci', { gpu: '2' }), [['nvidia-smi', 'mig', '-dci', '-i', '2']]);
  assert.deepEqual(argv('nvidia-smi.mig-dgi', { gpu: '2' }), [['nvidia-smi', 'mig', '-dgi', '-i', '2']]);
  assert.deepEqual(argv('nvidia-smi.compute-apps'), [['nvidia-smi', '--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv']]);
  assert.deepEqual(argv('nvidia-smi.mig-mode-query'), [['nvidia-smi', '--query-gpu=index,uuid,name,pci.bus_id,mig.mode.current,mig.mode.pending', '--format=csv,noheader']]);
  assert.throws(() => argv('nvidia-smi.mig-cgi', { gpu: '0', placements: '3g.40gb' }), /profile-id:start pairs/);
  assert.throws(() => argv('nvidia-smi.mig-cgi', { gpu: '0', placements: '9:0;reboot' }), /profile-id:start pairs/);
  assert.throws(() => argv('nvidia-smi.mig-mode', { gpu: '0', mode: '2' }), /1 \(enable\) or 0/);
  assert.throws(() => argv('nvidia-smi.mig-dgi', {}), /needs "gpu"/, 'mutating operations never default to all GPUs');
});
