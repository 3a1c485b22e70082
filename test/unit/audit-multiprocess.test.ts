// Several Tessera processes on one data folder (a console and a CLI command beside it) append to
// one audit trail: real child processes, real files, and the real `tessera audit verify`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AuditService } from '../../electron/core/audit/audit-service.ts';
import { queryAudit } from '../../electron/core/audit/audit-query.ts';
import { systemClock } from '../../electron/core/clock.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const moduleUrl = (rel: string) => pathToFileURL(path.join(root, rel)).href;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-mp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `tessera audit verify` from source, as a separate process like a person would run it. */
function verifyCli(dir: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), 'audit', 'verify', dir], { encoding: 'utf8', timeout: 60_000, cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function spawnScript(dir: string, name: string, source: string): ChildProcess {
  const script = path.join(dir, name);
  fs.writeFileSync(script, source);
  return spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'pipe'], cwd: root });
}

function waitFor(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(word)) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`child exited with ${code} before "${word}": ${err.slice(-2000)}`)));
  });
}

/** A writer using the app's own AuditService (what core and the CLI record through). */
function writer(dir: string, logDir: string, who: string, count: number, maxFileBytes: number): ChildProcess {
  return spawnScript(
    dir,
    `writer-${who}.mts`,
    `import { AuditService } from ${JSON.stringify(moduleUrl('electron/core/audit/audit-service.ts'))};
const audit = new AuditService(${JSON.stringify(logDir)}, { now: () => Date.now(), setTimeout }, { maxFileBytes: ${maxFileBytes}, actor: { osUser: ${JSON.stringify(who)}, host: 'h' } });
process.stdout.write('ready\\n');
// Two rounds, each started by the test once both writers are waiting, so they contend at least twice
// however the machine schedules them (a loaded machine can otherwise run one writer to its end first).
for (const [from, to] of [[0, ${Math.floor(count / 2)}], [${Math.floor(count / 2)}, ${count}]]) {
  await new Promise((r) => process.stdin.once('data', r));
  for (let i = from; i < to; i += 4) {
    // A few in flight at once, as a busy console has.
    await Promise.all([0, 1, 2, 3].filter((k) => i + k < to).map((k) => audit.record({ action: 'node.cordon', outcome: 'succeeded', cluster: 'lab', targets: [{ kind: 'Node', name: 'gpu-' + (i + k) }], params: { writer: ${JSON.stringify(who)}, i: i + k } })));
  }
  process.stdout.write(to === ${count} ? 'done\\n' : 'half\\n');
}
await audit.close();
process.stdout.write('closed\\n');
`,
  );
}

test('two processes appending 300 entries each at once write one chain that `tessera audit verify` passes with exactly 600 entries', async (t) => {
  const dir = tempDir(t);
  const logDir = path.join(dir, 'audit');
  // Small files, so both processes also rotate under contention.
  const a = writer(dir, logDir, 'console', 300, 32 * 1024);
  const b = writer(dir, logDir, 'cli', 300, 32 * 1024);
  t.after(() => {
    a.kill('SIGKILL');
    b.kill('SIGKILL');
  });
  await Promise.all([waitFor(a, 'ready'), waitFor(b, 'ready')]);
  for (const word of ['half', 'closed']) {
    const round = Promise.all([waitFor(a, word), waitFor(b, word)]);
    a.stdin!.write('go\n');
    b.stdin!.write('go\n');
    await round;
  }

  const v = verifyCli(logDir);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^intact: 600 entries \(seq 1–600\) in \d+ files, last hash [0-9a-f]{16}/);
  const files = fs.readdirSync(logDir).filter((n) => n.endsWith('.jsonl'));
  assert.ok(files.length >= 3, `rotated under contention (${files.length} files)`);
  assert.deepEqual(fs.readdirSync(logDir).filter((n) => !n.endsWith('.jsonl')), [], 'no lock or temp file is left behind');

  const { entries } = await queryAudit(logDir, { limit: 1000 });
  assert.deepEqual(
    entries.map((e) => e.seq).sort((x, y) => x - y),
    Array.from({ length: 600 }, (_, i) => i + 1),
  );
  const by = (w: string) => entries.filter((e) => (e.params as { writer: string }).writer === w);
  assert.equal(by('console').length, 300);
  assert.equal(by('cli').length, 300);
  // They really interleaved: each writer continued from the other's entries many times.
  let switches = 0;
  const ordered = [...entries].sort((x, y) => x.seq - y.seq);
  for (let i = 1; i < ordered.length; i++) if (ordered[i]!.actor.osUser !== ordered[i - 1]!.actor.osUser) switches++;
  t.diagnostic(`the writers took turns ${switches} times`);
  assert.ok(switches >= 2, `the writers never overlapped (${switches} switches)`);
  // Each writer's own entries stay in its call order.
  for (const w of ['console', 'cli']) {
    const is = by(w)
      .sort((x, y) => x.seq - y.seq)
      .map((e) => (e.params as { i: number }).i);
    const groups = is.map((i) => Math.floor(i / 4));
    assert.deepEqual(groups, [...groups].sort((x, y) => x - y), `${w}'s batches land in order`);
  }

  // One altered byte in the middle of the log is found and named by entry.
  const victim = ordered[299]!;
  const file = files.map((f) => path.join(logDir, f)).find((f) => fs.readFileSync(f, 'utf8').includes(victim.hash))!;
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf(`"gpu-${(victim.params as { i: number }).i}"`, text.indexOf(`"id":"${victim.id}"`)) + 2;
  fs.writeFileSync(file, text.slice(0, at) + (text[at] === 'g' ? 'h' : 'g') + text.slice(at + 1));
  const broken = verifyCli(logDir);
  assert.equal(broken.code, 1, broken.stdout);
  assert.match(broken.stdout, new RegExp(`^BROKEN \\(hash-mismatch\\): entry ${victim.seq} \\(line \\d+ of ${path.basename(file).replace('.', '\\.')}\\)`));
});

