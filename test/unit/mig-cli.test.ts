// `tessera mig validate` and `tessera mig plan`: exit status and JSON a script can rely on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), 'mig', ...args], { cwd: root, encoding: 'utf8' });

test('validate: a legal A100 layout exits 0', () => {
  const r = run('validate', '--gpu', 'NVIDIA A100-SXM4-80GB', '--layout', '3g.40gb@0,2g.20gb@4,1g.10gb@6', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { valid: boolean; problems: unknown[] };
  assert.equal(out.valid, true);
  assert.deepEqual(out.problems, []);
});

test('validate: a bad start and an overlap exit 1 with one reason each', () => {
  const r = run('validate', '--gpu', 'NVIDIA H100 80GB HBM3', '--layout', '3g.40gb@2,1g.10gb@4,1g.10gb@4', '--json');
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout) as { valid: boolean; problems: { kind: string; message: string }[] };
  assert.equal(out.valid, false);
  assert.ok(out.problems.some((p) => p.kind === 'bad-start' && /slices 0 or 4/.test(p.message)));
  assert.ok(out.problems.some((p) => p.kind === 'overlap'));
});

test('validate: an unknown GPU and a malformed layout are one-line errors', () => {
  const a = run('validate', '--gpu', 'Tesla T4', '--layout', '1g.10gb@0');
  assert.equal(a.status, 1);
  assert.match(a.stderr, /not a MIG-capable GPU/);
  const b = run('validate', '--gpu', 'A30', '--layout', '1g.6gb-0');
  assert.equal(b.status, 2);
  assert.match(b.stderr, /is not PROFILE@START/);
});

test('plan: places what fits, and says why when nothing does', () => {
  const ok = run('plan', '--gpu', 'A30', '2g.12gb', '1g.6gb', '1g.6gb', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const placed = JSON.parse(ok.stdout) as { ok: boolean; placements: { profile: string; start: number }[] };
  assert.equal(placed.placements.length, 3);
  const no = run('plan', '--gpu', 'A100-SXM4-40GB', '4g.20gb', '4g.20gb', '--json');
  assert.equal(no.status, 1);
  assert.match((JSON.parse(no.stdout) as { reason: string }).reason, /at most 1/);
});
