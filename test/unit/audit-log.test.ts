import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { AuditEntry } from '../../shared/model/audit.ts';
import { listAuditFiles } from '../../electron/core/audit/audit-files.ts';
import { AuditLog, type AuditLogOptions } from '../../electron/core/audit/audit-log.ts';
import { REDACTED } from '../../electron/core/audit/audit-redact.ts';
import { verifyAuditDir, verifyAuditFile } from '../../electron/core/audit/audit-verify.ts';
import { FakeClock } from '../support/fake-clock.ts';

const actor = { osUser: 'ana', host: 'ws-1' };

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openLog(dir: string, extra: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  const log = new AuditLog({ dir, clock: new FakeClock(), actor, ...extra });
  await log.open();
  return log;
}

const change = (i: number) => ({ action: 'mig.apply', outcome: 'succeeded' as const, cluster: 'lab', targets: [{ kind: 'Node', name: `gpu-${i}` }], params: { profile: 'all-1g.10gb', i } });

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);

test('entries are numbered from 1, chained, fsynced lines after a header, and the log verifies', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir, { actor: { ...actor, kubeUser: 'oidc:ana' } });
  const a = await log.append(change(1));
  const b = await log.append({ ...change(2), actor: { kubeUser: 'system:admin' } });
  await log.close();

  assert.equal(a.seq, 1);
  assert.equal(b.seq, 2);
  assert.equal(a.prevHash, '0'.repeat(64));
  assert.equal(b.prevHash, a.hash);
  assert.match(a.id, /^[0-9a-f-]{36}$/);
  assert.equal(a.time, new Date(1_000_000).toISOString());
  assert.deepEqual(a.actor, { osUser: 'ana', host: 'ws-1', kubeUser: 'oidc:ana' });
  assert.equal(b.actor.kubeUser, 'system:admin', 'a per-entry Kubernetes user wins');
  const file = path.join(dir, 'audit-000001.jsonl');
  const [header, ...rest] = lines(file).map((l) => JSON.parse(l));
  assert.deepEqual({ ...header, createdAt: undefined }, { type: 'header', version: 1, prevFile: null, prevHash: '0'.repeat(64), prevSeq: 0, createdAt: undefined });
  assert.deepEqual(rest, [a, b]);
  const result = await verifyAuditDir(dir);
  assert.deepEqual({ ok: result.ok, entries: result.entries, lastSeq: result.lastSeq, lastHash: result.lastHash }, { ok: true, entries: 2, lastSeq: 2, lastHash: b.hash });
});

test('200 concurrent appends get seq 1..200 in call order, with no gaps', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  const entries = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(change(i))));
  await log.close();
  assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
  assert.deepEqual(entries.map((e) => (e.params as { i: number }).i), Array.from({ length: 200 }, (_, i) => i), 'seq follows call order');
  const onDisk = lines(path.join(dir, 'audit-000001.jsonl')).slice(1).map((l) => JSON.parse(l).seq);
  assert.deepEqual(onDisk, entries.map((e) => e.seq));
  const result = await verifyAuditDir(dir);
  assert.equal(result.ok, true);
  assert.equal(result.entries, 200);
});

test('a crash mid-write loses only the torn line; earlier bytes are untouched and the chain continues', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'audit-000001.jsonl');
  const first = await openLog(dir);
  for (let i = 1; i <= 5; i++) await first.append(change(i));
  await first.close();
  const intact = fs.readFileSync(file);
  const torn = '{"seq":6,"id":"6d0c","time":"2025-01-01T00:0';
  fs.appendFileSync(file, torn);

  const before = await verifyAuditDir(dir);
  assert.equal(before.firstProblem?.kind, 'truncated');
  assert.equal(before.firstProblem?.seq, 6);

  const warnings: string[] = [];
  const log = new AuditLog({ dir, clock: new FakeClock(), actor, onWarning: (m) => warnings.push(m) });
  const opened = await log.open();
  assert.equal(opened.warnings.length, 1);
  assert.match(opened.warnings[0]!, new RegExp(`audit-000001\\.jsonl ended with an incomplete entry \\(${torn.length} bytes, line 7\\)`));
  assert.deepEqual(warnings, opened.warnings);
  const next = await log.append(change(7));
  await log.close();

  const after = fs.readFileSync(file);
  assert.ok(after.subarray(0, intact.length).equals(intact), 'complete entries are byte-for-byte as before');
  assert.ok(!after.toString('utf8').includes(torn), 'the torn line is gone');
  const all = lines(file).slice(1).map((l) => JSON.parse(l) as AuditEntry);
  assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(all[5]!.action, 'audit.recovered', 'the recovery itself is on the record');
  assert.deepEqual(all[5]!.params, { droppedBytes: torn.length });
  assert.equal(all[5]!.prevHash, all[4]!.hash);
  assert.equal(next.seq, 7);
  const result = await verifyAuditDir(dir);
  assert.equal(result.ok, true, result.firstProblem?.message);
  assert.equal(result.entries, 7);
});

