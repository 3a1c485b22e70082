import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { AuditEntry } from '../../shared/model/audit.ts';
import { listAuditFiles } from '../../electron/core/audit/audit-files.ts';
import { entryHash } from '../../electron/core/audit/audit-hash.ts';
import { AuditLog } from '../../electron/core/audit/audit-log.ts';
import { verifyAuditDir, verifyAuditFile } from '../../electron/core/audit/audit-verify.ts';
import { FakeClock } from '../support/fake-clock.ts';

async function writeLog(t: TestContext, count: number, maxFileBytes?: number): Promise<{ dir: string; file: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-verify-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const log = new AuditLog({ dir, clock, actor: { osUser: 'ana', host: 'ws-1' }, ...(maxFileBytes ? { maxFileBytes } : {}) });
  await log.open();
  for (let i = 1; i <= count; i++) {
    clock.advance(1000);
    await log.append({ action: 'mig.apply', outcome: 'succeeded', cluster: 'lab', targets: [{ kind: 'Node', name: `gpu-${i}` }], params: { i } });
  }
  await log.close();
  return { dir, file: path.join(dir, 'audit-000001.jsonl') };
}

/** Lines of a file, keeping the final newline convention, for hand edits. */
function edit(file: string, fn: (lines: string[]) => string[]): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const last = lines.pop();
  assert.equal(last, '', 'the writer ends every line with a newline');
  fs.writeFileSync(file, fn(lines).map((l) => `${l}\n`).join(''));
}

test('an untouched log verifies, as a directory and as a file', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  const r = await verifyAuditDir(dir);
  const last = JSON.parse(fs.readFileSync(file, 'utf8').trim().split('\n').pop()!) as AuditEntry;
  assert.deepEqual(r, { ok: true, entries: 10, files: 1, firstSeq: 1, lastSeq: 10, lastHash: last.hash });
  const f = await verifyAuditFile(file);
  assert.equal(f.ok, true);
  assert.equal(f.entries, 10);
});

test('one altered byte inside a value is a hash mismatch at that entry', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  edit(file, (lines) => lines.map((l, i) => (i === 5 ? l.replace('"gpu-5"', '"gpu-6"') : l)));
  const r = await verifyAuditDir(dir);
  assert.equal(r.ok, false);
  assert.equal(r.entries, 4, 'entries before the problem were sound');
  assert.deepEqual({ ...r.firstProblem, message: undefined }, { file, line: 6, seq: 5, kind: 'hash-mismatch', message: undefined });
  assert.equal(r.firstProblem!.message, 'entry 5 (line 6 of audit-000001.jsonl): hash does not match its content — the entry was altered');
});

test('one altered byte that breaks the JSON is an unparsable line', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  edit(file, (lines) => lines.map((l, i) => (i === 3 ? `x${l.slice(1)}` : l)));
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['unparsable', 3, 4]);
  assert.match(p.message, /^line 4 of audit-000001\.jsonl, where entry 3 should be, is not valid JSON/);
});

test('an altered entry whose hash was recomputed breaks the link of the next one', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  edit(file, (lines) =>
    lines.map((l, i) => {
      if (i !== 5) return l;
      const e = JSON.parse(l) as AuditEntry;
      e.targets = [{ kind: 'Node', name: 'someone-else' }];
      e.hash = entryHash(e);
      return JSON.stringify(e);
    }),
  );
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['broken-link', 6, 7]);
  assert.match(p.message, /^entry 6 \(line 7 of audit-000001\.jsonl\) does not link to entry 5/);
});

test('a deleted line is a missing entry, reported at the seq that is gone', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  edit(file, (lines) => lines.filter((_, i) => i !== 5));
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['missing-entry', 5, 6]);
  assert.equal(p.message, 'entry 5 is missing: line 6 of audit-000001.jsonl holds entry 6 right after entry 4 — a line was deleted');
});

