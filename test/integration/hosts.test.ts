/**
 * SSH hosts through the contract (Router → core → real sshd): test and trust,
 * a jump host, a changed key refused with both fingerprints, a fan-out with
 * one failing host, a passphrase prompt answered over hosts.events, and a
 * support bundle that tar lists and whose nvidia-smi XML our parser reads.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { parseSmiXml } from '../../electron/core/gpu/index.ts';
import { Router } from '../../electron/host/router.ts';
import type { HostBundleResult, HostExecRun, HostTrustResult } from '../../shared/contract/hosts.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { HostGpus, HostsEvent, HostTestResult, ImportResult, SshHost } from '../../shared/model/host.ts';
import { defaultGpus, fingerprintOf, generateKey, sshBedUnavailable, startSshBed } from '../sshbed/index.ts';
import type { SshBed, SshdHost } from '../sshbed/index.ts';

describe('SSH hosts through the contract against real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let jump: SshdHost;
  let inner: SshdHost;
  let plain: SshdHost;
  let rekeyed: SshdHost;
  let core: Core;
  let router: Router;
  let dataDir: string;
  const ids = { jump: '', plain: '', rekeyed: '', inner: '', dead: '' };

  async function call<T>(method: string, params: unknown): Promise<T> {
    const r = await router.call(method, params);
    if (!r.ok) throw Object.assign(new Error(r.error.message), r.error);
    return r.result as T;
  }
  async function refused(method: string, params: unknown): Promise<ErrorShape> {
    const r = await router.call(method, params);
    assert.equal(r.ok, false, `${method} should have been refused`);
    return (r as { error: ErrorShape }).error;
  }
  /** Tests and trusts each new key it meets (jump host first, then the target), as a person clicking "Trust" would. */
  async function testAndTrust(id: string, expect: string[]): Promise<HostTestResult> {
    for (const fp of expect) {
      const r = await call<HostTestResult>('hosts.test', { id });
      assert.equal(r.ok, false);
      if (r.ok) throw new Error('unreachable');
      assert.equal(r.error.code, 'HOST_KEY_UNKNOWN', r.error.message);
      assert.equal(r.unknownKey?.sha256Fingerprint, fp);
      const t = await call<HostTrustResult>('hosts.trust', { host: r.unknownKey!.host, port: r.unknownKey!.port, sha256Fingerprint: fp, accept: true });
      assert.equal(t.trusted, true);
    }
    return call<HostTestResult>('hosts.test', { id });
  }

  before(async () => {
    bed = await startSshBed({ count: 0 });
    const priv = await bed.privateNetwork();
    inner = await bed.addHost({ name: 'inner', network: priv, address: '127.0.0.1' });
    jump = await bed.addHost({ name: 'jump', gatewayInto: priv });
    plain = await bed.addHost({ name: 'plain' });
    rekeyed = await bed.addHost({ name: 'rekeyed' });
    dataDir = path.join(bed.root, 'data');
    const home = path.join(bed.root, 'home');
    fs.mkdirSync(home, { recursive: true });
    core = await createCore({ host: 'headless', version: '0.0.0-test', dataDir, kubeconfigFiles: [path.join(bed.root, 'no-kubeconfig')], hosts: { userKnownHostsFiles: [], home } });
    router = new Router(core);
    const key = bed.clientKey.privatePath;
    const user = process.env.USER ?? 'root';
    for (const [name, h] of [['jump', jump], ['plain', plain], ['rekeyed', rekeyed]] as const) {
      ids[name] = (await call<SshHost>('hosts.add', { name, address: h.address, port: h.port, user, identityFile: key, group: 'site-a' })).id;
    }
    ids.inner = (await call<SshHost>('hosts.add', { name: 'inner', address: '127.0.0.1', port: inner.port, user, identityFile: key, proxyJump: [ids.jump], group: 'site-a', nodePool: 'private' })).id;
  });
  after(async () => {
    await core?.dispose();
    await bed?.stop();
  });

  test('the contract refuses malformed hosts with the field named, and nothing is stored', async () => {
    const e = await refused('hosts.add', { name: 'bad', address: '10.0.0.999', port: 0, user: 'ops' });
    assert.equal(e.code, 'INVALID_REQUEST');
    assert.match(e.message, /IPv4/);
    assert.match(e.message, /port must be a whole number from 1 to 65535/);
    const e2 = await refused('hosts.add', { name: 'x', address: 'a', user: 'u', shell: 'rm -rf /' });
    assert.match(e2.message, /shell is not a known field/);
    const { hosts } = await call<{ hosts: SshHost[] }>('hosts.list', {});
    assert.deepEqual(hosts.map((h) => h.name).sort(), ['inner', 'jump', 'plain', 'rekeyed']);
  });

  test('first contact: the key type and SHA256 fingerprint are shown; a different fingerprint is not trusted; accepting writes Tessera\'s store', async () => {
    const first = await call<HostTestResult>('hosts.test', { id: ids.plain });
    assert.equal(first.ok, false);
    if (first.ok) return;
    assert.equal(first.unknownKey?.keyType, 'ssh-ed25519');
    assert.equal(first.unknownKey?.sha256Fingerprint, fingerprintOf(plain.hostKey.publicPath));
    const wrong = await refused('hosts.trust', { host: plain.address, port: plain.port, sha256Fingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', accept: true });
    assert.equal(wrong.code, 'HOST_KEY_MISMATCH');
    assert.equal(fs.existsSync(path.join(dataDir, 'ssh', 'known_hosts')), false, 'nothing trusted yet');

    const ok = await testAndTrust(ids.plain, [fingerprintOf(plain.hostKey.publicPath)]);
    assert.equal(ok.ok, true, JSON.stringify(ok));
    if (!ok.ok) return;
    assert.match(ok.authMethod, /^publickey/);
    assert.match(ok.uname, /Linux/);
    assert.ok(ok.latencyMs >= 0 && ok.connectMs > 0);
    assert.match(fs.readFileSync(path.join(dataDir, 'ssh', 'known_hosts'), 'utf8'), new RegExp(`\\[${plain.address.replace(/\./g, '\\.')}\\]:${plain.port} ssh-ed25519 `));
    const audit = await core.audit!.query({ action: 'ssh.hostkey.trust' });
    assert.ok(audit.entries.some((e) => e.outcome === 'succeeded' && JSON.stringify(e.params).includes(fingerprintOf(plain.hostKey.publicPath))));
  });

  test('a host behind a jump host: both keys are confirmed, then it connects through the jump', async () => {
    const r = await testAndTrust(ids.inner, [fingerprintOf(jump.hostKey.publicPath), fingerprintOf(inner.hostKey.publicPath)]);
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    assert.deepEqual(r.via, [`${process.env.USER ?? 'root'}@${jump.address}:${jump.port}`]);
    assert.match(inner.log, /Accepted publickey .* from 127\.0\.0\.1/);
  });

  test('a changed host key is refused with expected and presented fingerprints, and cannot be trusted around', async () => {
    const before = fingerprintOf(rekeyed.hostKey.publicPath);
    assert.equal((await testAndTrust(ids.rekeyed, [before])).ok, true);
    await rekeyed.restart({ newHostKey: true });
    const after = fingerprintOf(rekeyed.hostKey.publicPath);
    const r = await call<HostTestResult>('hosts.test', { id: ids.rekeyed });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'HOST_KEY_MISMATCH');
    assert.ok(r.error.message.includes(before) && r.error.message.includes(after), r.error.message);
    assert.equal(r.mismatch?.sha256Fingerprint, after);
    assert.deepEqual(r.mismatch?.expected.map((e) => e.sha256Fingerprint), [before]);
    assert.equal(r.unknownKey, undefined);
    const bypass = await refused('hosts.trust', { host: rekeyed.address, port: rekeyed.port, sha256Fingerprint: after, accept: true });
    assert.equal(bypass.code, 'NOT_FOUND');
    const again = await call<HostTestResult>('hosts.test', { id: ids.rekeyed });
    assert.equal(again.ok, false);
  });

  test('fan-out of a named operation to every host, one failing, each reported on its own', async () => {
    const dead = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    ids.dead = (await call<SshHost>('hosts.add', { name: 'dead', address: '127.0.0.1', port: dead, user: 'root', identityFile: bed.clientKey.privatePath })).id;
    const events: HostsEvent[] = [];
    const sub = router.subscribe('hosts.events', {}, (e) => events.push(e as HostsEvent));
    assert.ok(sub.ok);
    const run = await call<HostExecRun>('hosts.exec', { ids: [ids.plain, ids.inner, ids.jump, ids.dead], operation: 'nvidia-smi.list', concurrency: 2, runId: 'fan1' });
    if (sub.ok) sub.unsubscribe();
    assert.deepEqual(run.results.map((r) => [r.name, r.ok]), [['plain', true], ['inner', true], ['jump', true], ['dead', false]]);
    for (const r of run.results.slice(0, 3)) assert.match(r.stdout, /GPU 0: .*UUID: GPU-/);
    assert.equal(run.results[3]!.error?.code, 'SSH_UNREACHABLE');
    assert.deepEqual(events.filter((e) => e.type === 'exec-progress').map((e) => (e as { hostId: string }).hostId).sort(), [ids.dead, ids.inner, ids.jump, ids.plain].sort());

    const unknown = await refused('hosts.exec', { ids: [ids.plain], operation: 'rm' });
    assert.match(unknown.message, /unknown remote operation "rm"/);
    const badArg = await refused('hosts.exec', { ids: [ids.plain], operation: 'nvidia-smi.query', args: [{ name: 'gpu', value: '0; reboot' }] });
    assert.match(badArg.message, /"gpu" for operation "nvidia-smi.query" must be GPU index/);
    const audit = await core.audit!.query({ action: 'ssh.exec' });
    assert.ok(audit.entries.length >= 1);
  });

  test('a run can be stopped: hosts not yet started are skipped, and the stop is audited', async () => {
    let cancelled: Promise<unknown> | null = null;
    const sub = router.subscribe('hosts.events', {}, (e) => {
      const ev = e as HostsEvent;
      if (ev.type === 'exec-progress' && ev.runId === 'stop1' && !cancelled) cancelled = call('hosts.cancel', { runId: 'stop1' });
    });
    let run: HostExecRun;
    try {
      run = await call<HostExecRun>('hosts.exec', { ids: [ids.plain, ids.jump, ids.inner], operation: 'nvidia-smi.list', concurrency: 1, runId: 'stop1' });
    } finally {
      if (sub.ok) sub.unsubscribe();
    }
    assert.deepEqual(await cancelled, { cancelled: true });
    assert.equal(run.results[0]!.ok, true);
    assert.deepEqual(run.results.slice(1).map((r) => r.error?.message), ['not started: the run was cancelled', 'not started: the run was cancelled']);
    const audit = await core.audit!.query({ action: 'ssh.exec.cancelled' });
    assert.equal(audit.entries[0]?.outcome, 'cancelled');
    assert.deepEqual(await call('hosts.cancel', { runId: 'stop1' }), { cancelled: false }, 'a finished run has nothing to stop');
  });

  test('an encrypted key asks for its passphrase over hosts.events; the answer is used and not remembered in the headless host', async () => {
    const enc = generateKey(path.join(bed.root, 'enc'), 'id_enc', 'ed25519', { passphrase: 'correct horse' });
    plain.authorize(enc.publicKey);
    const id = (await call<SshHost>('hosts.add', { name: 'plain-enc', address: plain.address, port: plain.port, user: process.env.USER ?? 'root', identityFile: enc.privatePath })).id;
    const answers: Promise<unknown>[] = [];
    const seen: HostsEvent[] = [];
    const sub = router.subscribe('hosts.events', {}, (e) => {
      const ev = e as HostsEvent;
      seen.push(ev);
      if (ev.type === 'prompt') answers.push(call('hosts.answer', { id: ev.id, secret: ev.attempt === 1 ? 'wrong' : 'correct horse', remember: true }));
    });
    try {
      const r = await call<HostTestResult>('hosts.test', { id });
      assert.equal(r.ok, true, JSON.stringify(r));
    } finally {
      if (sub.ok) sub.unsubscribe();
    }
    const prompts = seen.filter((e) => e.type === 'prompt');
    assert.equal(prompts.length, 2, 'a wrong passphrase is asked again');
    assert.equal(prompts[0]!.type === 'prompt' && prompts[0]!.kind, 'passphrase');
    assert.equal(prompts[0]!.type === 'prompt' && prompts[0]!.canRemember, false);
    const results = (await Promise.all(answers)) as { remembered: boolean; note?: string }[];
    assert.ok(results.every((a) => a.remembered === false && /not remembered on this host/.test(a.note ?? '')));
    // The passphrase is in no file Tessera wrote.
    const hits = spawnSync('grep', ['-rl', 'correct horse', dataDir], { encoding: 'utf8' });
    assert.equal(hits.status, 1, `found in ${hits.stdout}`);
  });

  test('sudo asks for its password over hosts.events; the password reaches sudo only, never the result or the audit trail', async () => {
    const h = await bed.addHost({ name: 'sudo-host', sudoPassword: 'hunter2-sudo' });
    const id = (await call<SshHost>('hosts.add', { name: 'sudo-host', address: h.address, port: h.port, user: process.env.USER ?? 'root', identityFile: bed.clientKey.privatePath })).id;
    assert.equal((await testAndTrust(id, [fingerprintOf(h.hostKey.publicPath)])).ok, true);
    const kinds: string[] = [];
    const sub = router.subscribe('hosts.events', {}, (e) => {
      const ev = e as HostsEvent;
      if (ev.type !== 'prompt') return;
      kinds.push(ev.kind);
      void call('hosts.answer', { id: ev.id, secret: ev.attempt === 1 ? 'wrong' : 'hunter2-sudo' });
    });
    let run: HostExecRun;
    try {
      run = await call<HostExecRun>('hosts.exec', { ids: [id], operation: 'file.stat', args: [{ name: 'path', value: '/etc/hostname' }], sudo: true });
    } finally {
      if (sub.ok) sub.unsubscribe();
    }
    assert.deepEqual(kinds, ['sudo', 'sudo'], 'asked again after a wrong password');
    assert.equal(run.results[0]!.ok, true, JSON.stringify(run.results[0]));
    assert.match(run.results[0]!.stdout, /File: \/etc\/hostname/);
    assert.ok(!JSON.stringify(run).includes('hunter2'));
    const noSudo = await refused('hosts.exec', { ids: [id], operation: 'uname', sudo: true });
    assert.match(noSudo.message, /may not run through sudo/);
    const trail = fs.readdirSync(path.join(dataDir, 'audit')).map((f) => fs.readFileSync(path.join(dataDir, 'audit', f), 'utf8')).join('');
    assert.ok(trail.includes('file.stat') && !trail.includes('hunter2'));
  });

  test('support bundle: a tar.gz that tar lists, with a manifest per command and nvidia-smi XML our parser reads', async () => {
    const b = await call<HostBundleResult>('hosts.bundle', { id: ids.inner });
    const file = path.join(bed.root, b.filename);
    fs.writeFileSync(file, Buffer.from(b.base64, 'base64'));
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
    const dir = b.filename.replace(/\.tar\.gz$/, '');
    for (const f of ['manifest.json', 'nvidia-smi-q.xml', 'nvidia-smi-L.txt', 'uname.txt', 'driver-version.txt']) assert.ok(listing.includes(`${dir}/${f}`), `${f} in ${listing.join(', ')}`);
    const out = path.join(bed.root, 'unpacked');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xzf', file, '-C', out]);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, dir, 'manifest.json'), 'utf8')) as HostBundleResult['manifest'];
    assert.equal(manifest.entries.length, 8);
    for (const e of manifest.entries) assert.ok(typeof e.durationMs === 'number' && 'exitCode' in e, JSON.stringify(e));
    assert.equal(manifest.entries.find((e) => e.operation === 'nvidia-smi.query')!.exitCode, 0);
    const report = parseSmiXml(fs.readFileSync(path.join(out, dir, 'nvidia-smi-q.xml'), 'utf8'));
    assert.equal(report.gpus.length, 2);
    assert.equal(manifest.gpusParsed, 2);
    assert.match(report.gpus[0]!.product ?? '', /H100/);
    // The test bed has no NVIDIA kernel module: the failure is recorded, not fatal.
    const drv = manifest.entries.find((e) => e.operation === 'driver.version')!;
    assert.ok(drv.exitCode !== 0 && drv.error, JSON.stringify(drv));
  });

  test('GPUs of a host behind a jump host: nvidia-smi read over SSH, with the process using each GPU; a host without GPUs fails clearly', async () => {
    const gpus = defaultGpus('inner');
    inner.setGpuProcesses([{ pid: 4242, gpuUuid: gpus[1]!.uuid, usedMiB: 30_000, name: 'python3 train.py' }]);
    const r = await call<HostGpus>('hosts.gpus', { id: ids.inner });
    assert.equal(r.hostId, ids.inner);
    assert.ok(Date.now() - Date.parse(r.readAt) < 60_000);
    assert.deepEqual(r.report.warnings, []);
    assert.deepEqual(r.report.gpus.map((g) => [g.uuid, g.product, g.utilizationPct, g.temperatureC, g.memoryTotalMiB]), gpus.map((g) => [g.uuid, g.name, g.utilization, g.temperatureC, g.memTotalMiB]));
    assert.deepEqual(r.report.gpus[0]!.processes, []);
    assert.deepEqual(r.report.gpus[1]!.processes, [{ pid: 4242, type: 'C', name: 'python3 train.py', usedMemoryMiB: 30_000, gpuInstanceId: null, computeInstanceId: null }]);
    inner.setGpuProcesses([]);
    // nvidia-smi without a GPU (no driver): refused with what the host said, not an empty report.
    plain.setGpus([]);
    try {
      const e = await refused('hosts.gpus', { id: ids.plain });
      assert.equal(e.code, 'COMMAND_FAILED', e.message);
      assert.match(e.message, /nvidia-smi/);
    } finally {
      plain.setGpus(defaultGpus('plain'));
    }
  });

  test('import from an OpenSSH config: aliases become hosts, a ProxyJump alias becomes a reference, wildcards are skipped', async () => {
    const cfg = [
      'Host cfg-jump',
      `  HostName ${jump.address}`,
      `  Port ${jump.port}`,
      'Host cfg-inner',
      '  HostName 127.0.0.1',
      `  Port ${inner.port}`,
      '  ProxyJump cfg-jump',
      'Host *',
      `  User ${process.env.USER ?? 'root'}`,
      `  IdentityFile ${bed.clientKey.privatePath}`,
    ].join('\n');
    const r = await call<ImportResult>('hosts.importSshConfig', { content: cfg, group: 'from-config' });
    assert.deepEqual(r.added.map((h) => h.name).sort(), ['cfg-inner', 'cfg-jump']);
    assert.deepEqual(r.skipped.map((s) => s.name), ['*']);
    const innerHost = r.added.find((h) => h.name === 'cfg-inner')!;
    const jumpHost = r.added.find((h) => h.name === 'cfg-jump')!;
    assert.deepEqual(innerHost.proxyJump, [jumpHost.id]);
    // Keys were trusted above for these address:port pairs, so it connects straight away.
    const t = await call<HostTestResult>('hosts.test', { id: innerHost.id });
    assert.equal(t.ok, true, JSON.stringify(t));
    const again = await call<ImportResult>('hosts.importSshConfig', { content: cfg });
    assert.equal(again.added.length, 0);
    assert.equal(again.updated.length, 2);
    const audit = await core.audit!.query({ action: 'hosts.import-ssh-config' });
    assert.equal(audit.entries.length, 2);
  });
});
