/** `tessera ssh` (the built CLI) against real sshd: import, trust by fingerprint, list, fan-out, bundle. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fingerprintOf, sshBedUnavailable, startSshBed, type SshBed } from '../sshbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('tessera ssh against real sshd', { skip: sshBedUnavailable() ?? (fs.existsSync(path.join(root, 'dist/cli/tessera.js')) ? false : 'run npm run build first') }, () => {
  let bed: SshBed;
  let dataDir: string;
  before(async () => {
    bed = await startSshBed({ count: 2 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-sshcli-'));
  });
  after(async () => {
    await bed?.stop();
  });

  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'ssh', ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, TESSERA_DATA_DIR: dataDir, SSH_AUTH_SOCK: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('import a config, trust by fingerprint, list, fan out with one failing host, and write a bundle', () => {
    const [a, b] = bed.hosts as [(typeof bed.hosts)[0], (typeof bed.hosts)[0]];
    const cfg = path.join(bed.root, 'config');
    fs.writeFileSync(
      cfg,
      [`Host gpu-a`, `  HostName ${a.address}`, `  Port ${a.port}`, `Host gpu-b`, `  HostName ${b.address}`, `  Port ${b.port}`, 'Host gone', '  HostName 127.0.0.1', '  Port 1', 'Host *', `  User ${os.userInfo().username}`, `  IdentityFile ${bed.clientKey.privatePath}`].join('\n'),
    );
    const imp = run('import-config', cfg);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /added 3, updated 0, skipped 1/);

    const list = run('hosts', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((h) => h.name), ['gpu-a', 'gpu-b', 'gone']);

    const unknown = run('test', 'gpu-a');
    assert.equal(unknown.code, 1);
    assert.ok(unknown.stderr.includes(`--trust ${fingerprintOf(a.hostKey.publicPath)}`), unknown.stderr);
    for (const [name, h] of [['gpu-a', a], ['gpu-b', b]] as const) {
      const ok = run('test', name, '--trust', fingerprintOf(h.hostKey.publicPath));
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /connected with publickey/);
    }

    const fan = run('exec', '--hosts', 'gpu-a,gpu-b,gone', '--json', '--', 'nvidia-smi.list');
    assert.equal(fan.code, 1, 'one host failed');
    const results = (JSON.parse(fan.stdout) as { results: { name: string; ok: boolean; stdout: string; error?: { code: string } }[] }).results;
    assert.deepEqual(results.map((r) => [r.name, r.ok]), [['gpu-a', true], ['gpu-b', true], ['gone', false]]);
    assert.match(results[0]!.stdout, /GPU 0:/);
    assert.equal(results[2]!.error?.code, 'SSH_UNREACHABLE');

    const bad = run('exec', '--hosts', 'gpu-a', '--', 'reboot');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown remote operation "reboot"/);

    const out = path.join(bed.root, 'a.tar.gz');
    const bundle = run('bundle', 'gpu-a', '-o', out);
    assert.equal(bundle.code, 0, bundle.stderr);
    const listing = spawnSync('tar', ['-tzf', out], { encoding: 'utf8' }).stdout;
    assert.match(listing, /manifest\.json/);
    assert.match(listing, /nvidia-smi-q\.xml/);
  });
});
