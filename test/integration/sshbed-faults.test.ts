/**
 * The SSH test bed's faults (issue 6 item 8) and its driver-installer
 * stand-in, exercised through the real client: `ssh-drop` cuts connections
 * mid-command but keeps the host up, `hostkey-change` reinstalls the host
 * key, `tessera-sim-driver-install` changes what nvidia-smi reports.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SMI_CSV_FIELDS, createCommandRegistry } from '../../electron/core/ssh/command-registry.ts';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { runOperation } from '../../electron/core/ssh/remote-command.ts';
import { SshPool } from '../../electron/core/ssh/ssh-pool.ts';
import type { SshTarget } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { fingerprintOf, sshBedUnavailable, startSshBed, targetOf, waitFor } from '../sshbed/index.ts';
import type { SshBed, SshdHost } from '../sshbed/index.ts';

const registry = createCommandRegistry({
  'test.sleep': { description: 'says it started, then sleeps', argv: () => ['sh', '-c', 'echo started; sleep 30'], sudo: 'never' },
  'test.driver-install': {
    description: 'the sshbed driver installer',
    params: { version: { description: 'driver version', pattern: /^\d+\.\d+(\.\d+)?$/ }, ms: { description: 'duration', pattern: /^\d+$/ } },
    argv: (a) => ['tessera-sim-driver-install', a.version!, '--duration-ms', a.ms!],
    sudo: 'allowed',
  },
});

describe('sshbed faults and the driver-installer stand-in', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let host: SshdHost;
  let pool: SshPool;
  let target: SshTarget;
  before(async () => {
    bed = await startSshBed({ count: 1 });
    host = bed.hosts[0]!;
    pool = new SshPool({ hostKeys: new KnownHosts({ dataDir: path.join(bed.root, 'data'), userFiles: [bed.knownHostsFile] }) });
    target = targetOf(host, [{ type: 'key', privateKey: bed.clientKey.privateKey }]);
  });
  after(async () => {
    await pool?.closeAll();
    await bed?.stop();
  });

  test('ssh-drop cuts a running command\u2019s connection; the host still accepts the next one', async () => {
    let started = false;
    const running = pool.use(target, (c) => runOperation(c, 'test.sleep', { registry, onStdout: () => (started = true) }));
    await waitFor(() => started, 10_000, 'the command to start');
    host.sshDrop();
    await assert.rejects(running, (e: TesseraError) => e.code === 'SSH_DISCONNECTED' && /was lost while test\.sleep was running/.test(e.message));
    const r = await pool.use(target, (c) => runOperation(c, 'nvidia-smi.list'));
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^GPU 0: /);
  });

  test('the driver installer changes the version nvidia-smi reports; armed to fail it keeps the old one', async () => {
    const csvDriver = async () => {
      const csv = (await pool.use(target, (c) => runOperation(c, 'nvidia-smi.csv'))).stdout;
      const at = SMI_CSV_FIELDS.indexOf('driver_version');
      return csv.trim().split('\n').map((l) => l.split(', ')[at]);
    };
    assert.deepEqual(await csvDriver(), ['550.54.15', '550.54.15']);

    // While the installer runs, nvidia-smi fails as it does with a half-installed driver.
    const installing = pool.use(target, (c) => runOperation(c, 'test.driver-install', { registry, args: { version: '560.35.03', ms: '1500' } }));
    await new Promise((r) => setTimeout(r, 700));
    const during = await pool.use(target, (c) => runOperation(c, 'nvidia-smi.list'));
    assert.equal(during.exitCode, 9);
    assert.match(during.stdout, /couldn't communicate with the NVIDIA driver/);
    const done = await installing;
    assert.equal(done.exitCode, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /version: 560\.35\.03\) is now complete/);
    assert.deepEqual(await csvDriver(), ['560.35.03', '560.35.03']);

    host.failDriverInstall();
    const failed = await pool.use(target, (c) => runOperation(c, 'test.driver-install', { registry, args: { version: '570.86.10', ms: '0' } }));
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stdout, /Building kernel modules/);
    assert.deepEqual(await csvDriver(), ['560.35.03', '560.35.03']);
    host.failDriverInstall(false);
  });

  test('hostkey-change: the reinstalled host is refused with both fingerprints', async () => {
    const old = fingerprintOf(host.hostKey.publicPath);
    await host.hostkeyChange();
    const now = fingerprintOf(host.hostKey.publicPath);
    assert.notEqual(old, now);
    await pool.close(target);
    await assert.rejects(
      pool.use(target, (c) => runOperation(c, 'nvidia-smi.list')),
      (e: TesseraError) => e.code === 'HOST_KEY_MISMATCH' && e.message.includes(old) && e.message.includes(now),
    );
  });
});
