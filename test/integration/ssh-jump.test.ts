/**
 * ProxyJump through real sshd. Hosts B and C live in a private network
 * namespace that only jump host A's sessions can reach, so a connection that
 * works at all went through A's forwarding.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { runOperation } from '../../electron/core/ssh/remote-command.ts';
import { SshConnection } from '../../electron/core/ssh/ssh-connection.ts';
import type { SshEndpoint } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { fingerprintOf, sshBedUnavailable, startSshBed, targetOf, waitFor } from '../sshbed/index.ts';
import type { SshBed, SshdHost } from '../sshbed/index.ts';

describe('SSH jump hosts against real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let a: SshdHost;
  let noForward: SshdHost;
  let b: SshdHost;
  let c: SshdHost;
  let hostKeys: KnownHosts;

  before(async () => {
    bed = await startSshBed({ count: 0 });
    const net = await bed.privateNetwork();
    b = await bed.addHost({ name: 'inner-b', network: net, address: '127.0.0.1' });
    c = await bed.addHost({ name: 'inner-c', network: net, address: '127.0.0.2' });
    a = await bed.addHost({ name: 'jump-a', gatewayInto: net, logLevel: 'DEBUG1' });
    noForward = await bed.addHost({ name: 'jump-closed', gatewayInto: net, allowTcpForwarding: false });
    const file = path.join(bed.root, 'known_hosts');
    fs.writeFileSync(file, [a, noForward, b, c].map((h) => h.knownHostsLine()).join('\n') + '\n');
    hostKeys = new KnownHosts({ dataDir: path.join(bed.root, 'data'), userFiles: [file] });
  });
  after(async () => {
    await bed?.stop();
  });

  const key = () => [{ type: 'key' as const, privateKey: bed.clientKey.privateKey }];
  const hop = (h: SshdHost): SshEndpoint => targetOf(h, key());

  test('the inner host cannot be reached directly', async () => {
    await assert.rejects(SshConnection.open(targetOf(b, key()), { hostKeys, readyTimeoutMs: 3000 }), (e: TesseraError) => e.code === 'SSH_UNREACHABLE');
  });

  test('one jump: the target is reached through the jump host\'s forwarding', async () => {
    const conn = await SshConnection.open(targetOf(b, key(), [hop(a)]), { hostKeys });
    try {
      assert.equal(conn.label, `root@127.0.0.1:${b.port} via root@${a.address}:${a.port}`);
      const r = await runOperation(conn, 'nvidia-smi.list');
      assert.equal(r.exitCode, 0);
      assert.match(r.stdout, /GPU 0:/);
      assert.match(b.log, /Accepted publickey for root from 127\.0\.0\.1/);
      await a.waitForLog(new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.0\\.1 port ${b.port}`));
    } finally {
      conn.close();
    }
  });

  test('two jumps: A then B, to C', async () => {
    const conn = await SshConnection.open(targetOf(c, key(), [hop(a), hop(b)]), { hostKeys });
    try {
      const r = await runOperation(conn, 'uname');
      assert.equal(r.exitCode, 0);
      await c.waitForLog(/Accepted publickey for root from 127\.0\.0\.1/);
      await b.waitForLog(/Connection from 127\.0\.0\.1 port \d+ on 127\.0\.0\.1 port/);
    } finally {
      conn.close();
    }
  });

  test('every hop\'s host key is verified: an unknown inner host fails with its own fingerprint', async () => {
    const onlyJump = new KnownHosts({ dataDir: path.join(bed.root, 'data-jump-only'), userFiles: [] });
    await onlyJump.trust(a.address, a.port, Buffer.from(a.hostKey.publicKey.split(' ')[1]!, 'base64'));
    await assert.rejects(SshConnection.open(targetOf(b, key(), [hop(a)]), { hostKeys: onlyJump }), (e: TesseraError) => {
      assert.equal(e.code, 'HOST_KEY_UNKNOWN');
      assert.equal(e.details?.sha256Fingerprint, fingerprintOf(b.hostKey.publicPath));
      assert.equal(e.details?.host, '127.0.0.1');
      assert.equal(e.details?.port, b.port);
      assert.match(String(e.details?.target), / via /);
      return true;
    });
  });

  test('a jump host that forbids forwarding, and an inner port nobody listens on, give clear errors', async () => {
    await assert.rejects(SshConnection.open(targetOf(b, key(), [hop(noForward)]), { hostKeys }), (e: TesseraError) => {
      assert.equal(e.code, 'SSH_UNREACHABLE');
      assert.equal(e.details?.reason, 'forwarding-prohibited');
      assert.match(e.message, new RegExp(`jump host root@${noForward.address.replace(/\./g, '\\.')}:${noForward.port} could not open a connection to root@127\\.0\\.0\\.1:${b.port}`));
      return true;
    });
    await assert.rejects(SshConnection.open({ ...targetOf(b, key(), [hop(a)]), port: 1 }, { hostKeys }), (e: TesseraError) => e.code === 'SSH_UNREACHABLE' && e.details?.reason === 'connect-failed');
  });

  test('when the jump host goes away the connection reports it closed', async () => {
    const conn = await SshConnection.open(targetOf(b, key(), [hop(a)]), { hostKeys, keepaliveIntervalMs: 500, keepaliveCountMax: 2 });
    let reason: TesseraError | null | undefined;
    conn.onClose((r) => (reason = r));
    a.crash();
    await waitFor(() => !conn.isOpen, 5000, 'the connection to notice');
    assert.equal(reason?.code, 'SSH_DISCONNECTED');
    await assert.rejects(runOperation(conn, 'uname'), (e: TesseraError) => e.code === 'SSH_DISCONNECTED');
  });
});
