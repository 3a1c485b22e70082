import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { AuditInput } from '../../shared/model/audit.ts';
import { listAuditFiles } from '../../electron/core/audit/audit-files.ts';
import { AuditLog } from '../../electron/core/audit/audit-log.ts';
import { queryAudit } from '../../electron/core/audit/audit-query.ts';
import { FakeClock } from '../support/fake-clock.ts';

const HOUR = 3_600_000;

/** 40 entries an hour apart, spread over several files, with a mix of clusters, actions, users and outcomes. */
async function sampleLog(t: TestContext): Promise<{ dir: string; log: AuditLog; start: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-query-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const start = clock.now();
  const log = new AuditLog({ dir, clock, actor: { osUser: 'ana', host: 'ws-1' }, maxFileBytes: 4096 });
  await log.open();
  t.after(() => log.close());
  for (let i = 1; i <= 40; i++) {
    const input: AuditInput = {
      action: ['mig.apply', 'mig.plan', 'migrate.run', 'node.cordon'][i % 4]!,
      outcome: i % 5 === 0 ? 'failed' : 'succeeded',
      cluster: i % 2 ? 'lab' : 'prod',
      targets: [{ kind: 'Node', name: `gpu-${i}` }],
      params: { note: i === 17 ? 'Rebalance for Team-Vision' : 'routine' },
      actor: { kubeUser: i % 3 === 0 ? 'oidc:bob@example.com' : 'oidc:ana@example.com' },
    };
    await log.append(input);
    clock.advance(HOUR);
  }
  assert.ok((await listAuditFiles(dir)).length >= 3, 'the sample spans several files');
  return { dir, log, start };
}

test('newest first with a default page, and each filter narrows it', async (t) => {
  const { dir, log, start } = await sampleLog(t);
  const all = await log.query();
  assert.deepEqual(all.entries.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => 40 - i));
  assert.equal(all.nextBefore, undefined);

  const seqs = async (q: Parameters<typeof queryAudit>[1]) => (await queryAudit(dir, q)).entries.map((e) => e.seq);
  assert.deepEqual(await seqs({ cluster: 'prod', outcome: 'failed' }), [40, 30, 20, 10]);
  assert.deepEqual(await seqs({ action: 'mig', limit: 4 }), [40, 37, 36, 33], "'mig' is a prefix of mig.*, not of migrate.*");
  assert.deepEqual(await seqs({ action: 'migrate.run', limit: 3 }), [38, 34, 30]);
  assert.deepEqual(await seqs({ actor: 'BOB@', limit: 3 }), [39, 36, 33]);
  assert.deepEqual(await seqs({ outcome: ['failed'], actor: 'bob' }), [30, 15]);
  assert.deepEqual(await seqs({ text: 'team-vision' }), [17]);
  assert.deepEqual(await seqs({ text: 'GPU-23' }), [23], 'text matches targets too');
  assert.deepEqual(await seqs({ since: new Date(start + 35 * HOUR).toISOString() }), [40, 39, 38, 37, 36]);
  assert.deepEqual(await seqs({ since: start + 10 * HOUR, until: new Date(start + 13 * HOUR).toISOString() }), [13, 12, 11]);
});

test('pages chain through before and cover every match exactly once, across files', async (t) => {
  const { log } = await sampleLog(t);
  const got: number[] = [];
  let before: number | undefined;
  let pages = 0;
  do {
    const page = await log.query({ limit: 7, cluster: 'lab', ...(before !== undefined ? { before } : {}) });
    assert.ok(page.entries.length <= 7);
    got.push(...page.entries.map((e) => e.seq));
    before = page.nextBefore;
    pages++;
  } while (before !== undefined);
  assert.equal(pages, 3);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => 39 - 2 * i));
});

test('bad query values are refused as INVALID_REQUEST', async (t) => {
  const { log } = await sampleLog(t);
  await assert.rejects(log.query({ since: 'yesterday' }), { code: 'INVALID_REQUEST' });
  await assert.rejects(log.query({ limit: 0 }), { code: 'INVALID_REQUEST' });
  await assert.rejects(log.query({ outcome: 'ok' as never }), { code: 'INVALID_REQUEST' });
});

test('a query sees its own appends and skips a torn line', async (t) => {
  const { dir, log } = await sampleLog(t);
  const e = await log.append({ action: 'node.drain', outcome: 'started' });
  const files = await listAuditFiles(dir);
  fs.appendFileSync(files[files.length - 1]!.path, '{"seq":42,"ha');
  const page = await log.query({ limit: 2 });
  assert.deepEqual(page.entries.map((x) => x.seq), [e.seq, 40]);
});