test('a half-finished rotation (temp file left behind) is cleaned up on open', async (t) => {
  const dir = tempDir(t);
  const first = await openLog(dir);
  await first.append(change(1));
  await first.close();
  fs.writeFileSync(path.join(dir, 'audit-000002.jsonl.tmp'), '{"type":"hea');
  const log = await openLog(dir);
  const e = await log.append(change(2));
  await log.close();
  assert.equal(e.seq, 2);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['audit-000001.jsonl']);
  assert.equal((await verifyAuditDir(dir)).ok, true);
});

test('open refuses to chain on from a complete last line that fails its own hash', async (t) => {
  const dir = tempDir(t);
  const first = await openLog(dir);
  await first.append(change(1));
  await first.append(change(2));
  await first.close();
  const file = path.join(dir, 'audit-000001.jsonl');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('gpu-2', 'gpu-9'));
  const log = new AuditLog({ dir, clock: new FakeClock(), actor });
  await assert.rejects(log.open(), (err: TesseraError) => err.code === 'INTERNAL' && /line 3 of audit-000001\.jsonl does not match its own hash/.test(err.message));
  assert.ok(!fs.existsSync(path.join(dir, 'audit.lock')), 'a failed open releases the lock');
});

test('rotation keeps one chain across files, each file stays under the limit, and reopening continues it', async (t) => {
  const dir = tempDir(t);
  const maxFileBytes = 2048;
  const log = await openLog(dir, { maxFileBytes });
  const written: AuditEntry[] = [];
  for (let i = 1; i <= 30; i++) written.push(await log.append(change(i)));
  await log.close();

  const files = await listAuditFiles(dir);
  assert.ok(files.length >= 3, `expected several files, got ${files.length}`);
  assert.deepEqual(files.map((f) => f.index), files.map((_, i) => i + 1));
  for (const f of files) assert.ok(fs.statSync(f.path).size <= maxFileBytes, `${f.name} is ${fs.statSync(f.path).size} bytes`);
  const first = lines(files[0]!.path).map((l) => JSON.parse(l));
  const secondHeader = JSON.parse(lines(files[1]!.path)[0]!);
  const lastOfFirst = first[first.length - 1] as AuditEntry;
  assert.deepEqual(
    { type: secondHeader.type, prevFile: secondHeader.prevFile, prevHash: secondHeader.prevHash, prevSeq: secondHeader.prevSeq },
    { type: 'header', prevFile: 'audit-000001.jsonl', prevHash: lastOfFirst.hash, prevSeq: lastOfFirst.seq },
  );
  assert.equal(JSON.parse(lines(files[1]!.path)[1]!).prevHash, lastOfFirst.hash);

  const dirResult = await verifyAuditDir(dir);
  assert.equal(dirResult.ok, true, dirResult.firstProblem?.message);
  assert.deepEqual([dirResult.entries, dirResult.files, dirResult.lastSeq], [30, files.length, 30]);
  const fileResult = await verifyAuditFile(files[1]!.path);
  assert.equal(fileResult.ok, true);
  assert.deepEqual(fileResult.chainsFrom, { file: 'audit-000001.jsonl', seq: lastOfFirst.seq, hash: lastOfFirst.hash });

  const again = await openLog(dir, { maxFileBytes });
  const e = await again.append(change(31));
  assert.equal(again.status().file, files[files.length - 1]!.name, 'appends go on in the newest file');
  await again.close();
  assert.equal(e.seq, 31);
  assert.equal(e.prevHash, written[29]!.hash);
  assert.equal((await verifyAuditDir(dir)).entries, 31);
});

test('secrets in params, before and after never reach the disk', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  const e = await log.append({
    action: 'cluster.import',
    outcome: 'succeeded',
    params: { user: 'ana', password: 'pw-SENTINEL', auth: { token: 'tok-SENTINEL', 'client-key-data': 'key-SENTINEL' } },
    after: { kind: 'Secret', metadata: { name: 'regcred' }, data: { '.dockerconfigjson': 'data-SENTINEL' } },
  });
  await log.close();
  assert.deepEqual(e.params, { user: 'ana', password: REDACTED, auth: { token: REDACTED, 'client-key-data': REDACTED } });
  assert.deepEqual(e.after, { kind: 'Secret', metadata: { name: 'regcred' }, data: REDACTED });
  const raw = fs.readFileSync(path.join(dir, 'audit-000001.jsonl'), 'utf8');
  assert.ok(!raw.includes('SENTINEL'), 'no secret value is in the file');
  assert.ok(raw.includes('regcred'));
});

