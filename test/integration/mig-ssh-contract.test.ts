/**
 * MIG over SSH through the contract (Router → core → hosts store → real sshd
 * with the nvidia-smi stand-in): a host from the Hosts list gets a layout, the
 * steps and the read-back come back, an illegal layout is refused before any
 * command, and the apply is in the audit trail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { Router } from '../../electron/host/router.ts';
import type { HostTrustResult } from '../../shared/contract/hosts.ts';
import type { HostTestResult, SshHost } from '../../shared/model/host.ts';
import type { MigSshApplyView } from '../../shared/model/mig.ts';
import { sshBedUnavailable, startSshBed, type SshBed, type SshdHost } from '../sshbed/index.ts';

describe('MIG over SSH through the contract', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let gpuHost: SshdHost;
  let core: Core;
  let router: Router;
  let hostId = '';

  async function call<T>(method: string, params: unknown): Promise<T> {
    const r = await router.call(method, params);
    if (!r.ok) throw Object.assign(new Error(r.error.message), r.error);
    return r.result as T;
  }

  before(async () => {
    bed = await startSshBed({ count: 0 });
    gpuHost = await bed.addHost({ name: 'edge-a100', gpus: [0, 1].map((i) => ({ name: 'NVIDIA A100-SXM4-80GB', uuid: `GPU-${i}a1b2c3d-4444-5555-6666-77778888999${i}`, memTotalMiB: 81920, memUsedMiB: 0, utilization: 0, temperatureC: 35, powerW: 60, driver: '550.54.15', busId: `00000000:${(0x18 + i * 0x12).toString(16).toUpperCase()}:00.0` })) });
    const dataDir = path.join(bed.root, 'data');
    const home = path.join(bed.root, 'home');
    fs.mkdirSync(home, { recursive: true });
    core = await createCore({ host: 'headless', version: '0.0.0-test', dataDir, kubeconfigFiles: [path.join(bed.root, 'no-kubeconfig')], hosts: { userKnownHostsFiles: [], home } });
    router = new Router(core);
    hostId = (await call<SshHost>('hosts.add', { name: 'edge-a100', address: gpuHost.address, port: gpuHost.port, user: process.env.USER ?? 'root', identityFile: bed.clientKey.privatePath })).id;
    const first = await call<HostTestResult>('hosts.test', { id: hostId });
    if (!first.ok && first.unknownKey) await call<HostTrustResult>('hosts.trust', { host: first.unknownKey.host, port: first.unknownKey.port, sha256Fingerprint: first.unknownKey.sha256Fingerprint, accept: true });
  });
  after(async () => {
    await core?.dispose();
    await bed?.stop();
  });

  test('an illegal layout is refused before any nvidia-smi command changes anything', async () => {
    gpuHost.clearNvidiaSmiCalls();
    const r = await call<MigSshApplyView>('mig.sshApply', { hostId, gpus: [0], layout: [{ profile: '3g.40gb', start: 1 }], model: 'NVIDIA A100-SXM4-80GB' });
    assert.equal(r.ok, false);
    assert.match(r.refused?.problems.join(' ') ?? '', /may only start at slices 0 or 4/);
    assert.ok(gpuHost.nvidiaSmiCalls().every((c) => !/-cgi|-dgi|-mig/.test(c)), 'no changing command ran');
  });

  test('a valid layout is applied with the nvidia-smi sequence and read back equal to the plan; the apply is audited', async () => {
    const layout = [{ profile: '3g.40gb', start: 0 }, { profile: '2g.20gb', start: 4 }, { profile: '1g.10gb', start: 6 }];
    const r = await call<MigSshApplyView>('mig.sshApply', { hostId, gpus: [1], layout });
    assert.equal(r.ok, true, JSON.stringify(r.failed ?? r.refused));
    assert.ok(r.steps.some((s) => /-cgi/.test(s.command)), 'GPU instances were created');
    const back = r.after?.find((g) => g.gpu === 1)?.layout.map((i) => `${i.profile}@${i.start}`).sort();
    assert.deepEqual(back, ['1g.10gb@6', '2g.20gb@4', '3g.40gb@0']);
    assert.deepEqual(r.mismatches, []);
    const again = await call<MigSshApplyView>('mig.sshApply', { hostId, gpus: [1], layout });
    assert.equal(again.unchanged, true, 'a second apply of the same layout changes nothing');
    const audit = await core.audit!.query({ limit: 20 });
    assert.ok(audit.entries.some((e) => e.action.startsWith('mig.ssh') && e.outcome === 'succeeded'), JSON.stringify(audit.entries.map((e) => e.action)));
  });

  test('an unknown host is a clear error', async () => {
    await assert.rejects(call('mig.sshApply', { hostId: 'no-such-host', gpus: [0], layout: [] }), /no-such-host|not found|No host/i);
  });
});
