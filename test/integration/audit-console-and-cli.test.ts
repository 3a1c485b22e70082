// The bug this guards against: a running console (`tessera serve`) held the audit trail for its
// whole life, so a mutating CLI command beside it on the same data folder made its change and
// then failed writing the audit entry. Now both append to one chain. Real processes, the real
// CLI from source; no cluster needed (host and settings changes are audited too).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { queryAudit } from '../../electron/core/audit/audit-query.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'electron/cli/tessera.ts');
let dataDir: string;
let env: NodeJS.ProcessEnv;
let consoleProc: ChildProcess;
let origin: string;
let token: string;

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 60_000, env, cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function consoleCall(method: string, params: unknown): Promise<{ ok: boolean; error?: { message: string } }> {
  const res = await fetch(`${origin}/api/call`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': token }, body: JSON.stringify({ method, params }) });
  return (await res.json()) as { ok: boolean; error?: { message: string } };
}

before(async () => {
  assert.ok(fs.existsSync(path.join(root, 'dist/renderer/index.html')), 'the console is built (npm run build)');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-console-cli-'));
  const emptyKubeconfig = path.join(dataDir, 'empty.kubeconfig');
  fs.writeFileSync(emptyKubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
  env = { ...process.env, TESSERA_DATA_DIR: dataDir, KUBECONFIG: emptyKubeconfig, HOME: dataDir };
  consoleProc = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0'], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    consoleProc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http'));
      if (line) resolve(line.trim());
    });
    consoleProc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    consoleProc.once('exit', (code) => reject(new Error(`tessera serve exited with ${code}: ${err}`)));
  });
  const u = new URL(url);
  origin = u.origin;
  token = u.searchParams.get('token')!;
});

after(async () => {
  consoleProc?.kill('SIGTERM');
  await new Promise((r) => (consoleProc?.exitCode !== null ? r(undefined) : consoleProc.once('exit', r)));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a console and a mutating CLI command on one data folder both record their changes in one valid chain', async () => {
  // The console writes first, so it has opened the audit trail.
  const first = await consoleCall('settings.update', { patch: { mig: { defaultMaxParallel: 2 } } });
  assert.ok(first.ok, JSON.stringify(first));

  const sshConfig = path.join(dataDir, 'ssh_config');
  fs.writeFileSync(sshConfig, 'Host gpu-a\n  HostName 127.0.0.1\n  User ops\n');
  const imported = tessera('ssh', 'import-config', sshConfig);
  assert.equal(imported.code, 0, `the CLI change and its audit entry both succeed beside a running console: ${imported.stderr}`);
  assert.doesNotMatch(imported.stderr, /AUDIT WRITE FAILED/);

  const again = await consoleCall('settings.update', { patch: { mig: { defaultMaxParallel: 3 } } });
  assert.ok(again.ok, 'the console goes on recording after the CLI wrote');

  const auditDir = path.join(dataDir, 'audit');
  const verify = tessera('audit', 'verify', auditDir);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /^intact: 3 entries \(seq 1–3\)/);
  const { entries } = await queryAudit(auditDir, {});
  assert.deepEqual(
    entries.map((e) => [e.seq, e.action, e.outcome]).reverse(),
    [
      [1, 'settings.update', 'succeeded'],
      [2, 'hosts.import-ssh-config', 'succeeded'],
      [3, 'settings.update', 'succeeded'],
    ],
  );
  assert.equal(entries[0]!.prevHash, entries[1]!.hash, "the console's entry chains on from the CLI's");
});