test('swapped lines are reported as out of order, not as missing', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  edit(file, (lines) => {
    const copy = [...lines];
    [copy[5], copy[6]] = [copy[6]!, copy[5]!];
    return copy;
  });
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['broken-link', 6, 6]);
  assert.match(p.message, /entry 6 \(line 6 of audit-000001\.jsonl\) is out of order: entry 5 should come here but is at line 7/);
});

test('a duplicated line is reported as out of order', async (t) => {
  const { dir, file } = await writeLog(t, 5);
  edit(file, (lines) => [...lines.slice(0, 4), lines[3]!, ...lines.slice(4)]);
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['broken-link', 3, 5]);
});

test('a last line cut short is truncated, at the seq it would have had', async (t) => {
  const { dir, file } = await writeLog(t, 10);
  const size = fs.statSync(file).size;
  fs.truncateSync(file, size - 40);
  const r = await verifyAuditDir(dir);
  assert.equal(r.entries, 9);
  const p = r.firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line], ['truncated', 10, 11]);
  assert.match(p.message, /^entry 10 \(line 11 of audit-000001\.jsonl\) is incomplete/);
  assert.equal((await verifyAuditFile(file)).firstProblem?.kind, 'truncated');
});

test('an empty file or one without a header is reported on line 1', async (t) => {
  const { dir, file } = await writeLog(t, 3);
  edit(file, (lines) => lines.slice(1));
  assert.deepEqual((({ kind, line }) => ({ kind, line }))((await verifyAuditDir(dir)).firstProblem!), { kind: 'unparsable', line: 1 });
  fs.writeFileSync(file, '');
  assert.equal((await verifyAuditDir(dir)).firstProblem?.kind, 'truncated');
});

test('across rotated files: a deleted middle file, a deleted oldest file and an altered link are found', async (t) => {
  const { dir } = await writeLog(t, 30, 2048);
  const files = await listAuditFiles(dir);
  assert.ok(files.length >= 3);
  assert.equal((await verifyAuditDir(dir)).ok, true);

  const secondHeader = JSON.parse(fs.readFileSync(files[1]!.path, 'utf8').split('\n')[0]!);
  const thirdHeader = JSON.parse(fs.readFileSync(files[2]!.path, 'utf8').split('\n')[0]!);
  const saved = fs.readFileSync(files[1]!.path);
  fs.rmSync(files[1]!.path);
  let p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.line, p.file], ['missing-entry', secondHeader.prevSeq + 1, 1, files[2]!.path]);
  assert.match(p.message, new RegExp(`^entries ${secondHeader.prevSeq + 1}–${thirdHeader.prevSeq} are missing`));
  fs.writeFileSync(files[1]!.path, saved);

  // The last line of a non-final file: only the next file's header can notice it is gone.
  edit(files[0]!.path, (lines) => lines.slice(0, -1));
  p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.file], ['missing-entry', secondHeader.prevSeq, files[1]!.path]);
  fs.rmSync(files[0]!.path);
  p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.seq, p.file], ['missing-entry', 1, files[1]!.path]);
  assert.match(p.message, /it is the oldest file in the directory/);
});

test('a rotated file whose header does not carry the previous hash is a broken link', async (t) => {
  const { dir } = await writeLog(t, 30, 2048);
  const files = await listAuditFiles(dir);
  edit(files[1]!.path, (lines) => {
    const h = JSON.parse(lines[0]!);
    h.prevHash = 'f'.repeat(64);
    return [JSON.stringify(h), ...lines.slice(1)];
  });
  const p = (await verifyAuditDir(dir)).firstProblem!;
  assert.deepEqual([p.kind, p.line, p.file], ['broken-link', 1, files[1]!.path]);
  // On its own the file is consistent with its own header, except that its first entry no longer links to it.
  assert.equal((await verifyAuditFile(files[1]!.path)).firstProblem?.kind, 'broken-link');
});

test('a missing file or directory is NOT_FOUND rather than a verdict', async () => {
  await assert.rejects(verifyAuditFile('/nonexistent/audit-000001.jsonl'), { code: 'NOT_FOUND' });
  await assert.rejects(verifyAuditDir('/nonexistent/audit'), { code: 'NOT_FOUND' });
});