test('a large before/after is replaced by a marker; a small one is kept', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  const big = { spec: { blob: 'x'.repeat(10_000) } };
  const e = await log.append({ ...change(1), before: big, after: { spec: { small: true } } });
  await log.close();
  const before = e.before as Record<string, unknown>;
  assert.equal(before.$audit, 'dropped');
  assert.equal(before.reason, 'larger than 8192 bytes');
  assert.ok((before.bytes as number) > 10_000);
  assert.match(before.sha256 as string, /^[0-9a-f]{64}$/);
  assert.deepEqual(e.after, { spec: { small: true } });
  assert.ok(fs.statSync(path.join(dir, 'audit-000001.jsonl')).size < 4096);
  assert.equal((await verifyAuditDir(dir)).ok, true);
});

test('start/finish ties an operation together with correlationId, duration and the error', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const log = new AuditLog({ dir, clock, actor });
  await log.open();
  const op = await log.start({ action: 'mig.apply', cluster: 'lab', targets: [{ kind: 'Node', name: 'gpu-1' }], params: { profile: 'all-3g.40gb' } });
  clock.advance(1500);
  const end = await op.finish('failed', { error: new TesseraError('FORBIDDEN', 'nodes "gpu-1" is forbidden') });
  await assert.rejects(op.finish('succeeded'), /already finished/);
  const page = await log.query({ correlationId: op.entry.id });
  await log.close();
  assert.equal(op.entry.outcome, 'started');
  assert.equal(end.outcome, 'failed');
  assert.equal(end.correlationId, op.entry.id);
  assert.equal(end.durationMs, 1500);
  assert.deepEqual(end.error, { code: 'FORBIDDEN', message: 'nodes "gpu-1" is forbidden' });
  assert.deepEqual(end.targets, [{ kind: 'Node', name: 'gpu-1' }]);
  assert.deepEqual(page.entries.map((e) => e.seq), [2, 1]);
});

test('bad input is refused without using up a seq', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  await assert.rejects(log.append({ action: '', outcome: 'succeeded' }), (err: TesseraError) => err.code === 'INVALID_REQUEST');
  await assert.rejects(log.append({ action: 'x', outcome: 'done' as never }), (err: TesseraError) => err.code === 'INVALID_REQUEST' && /outcome/.test(err.message));
  await assert.rejects(log.append({ action: 'x', outcome: 'succeeded', targets: [{ kind: 'Node' } as never] }), /kind and a name/);
  const e = await log.append(change(1));
  await log.close();
  assert.equal(e.seq, 1);
});

test('two writers on one directory interleave into one chain, each continuing from the other\'s last entry', async (t) => {
  const dir = tempDir(t);
  const first = await openLog(dir);
  const second = await openLog(dir);
  const a = await first.append(change(1));
  const b = await second.append(change(2));
  const c = await first.append(change(3));
  await Promise.all([first.close(), second.close()]);
  assert.deepEqual([a.seq, b.seq, c.seq], [1, 2, 3]);
  assert.equal(b.prevHash, a.hash, 'the second writer re-read the tail the first one wrote');
  assert.equal(c.prevHash, b.hash);
  assert.ok(!fs.existsSync(path.join(dir, 'audit.lock')), 'no lock is held between appends');
  const result = await verifyAuditDir(dir);
  assert.equal(result.ok, true, result.firstProblem?.message);
  assert.equal(result.entries, 3);
});

test('a writer whose entries were removed from disk refuses to chain on (it would fork the chain and hide the cut)', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  for (let i = 1; i <= 3; i++) await log.append(change(i));
  const file = path.join(dir, 'audit-000001.jsonl');
  const kept = lines(file).slice(0, -1);
  fs.writeFileSync(file, `${kept.join('\n')}\n`);
  await assert.rejects(log.append(change(4)), /went back from entry 3 to 2: files were removed or cut short/);
  await assert.rejects(log.append(change(5)), /went back from entry 3 to 2/, 'and stays refused');
  await log.close();
  assert.equal(lines(file).length, 3, 'nothing was written after the cut');
});

