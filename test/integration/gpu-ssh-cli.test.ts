import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sshBedUnavailable, startSshBed, type SshBed } from '../sshbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('tessera gpu ssh against a real sshd with a fake nvidia-smi', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let dataDir: string;
  before(async () => {
    bed = await startSshBed({ count: 1 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-gpussh-'));
  });
  after(async () => {
    await bed?.stop();
  });

  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'gpu', 'ssh', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TESSERA_DATA_DIR: dataDir, SSH_AUTH_SOCK: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('an unknown host key is refused with its fingerprint; only the matching --trust is accepted', () => {
    const host = bed.hosts[0]!;
    const target = `${os.userInfo().username}@${host.address}:${host.port}`;
    const args = [target, '--identity', bed.clientKey.privatePath, '--known-hosts', path.join(dataDir, 'empty_known_hosts')];
    const first = run(...args);
    assert.equal(first.code, 1);
    const fp = host.hostKey.fingerprint;
    assert.ok(first.stderr.includes(fp), `stderr names ${fp}: ${first.stderr}`);
    assert.match(first.stderr, /run again with --trust SHA256:/);
    assert.equal(first.stderr.trim().split('\n').length, 1);

    const wrong = run(...args, '--trust', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not match the key the host presented/);

    const ok = run(...args, '--trust', fp);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout) as { format: string; gpus: { uuid: string; product: string }[] };
    assert.equal(report.format, 'nvidia-smi-xml');
    assert.ok(report.gpus.length > 0);
    assert.match(report.gpus[0]!.uuid, /^GPU-/);

    const again = run(...args);
    assert.equal(again.code, 0, 'the trusted key is remembered in Tessera\u2019s own store');
  });
});
