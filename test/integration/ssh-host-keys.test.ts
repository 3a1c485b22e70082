/** Host key verification against real sshd hosts: unknown, trusted, changed, hashed, and key-type preference. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { runOperation } from '../../electron/core/ssh/remote-command.ts';
import { SshConnection } from '../../electron/core/ssh/ssh-connection.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { fingerprintOf, hashKnownHosts, sshBedUnavailable, startSshBed, targetOf } from '../sshbed/index.ts';
import type { SshBed, SshdHost } from '../sshbed/index.ts';

describe('SSH host key verification against real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let n = 0;
  before(async () => {
    bed = await startSshBed({ count: 3, host: (i) => (i === 2 ? { hostKeyTypes: ['ed25519', 'rsa'] } : {}) });
  });
  after(async () => {
    await bed?.stop();
  });

  const key = () => [{ type: 'key' as const, privateKey: bed.clientKey.privateKey }];
  const dataDir = (): string => path.join(bed.root, `data-${++n}`);
  const userFile = (lines: string[]): string => {
    const f = path.join(bed.root, `known_hosts-${++n}`);
    fs.writeFileSync(f, lines.join('\n') + '\n');
    return f;
  };
  const logMark = (h: SshdHost) => h.log.length;
  const logSince = (h: SshdHost, mark: number) => h.log.slice(mark);

  test('an unknown host key fails with HOST_KEY_UNKNOWN and the fingerprint ssh-keygen -l prints; after trust() it connects', async () => {
    const h = bed.hosts[0]!;
    const kh = new KnownHosts({ dataDir: dataDir(), userFiles: [] });
    const expected = fingerprintOf(h.hostKey.publicPath);
    const mark = logMark(h);
    let err: TesseraError | undefined;
    await assert.rejects(SshConnection.open(targetOf(h, key()), { hostKeys: kh }), (e: TesseraError) => {
      err = e;
      return e.code === 'HOST_KEY_UNKNOWN';
    });
    assert.equal(err!.details?.sha256Fingerprint, expected);
    assert.equal(err!.details?.keyType, 'ssh-ed25519');
    assert.ok(err!.message.includes(expected), err!.message);
    assert.doesNotMatch(logSince(h, mark), /Accepted publickey/, 'no credentials are offered to an unverified host');

    await kh.trust(h.address, h.port, Buffer.from(String(err!.details?.publicKey), 'base64'));
    const conn = await SshConnection.open(targetOf(h, key()), { hostKeys: kh });
    try {
      const r = await runOperation(conn, 'uname');
      assert.equal(r.exitCode, 0);
      assert.match(r.stdout, /Linux/);
    } finally {
      conn.close();
    }
  });

  test('a changed host key is refused with HOST_KEY_MISMATCH naming both fingerprints', async () => {
    const h = bed.hosts[1]!;
    const kh = new KnownHosts({ dataDir: dataDir(), userFiles: [bed.knownHostsFile] });
    const before = fingerprintOf(h.hostKey.publicPath);
    const ok = await SshConnection.open(targetOf(h, key()), { hostKeys: kh });
    ok.close();

    await h.restart({ newHostKey: true });
    const after = fingerprintOf(h.hostKey.publicPath);
    assert.notEqual(before, after);
    const mark = logMark(h);
    await assert.rejects(SshConnection.open(targetOf(h, key()), { hostKeys: kh }), (e: TesseraError) => {
      assert.equal(e.code, 'HOST_KEY_MISMATCH');
      assert.ok(e.message.includes(before) && e.message.includes(after), e.message);
      assert.equal(e.details?.presented, after);
      assert.deepEqual((e.details?.expected as { sha256Fingerprint: string }[]).map((x) => x.sha256Fingerprint), [before]);
      return true;
    });
    assert.doesNotMatch(logSince(h, mark), /Accepted publickey/);

    // Trusting the new key in Tessera's store is the user's way forward; their own file is left alone.
    const userText = fs.readFileSync(bed.knownHostsFile, 'utf8');
    await kh.trust(h.address, h.port, Buffer.from(h.hostKey.publicKey.split(' ')[1]!, 'base64'));
    const conn = await SshConnection.open(targetOf(h, key()), { hostKeys: kh });
    conn.close();
    assert.equal(fs.readFileSync(bed.knownHostsFile, 'utf8'), userText);
  });

  test('hashed known_hosts entries (ssh-keygen -H) are honoured', async () => {
    const h = bed.hosts[0]!;
    const file = userFile([h.knownHostsLine()]);
    hashKnownHosts(file);
    assert.ok(!fs.readFileSync(file, 'utf8').includes(h.address), 'the file no longer names the host');
    const kh = new KnownHosts({ dataDir: dataDir(), userFiles: [file] });
    const conn = await SshConnection.open(targetOf(h, key()), { hostKeys: kh });
    assert.ok(conn.isOpen);
    conn.close();

    const other = bed.hosts[2]!;
    await assert.rejects(SshConnection.open(targetOf(other, key()), { hostKeys: kh }), (e: TesseraError) => e.code === 'HOST_KEY_UNKNOWN');
  });

  test('a host with several keys is asked for the type already trusted', async () => {
    const h = bed.hosts[2]!;
    const rsa = h.hostKeys.find((k) => k.kind === 'rsa')!;
    const kh = new KnownHosts({ dataDir: dataDir(), userFiles: [userFile([h.knownHostsLine(rsa)])] });
    // ssh2 prefers ed25519; without the preference this host would look unknown.
    const conn = await SshConnection.open(targetOf(h, key()), { hostKeys: kh });
    conn.close();

    const fresh = new KnownHosts({ dataDir: dataDir(), userFiles: [] });
    await assert.rejects(SshConnection.open(targetOf(h, key()), { hostKeys: fresh }), (e: TesseraError) => e.code === 'HOST_KEY_UNKNOWN' && e.details?.keyType === 'ssh-ed25519');
  });
});