test('a writer waits for a live holder of the append lock and names it when it gives up', async (t) => {
  const dir = tempDir(t);
  // Our own pid is alive, so only the age could make this lock stale.
  fs.writeFileSync(path.join(dir, 'audit.lock'), `${process.pid}\n${os.hostname()}\nsomeone-else\n`);
  await assert.rejects(openLog(dir, { lock: { waitMs: 200 } }), (err: TesseraError) => err.code === 'INTERNAL' && new RegExp(`locked by process ${process.pid} on `).test(err.message));
  assert.ok(fs.existsSync(path.join(dir, 'audit.lock')), 'a live holder\'s lock is left alone');
  const waiting = openLog(dir, { lock: { waitMs: 5000 } });
  setTimeout(() => fs.rmSync(path.join(dir, 'audit.lock')), 100);
  const log = await waiting;
  assert.equal((await log.append(change(1))).seq, 1);
  await log.close();
});

test('a lock older than staleMs is broken even if its pid is alive (pid reuse, a hung writer)', async (t) => {
  const dir = tempDir(t);
  const lock = path.join(dir, 'audit.lock');
  fs.writeFileSync(lock, `${process.pid}\n${os.hostname()}\nhung\n`);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lock, old, old);
  const log = await openLog(dir, { lock: { staleMs: 30_000, waitMs: 1000 } });
  assert.equal((await log.append(change(1))).seq, 1);
  await log.close();
  assert.ok(!fs.existsSync(lock));
});

test('a lock left by a dead process is taken over', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'audit.lock'), '2147483646\n');
  const log = await openLog(dir);
  assert.equal((await log.append(change(1))).seq, 1);
  await log.close();
  assert.ok(!fs.existsSync(path.join(dir, 'audit.lock')));
});

test('close lets appends already made land, and refuses later ones', async (t) => {
  const dir = tempDir(t);
  const log = await openLog(dir);
  const pending = [log.append(change(1)), log.append(change(2))];
  const closing = log.close();
  await assert.rejects(log.append(change(3)), /closed/);
  await closing;
  assert.deepEqual((await Promise.all(pending)).map((e) => e.seq), [1, 2]);
  await assert.rejects(log.append(change(4)), /closed/);
  await assert.rejects(new AuditLog({ dir, clock: new FakeClock(), actor }).append(change(5)), /not open yet/);
  assert.equal((await verifyAuditDir(dir)).entries, 2);
});

test('the mirror sees each entry after it is durable; its failures are counted and never block', async (t) => {
  const dir = tempDir(t);
  const seen: number[] = [];
  let calls = 0;
  const mirror = {
    async mirror(entry: AuditEntry) {
      calls++;
      assert.ok(fs.readFileSync(path.join(dir, 'audit-000001.jsonl'), 'utf8').includes(entry.hash), 'written before mirrored');
      if (entry.seq === 2) throw new Error('events is forbidden');
      if (entry.seq === 3) return new Promise<void>(() => {}); // never settles
      seen.push(entry.seq);
    },
  };
  const log = await openLog(dir, { mirror });
  for (let i = 1; i <= 4; i++) await log.append(change(i));
  await new Promise((r) => setImmediate(r));
  await log.close();
  assert.equal(calls, 4);
  assert.deepEqual(seen, [1, 4]);
  const status = log.status();
  assert.equal(status.mirror.delivered, 2);
  assert.equal(status.mirror.failed, 1);
  assert.equal(status.mirror.lastError, 'events is forbidden');
  assert.ok(status.warnings.some((w) => /could not mirror audit entry 2 \(mig\.apply\): events is forbidden/.test(w)));
  assert.equal((await verifyAuditDir(dir)).entries, 4);
});

test('a writer killed with SIGKILL mid-stream leaves a log that reopens, continues and verifies', async (t) => {
  const dir = tempDir(t);
  const logModule = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../electron/core/audit/audit-log.ts')).href;
  const script = path.join(dir, 'writer.mts');
  fs.writeFileSync(
    script,
    `import { AuditLog } from ${JSON.stringify(logModule)};
const log = new AuditLog({ dir: ${JSON.stringify(path.join(dir, 'log'))}, clock: { now: () => Date.now(), setTimeout }, actor: { osUser: 'w', host: 'h' }, maxFileBytes: 4096 });
await log.open();
for (let i = 0; ; i++) {
  await Promise.all([log.append({ action: 'loop.write', outcome: 'succeeded', params: { i } }), log.append({ action: 'loop.write', outcome: 'started', params: { i } })]);
  if (i === 20) process.stdout.write('ready\\n');
}
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const log = await openLog(path.join(dir, 'log'), { maxFileBytes: 4096 });
  const next = await log.append(change(0));
  await log.close();
  const result = await verifyAuditDir(path.join(dir, 'log'));
  assert.equal(result.ok, true, result.firstProblem?.message);
  assert.ok(result.entries >= 42, `only ${result.entries} entries`);
  assert.ok(result.files >= 2, 'the writer rotated before it died');
  assert.equal(result.lastSeq, next.seq);
});