test('a writer killed while holding the append lock, mid-entry, is recovered from: the next append takes over at once and loses only that entry', async (t) => {
  const dir = tempDir(t);
  const logDir = path.join(dir, 'audit');
  const audit = new AuditService(logDir, systemClock, { actor: { osUser: 'console', host: 'h' } });
  await audit.record({ action: 'node.cordon', outcome: 'succeeded', targets: [{ kind: 'Node', name: 'gpu-1' }] });

  // The victim takes the real lock, writes half an entry, and is SIGKILLed before it finishes.
  const victim = spawnScript(
    dir,
    'victim.mts',
    `import fs from 'node:fs';
import { acquireAppendLock } from ${JSON.stringify(moduleUrl('electron/core/audit/audit-lock.ts'))};
await acquireAppendLock(${JSON.stringify(logDir)});
fs.appendFileSync(${JSON.stringify(path.join(logDir, 'audit-000001.jsonl'))}, '{"seq":2,"id":"half-writ');
process.stdout.write('locked\\n');
setInterval(() => {}, 1000);
`,
  );
  await waitFor(victim, 'locked');
  const lockText = fs.readFileSync(path.join(logDir, 'audit.lock'), 'utf8');
  assert.equal(Number(lockText.split('\n')[0]), victim.pid, 'the lock names its holder');
  victim.kill('SIGKILL');
  await new Promise((r) => victim.once('exit', r));

  // The lock is fresh (well under the 30 s age limit): only its dead pid makes it stale.
  const other = new AuditService(logDir, systemClock, { actor: { osUser: 'cli', host: 'h' }, onWarning: () => {}, lock: { waitMs: 5000 } });
  const t0 = Date.now();
  const next = await other.record({ action: 'node.uncordon', outcome: 'succeeded', targets: [{ kind: 'Node', name: 'gpu-1' }] });
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  // The torn entry is gone and its loss is itself on the record, ahead of the new entry.
  assert.equal(next.seq, 3);
  const { entries } = await other.query({});
  assert.deepEqual(
    entries.map((e) => [e.seq, e.action]),
    [
      [3, 'node.uncordon'],
      [2, 'audit.recovered'],
      [1, 'node.cordon'],
    ],
  );
  assert.deepEqual(entries[1]!.params, { droppedBytes: '{"seq":2,"id":"half-writ'.length });
  // The first process carries on after the recovery without noticing anything.
  assert.equal((await audit.record({ action: 'node.cordon', outcome: 'succeeded', targets: [{ kind: 'Node', name: 'gpu-2' }] })).seq, 4);
  await Promise.all([audit.close(), other.close()]);
  const v = verifyCli(logDir);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^intact: 4 entries/);
  assert.ok(!fs.existsSync(path.join(logDir, 'audit.lock')));
});

test('a failed audit write is reported loudly with what was not recorded, never dropped', async (t) => {
  const dir = tempDir(t);
  const logDir = path.join(dir, 'audit');
  fs.mkdirSync(logDir);
  // A live process (this one) holds the lock and never lets go.
  fs.writeFileSync(path.join(logDir, 'audit.lock'), `${process.pid}\n${os.hostname()}\nstuck\n`);
  const reported: string[] = [];
  const audit = new AuditService(logDir, systemClock, { lock: { waitMs: 150 }, onRecordFailure: (m) => reported.push(m) });
  await assert.rejects(
    audit.record({ action: 'node.cordon', outcome: 'succeeded', cluster: 'lab', targets: [{ kind: 'Node', name: 'gpu-7' }] }),
    (err: Error & { code?: string; details?: Record<string, unknown> }) =>
      err.code === 'INTERNAL' && /^node\.cordon on Node gpu-7 in lab was done, but the audit trail could not record it: .*locked by process/.test(err.message) && err.details?.auditFailed === true,
  );
  assert.equal(reported.length, 1);
  assert.deepEqual(audit.recordFailures(), reported);
  // Once the holder is gone the same service records again (a failed open is not remembered).
  fs.rmSync(path.join(logDir, 'audit.lock'));
  assert.equal((await audit.record({ action: 'node.cordon', outcome: 'succeeded', targets: [{ kind: 'Node', name: 'gpu-7' }] })).seq, 1);
  await audit.close();
});
