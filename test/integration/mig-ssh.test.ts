/**
 * MIG layouts applied over SSH against a real sshd host whose nvidia-smi
 * stand-in enforces MIG geometry, mode changes, resets and process checks.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyMigOverSsh, previousPlans } from '../../electron/core/mig/mig-ssh-apply.ts';
import type { MigSshPlan, MigSshResult, MigSshStep } from '../../electron/core/mig/mig-ssh-apply.ts';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { SshPool } from '../../electron/core/ssh/ssh-pool.ts';
import type { SshTarget } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { AuditInput } from '../../shared/model/audit.ts';
import { sshBedUnavailable, startSshBed, targetOf } from '../sshbed/index.ts';
import type { FakeGpu, SshBed, SshdHost } from '../sshbed/index.ts';

const A100 = (i: number): FakeGpu => ({
  name: 'NVIDIA A100-SXM4-80GB',
  uuid: `GPU-a100000${i}-1111-2222-3333-444455556666`,
  memTotalMiB: 81920,
  memUsedMiB: 0,
  utilization: 0,
  temperatureC: 35,
  powerW: 60,
  driver: '550.54.15',
  busId: `00000000:${(0x18 + i * 0x12).toString(16).toUpperCase()}:00.0`,
});

const LAYOUT = [
  { profile: '3g.40gb', start: 0 },
  { profile: '2g.20gb', start: 4 },
  { profile: '1g.10gb', start: 6 },
];
const MUTATING = /(^| )(-mig|-r|-cgi|-dci|-dgi)( |$)/;

describe('MIG over SSH against a real sshd host', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let host: SshdHost;
  let pool: SshPool;
  let target: SshTarget;
  const audit: AuditInput[] = [];
  const record = async (e: AuditInput): Promise<void> => {
    audit.push(e);
  };
  const apply = (plan: MigSshPlan, extra: Partial<Parameters<typeof applyMigOverSsh>[0]> = {}): Promise<MigSshResult> => applyMigOverSsh({ pool, target, plan, record, ...extra });
  const layoutOf = (r: MigSshResult, gpu: number) => r.after?.find((g) => g.index === gpu)?.instances.map((i) => `${i.profile}@${i.start}`);

  before(async () => {
    bed = await startSshBed({ count: 1, host: () => ({ gpus: [A100(0), A100(1)] }) });
    host = bed.hosts[0]!;
    pool = new SshPool({ hostKeys: new KnownHosts({ dataDir: path.join(bed.root, 'data'), userFiles: [bed.knownHostsFile] }) });
    target = targetOf(host, [{ type: 'key', privateKey: bed.clientKey.privateKey }]);
  });
  after(async () => {
    await pool?.closeAll();
    await bed?.stop();
  });

  test('applies 3g.40gb@0,2g.20gb@4,1g.10gb@6 to an A100-80GB: MIG mode on, GPU reset, instances created and read back', async () => {
    audit.length = 0;
    const events: [string, 'start' | 'end'][] = [];
    const r = await apply({ gpus: [0], layout: LAYOUT, model: 'A100-80GB' }, { onStep: (s: MigSshStep, phase) => events.push([s.name, phase]) });
    assert.equal(r.ok, true, JSON.stringify(r.failed ?? r.refused));
    assert.deepEqual(r.before[0]!.mode, { current: 'Disabled', pending: 'Disabled' });
    const names = r.steps.map((s) => s.name);
    assert.deepEqual(names.slice(0, 3), ['read-devices', 'read-mig-mode', 'read-processes']);
    // An A100 keeps the new mode pending until a reset.
    assert.deepEqual(
      names.filter((n) => ['enable-mig', 'reset-gpu', 'read-profiles', 'create-gpu-instances'].includes(n)),
      ['enable-mig', 'reset-gpu', 'read-profiles', 'create-gpu-instances'],
    );
    assert.ok(!names.includes('destroy-gpu-instances'), 'nothing to destroy on a GPU that had MIG off');
    const create = r.steps.find((s) => s.name === 'create-gpu-instances')!;
    assert.match(create.command, /nvidia-smi mig -cgi 9:0,14:4,19:6 -i 0 -C/);
    assert.equal(create.exitCode, 0);
    assert.deepEqual((create.parsed as { profile: string }[]).map((c) => c.profile), ['3g.40gb', '2g.20gb', '1g.10gb']);
    assert.ok(r.steps.every((s) => s.ok && typeof s.durationMs === 'number' && s.command.includes('nvidia-smi')));
    assert.equal(events.length, r.steps.length * 2, 'every step is reported when it starts and when it ends');
    assert.deepEqual(layoutOf(r, 0), ['3g.40gb@0', '2g.20gb@4', '1g.10gb@6']);
    assert.deepEqual(r.diff[0]!.diff.added, []);
    assert.deepEqual(r.diff[0]!.diff.removed, []);
    assert.deepEqual(
      audit.map((a) => a.outcome),
      ['started', 'succeeded'],
    );
    assert.equal(audit[1]!.action, 'mig.ssh.apply');
    assert.deepEqual(audit[1]!.after, [{ gpu: 0, mig: 'Enabled', layout: '3g.40gb@0,2g.20gb@4,1g.10gb@6' }]);
    // The host itself agrees: three MIG devices under GPU 0, none under GPU 1.
    assert.equal(host.nvidiaSmi('-L').stdout.split('\n').filter((l) => l.startsWith('  MIG')).length, 3);

    const again = await apply({ gpus: [0], layout: LAYOUT });
    assert.equal(again.ok, true);
    assert.equal(again.unchanged, true, 'applying the same layout twice changes nothing');
    assert.ok(!again.steps.some((s) => MUTATING.test(s.command)));
  });

  test('an illegal plan is refused before any command runs; malformed input too', async () => {
    host.clearNvidiaSmiCalls();
    audit.length = 0;
    const r = await apply({
      gpus: [1],
      model: 'A100-80GB',
      layout: [
        { profile: '3g.40gb', start: 2 },
        { profile: '4g.40gb', start: 0 },
      ],
    });
    assert.equal(r.ok, false);
    assert.equal(r.refused?.reason, 'invalid-plan');
    assert.ok(r.refused!.problems.some((p) => /3g\.40gb at slice 2: this profile may only start at slices 0 or 4/.test(p)), r.refused!.problems.join('\n'));
    assert.ok(r.refused!.problems.some((p) => /overlaps/.test(p)));
    assert.deepEqual(r.steps, []);

    const shape = await apply({ gpus: [-1], layout: [{ profile: '3g.40gb; reboot', start: 0 }] });
    assert.equal(shape.refused?.reason, 'invalid-request');
    assert.match(shape.refused!.problems[0]!, /GPU index -1/);
    const profile = await apply({ gpus: [1], layout: [{ profile: '3g.40gb; reboot', start: 0 }] });
    assert.match(profile.refused!.problems[0]!, /is not a MIG profile name/);
    assert.deepEqual(host.nvidiaSmiCalls(), [], 'no nvidia-smi ran');

    // Without a model the plan is checked against the GPU the host reports, still before any change.
    const late = await apply({ gpus: [1], layout: [{ profile: '7g.80gb', start: 0 }, { profile: '1g.10gb', start: 0 }] });
    assert.equal(late.refused?.reason, 'invalid-plan');
    assert.ok(host.nvidiaSmiCalls().length > 0);
    assert.ok(!host.nvidiaSmiCalls().some((c) => MUTATING.test(c)), host.nvidiaSmiCalls().join('\n'));
    const missing = await apply({ gpus: [5], layout: [] });
    assert.equal(missing.refused?.reason, 'unknown-gpu');
    assert.match(missing.refused!.problems[0]!, /GPU 5: the host has no such GPU \(it has 0, 1\)/);
    assert.deepEqual(audit, [], 'refusals change nothing, so nothing is recorded as an apply');
  });

  test('a placement taken out of band between read and create is reported with nvidia-smi\u2019s message', async () => {
    audit.length = 0;
    let sneaked = false;
    const r = await apply(
      { gpus: [1], layout: [{ profile: '3g.40gb', start: 0 }, { profile: '3g.40gb', start: 4 }], model: 'A100-80GB' },
      {
        onStep: (s, phase) => {
          // Someone on the box creates an instance after Tessera read the GPU and before it creates its own.
          if (s.name === 'read-profiles' && phase === 'end' && !sneaked) {
            sneaked = true;
            assert.equal(host.nvidiaSmi('mig', '-i', '1', '-cgi', '19:1', '-C').exitCode, 0);
          }
        },
      },
    );
    assert.ok(sneaked);
    assert.equal(r.ok, false);
    assert.equal(r.failed?.step, 'create-gpu-instances');
    assert.equal(r.failed?.gpu, 1);
    assert.match(r.failed!.message, /Unable to create a GPU instance on GPU {2}1 using profile 9: Insufficient Resources/);
    assert.match(r.failed!.output, /Failed to create GPU instances: Insufficient Resources/);
    const create = r.steps.find((s) => s.name === 'create-gpu-instances')!;
    assert.equal(create.exitCode, 255);
    assert.equal(r.steps[r.steps.length - 1]!.name, 'read-back', 'the GPU is read back after the failure');
    assert.deepEqual(layoutOf(r, 1), ['1g.10gb@1'], 'what is really on the GPU now');
    assert.deepEqual(r.diff[0]!.diff.added.map((i) => `${i.profile}@${i.start}`), ['3g.40gb@0', '3g.40gb@4']);
    assert.deepEqual(
      audit.map((a) => a.outcome),
      ['started', 'failed'],
    );
    assert.match(String((audit[1]!.error as { message: string }).message), /Insufficient Resources/);
  });

  test('running GPU processes refuse the apply unless forced; forced, nvidia-smi itself refuses and the run stops there', async () => {
    const mig = host.nvidiaSmi('-L').stdout.match(/MIG 3g\.40gb\s+Device\s+0: \(UUID: (MIG-[^)]+)\)/)![1]!;
    host.setGpuProcesses([{ pid: 31337, gpuUuid: mig, usedMiB: 2048, name: 'python3' }]);
    try {
      host.clearNvidiaSmiCalls();
      const plan = { gpus: [0], layout: [{ profile: '7g.80gb', start: 0 }] };
      const r = await apply(plan);
      assert.equal(r.refused?.reason, 'processes-running');
      assert.deepEqual(r.refused!.processes!.map((p) => p.pid), [31337]);
      assert.match(r.refused!.problems[0]!, /process 31337 uses GPU 0 \(2048 MiB\)/);
      assert.ok(!host.nvidiaSmiCalls().some((c) => MUTATING.test(c)));

      const forced = await apply(plan, { force: true });
      assert.equal(forced.ok, false);
      assert.equal(forced.failed?.step, 'destroy-compute-instances');
      assert.match(forced.failed!.message, /In use by another client/);
      assert.ok(!forced.steps.some((s) => s.name === 'create-gpu-instances'), 'it stops at the first failed step');
      assert.deepEqual(layoutOf(forced, 0), ['3g.40gb@0', '2g.20gb@4', '1g.10gb@6'], 'the layout is untouched');
    } finally {
      host.setGpuProcesses([]);
    }
  });

  test('an abort stops between steps, and the previous layout can be restored', async () => {
    audit.length = 0;
    const ac = new AbortController();
    const stopped = await apply(
      { gpus: [0], layout: [{ profile: '7g.80gb', start: 0 }] },
      { signal: ac.signal, onStep: (s, phase) => (s.name === 'destroy-compute-instances' && phase === 'end' ? ac.abort() : undefined) },
    );
    assert.equal(stopped.aborted, true);
    assert.equal(stopped.ok, false);
    assert.equal(stopped.steps[stopped.steps.length - 1]!.name, 'destroy-compute-instances');
    assert.equal(audit[audit.length - 1]!.outcome, 'cancelled');
    // Compute instances are gone, GPU instances are still there: the state a stop between steps leaves.
    const gis = host.simState().gpus['0']!.instances;
    assert.equal(gis.length, 3);
    assert.ok(gis.every((g) => g.cis.length === 0));
    // The same GPU instances without compute instances are not "already applied": they are unusable.
    const repaired = await apply({ gpus: [0], layout: LAYOUT });
    assert.equal(repaired.ok, true, JSON.stringify(repaired.failed));
    assert.notEqual(repaired.unchanged, true);
    assert.equal(repaired.before[0]!.migDevices, 0);
    assert.equal(repaired.after![0]!.migDevices, 3);

    const changed = await apply({ gpus: [0], layout: [{ profile: '1g.10gb', start: 0 }, { profile: '1g.10gb', start: 1 }, { profile: '2g.20gb', start: 2 }, { profile: '3g.40gb', start: 4 }] });
    assert.equal(changed.ok, true, JSON.stringify(changed.failed));
    assert.deepEqual(layoutOf(changed, 0), ['1g.10gb@0', '1g.10gb@1', '2g.20gb@2', '3g.40gb@4']);
    assert.deepEqual(
      changed.steps.filter((s) => s.name.startsWith('destroy')).map((s) => s.name),
      ['destroy-compute-instances', 'destroy-gpu-instances'],
    );

    const [back, ...more] = previousPlans(changed);
    assert.equal(more.length, 0);
    assert.deepEqual(back!.layout, [
      { profile: '3g.40gb', start: 0 },
      { profile: '2g.20gb', start: 4 },
      { profile: '1g.10gb', start: 6 },
    ]);
    const restored = await apply(back!);
    assert.equal(restored.ok, true, JSON.stringify(restored.failed));
    assert.deepEqual(layoutOf(restored, 0), ['3g.40gb@0', '2g.20gb@4', '1g.10gb@6']);
    assert.ok(host.simState().gpus['0']!.instances.every((g) => g.cis.length === 1), 'each restored GPU instance has its compute instance again');
  });
});
