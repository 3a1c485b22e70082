import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { auditCommand, defaultAuditDir, parseTimeArg } from '../../electron/cli/audit-command.ts';
import { AuditLog } from '../../electron/core/audit/audit-log.ts';
import { FakeClock } from '../support/fake-clock.ts';

const DAY = 86_400_000;

async function run(args: string[], clock = new FakeClock()): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await auditCommand(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } }, { clock, env: {} });
  return { code, stdout, stderr };
}

/** Three entries: two days old, one day old, and now (by the returned clock). */
async function logDir(t: TestContext): Promise<{ dir: string; clock: FakeClock }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const log = new AuditLog({ dir, clock, actor: { osUser: 'ana', host: 'ws-1' } });
  await log.open();
  for (let i = 1; i <= 3; i++) {
    await log.append({ action: 'mig.apply', outcome: 'succeeded', targets: [{ kind: 'Node', name: `gpu-${i}` }] });
    if (i < 3) clock.advance(DAY);
  }
  await log.close();
  return { dir, clock };
}

const oneLine = (s: string) => {
  assert.match(s, /^[^\n]+\n$/, `one line: ${JSON.stringify(s)}`);
  return s.trim();
};

test('verify: an intact directory exits 0 with a one-line summary', async (t) => {
  const { dir } = await logDir(t);
  const r = await run(['verify', dir]);
  assert.equal(r.code, 0);
  assert.match(oneLine(r.stdout), /^intact: 3 entries \(seq 1–3\) in 1 file, last hash [0-9a-f]{16}$/);
  assert.equal(r.stderr, '');
  const f = await run(['verify', path.join(dir, 'audit-000001.jsonl')]);
  assert.equal(f.code, 0);
  assert.match(oneLine(f.stdout), /^intact: 3 entries \(seq 1–3\) in audit-000001\.jsonl/);
});

test('verify: a tampered log exits 1 with the first problem on one line', async (t) => {
  const { dir } = await logDir(t);
  const file = path.join(dir, 'audit-000001.jsonl');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('gpu-2', 'gpu-7'));
  const r = await run(['verify', dir]);
  assert.equal(r.code, 1);
  assert.equal(oneLine(r.stdout), 'BROKEN (hash-mismatch): entry 2 (line 3 of audit-000001.jsonl): hash does not match its content — the entry was altered');
  const json = await run(['verify', dir, '--json']);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.ok, false);
  assert.equal(parsed.firstProblem.seq, 2);
});

test('verify: a path that does not exist is a usage error (exit 2, one line on stderr)', async (t) => {
  const r = await run(['verify', path.join(os.tmpdir(), 'no-such-tessera-audit-dir')]);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /^tessera audit: no audit file or directory at /);
  assert.equal(r.stdout, '');
});

test('export: --since accepts a duration, --format csv writes a header row', async (t) => {
  const { dir, clock } = await logDir(t);
  const jsonl = await run(['export', dir, '--since', '36h'], clock);
  assert.equal(jsonl.code, 0);
  assert.deepEqual(jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l).seq), [2, 3]);
  const csv = await run(['export', dir, '--format', 'csv', '--until', new Date(clock.now() - DAY / 2).toISOString()], clock);
  assert.equal(csv.code, 0);
  const rows = csv.stdout.split('\r\n').filter(Boolean);
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, /^seq,time,osUser,/);
});

test('export: bad flags are usage errors with exit 2', async (t) => {
  const { dir } = await logDir(t);
  for (const args of [
    ['export', dir, '--format', 'xml'],
    ['export', dir, '--since', 'last tuesday'],
    ['export', dir, '--bogus'],
    ['frobnicate'],
    [],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    if (args.length) assert.match(oneLine(r.stderr), /^tessera audit: /);
  }
});

test('defaultAuditDir follows TESSERA_DATA_DIR, then XDG_CONFIG_HOME, then ~/.config', () => {
  assert.equal(defaultAuditDir({ TESSERA_DATA_DIR: '/data/t' }), path.join('/data/t', 'audit'));
  assert.equal(defaultAuditDir({ XDG_CONFIG_HOME: '/xdg' }), path.join('/xdg', 'tessera', 'audit'));
  assert.equal(defaultAuditDir({}), path.join(os.homedir(), '.config', 'tessera', 'audit'));
});

test('time arguments: durations count back from now, ISO times pass through', () => {
  const now = Date.parse('2025-03-10T12:00:00Z');
  assert.equal(parseTimeArg('24h', now, '--since'), '2025-03-09T12:00:00.000Z');
  assert.equal(parseTimeArg('7d', now, '--since'), '2025-03-03T12:00:00.000Z');
  assert.equal(parseTimeArg('30m', now, '--since'), '2025-03-10T11:30:00.000Z');
  assert.equal(parseTimeArg('2025-01-01T00:00:00Z', now, '--since'), '2025-01-01T00:00:00.000Z');
  assert.throws(() => parseTimeArg('soon', now, '--since'), /--since takes an ISO time/);
});
