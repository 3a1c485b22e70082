import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { AuditEntry } from '../../shared/model/audit.ts';
import { CSV_COLUMNS, csvCell, exportAudit, exportAuditChunks } from '../../electron/core/audit/audit-export.ts';
import { AuditLog } from '../../electron/core/audit/audit-log.ts';
import { FakeClock } from '../support/fake-clock.ts';

/** A strict RFC 4180 reader, so the test checks the format rather than trusting the writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else if (i >= text.length) {
          throw new Error('unterminated quoted cell');
        } else cell += text[i++];
      }
    } else if (text[i] === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (text[i] === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 2;
    } else if (text[i] === '"' || text[i] === '\n' || text[i] === '\r') {
      throw new Error(`bare ${JSON.stringify(text[i])} outside quotes at ${i}`);
    } else cell += text[i++];
  }
  assert.equal(cell + row.join(''), '', 'the last row ends with CRLF');
  return rows;
}

async function awkwardLog(t: TestContext): Promise<{ dir: string; entries: AuditEntry[]; clock: FakeClock }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-audit-export-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const log = new AuditLog({ dir, clock, actor: { osUser: 'o\'brien, "ops"', host: 'ws-1' } });
  await log.open();
  const entries: AuditEntry[] = [];
  entries.push(await log.append({ action: 'node.label', outcome: 'succeeded', cluster: 'lab,east', targets: [{ kind: 'Node', name: 'gpu-1' }], params: { note: 'line one\nline "two", with comma\r\nend' } }));
  clock.advance(60_000);
  entries.push(await log.append({ action: 'mig.apply', outcome: 'failed', error: 'denied, "really"', targets: [{ kind: 'Node', namespace: 'ns', name: 'gpu-2' }], durationMs: 12 }));
  clock.advance(60_000);
  entries.push(await log.append({ action: 'mig.apply', outcome: 'succeeded' }));
  await log.close();
  return { dir, entries, clock };
}

test('a CSV cell is quoted only when it must be, with quotes doubled', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csvCell('cr\r'), '"cr\r"');
});

test('CSV export has a header row and round-trips commas, quotes and newlines', async (t) => {
  const { dir, entries } = await awkwardLog(t);
  const csv = await exportAudit(dir, { format: 'csv' });
  const rows = parseCsv(csv);
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  assert.equal(rows.length, 4);
  const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
  const [r1, r2] = [rows[1]!, rows[2]!];
  assert.equal(r1[col('seq')], '1');
  assert.equal(r1[col('osUser')], 'o\'brien, "ops"');
  assert.equal(r1[col('cluster')], 'lab,east');
  assert.deepEqual(JSON.parse(r1[col('params')]!), entries[0]!.params, 'nested fields are JSON in one cell');
  assert.deepEqual(JSON.parse(r1[col('targets')]!), [{ kind: 'Node', name: 'gpu-1' }]);
  assert.equal(r1[col('hash')], entries[0]!.hash);
  assert.deepEqual(JSON.parse(r2[col('error')]!), { message: 'denied, "really"' });
  assert.equal(r2[col('durationMs')], '12');
  assert.equal(r1[col('error')], '');
  assert.ok(csv.includes('""ops""'), 'quotes are doubled inside quoted cells');
});

test('JSONL export is the stored lines, oldest first, filtered by time', async (t) => {
  const { dir, entries } = await awkwardLog(t);
  const jsonl = await exportAudit(dir, { format: 'jsonl' });
  const stored = fs.readFileSync(path.join(dir, 'audit-000001.jsonl'), 'utf8').split('\n').slice(1).join('\n');
  assert.equal(jsonl, stored);
  assert.deepEqual(jsonl.trim().split('\n').map((l) => JSON.parse(l).seq), [1, 2, 3]);
  const windowed = await exportAudit(dir, { format: 'jsonl', since: entries[1]!.time, until: Date.parse(entries[2]!.time) });
  assert.deepEqual(windowed.trim().split('\n').map((l) => JSON.parse(l).seq), [2]);
  const csv = await exportAudit(dir, { format: 'csv', since: entries[2]!.time });
  assert.equal(parseCsv(csv).length, 2, 'header and one row');
});

test('export streams chunk by chunk and reports lines it leaves out', async (t) => {
  const { dir } = await awkwardLog(t);
  fs.appendFileSync(path.join(dir, 'audit-000001.jsonl'), '{"seq":4,');
  const skipped: string[] = [];
  const chunks: string[] = [];
  for await (const c of exportAuditChunks(dir, { format: 'jsonl', onSkip: (file, line, why) => skipped.push(`${path.basename(file)}:${line} ${why}`) })) chunks.push(c);
  assert.equal(chunks.length, 3);
  assert.deepEqual(skipped, ['audit-000001.jsonl:5 is incomplete']);
  await assert.rejects(exportAudit(dir, { format: 'xml' as never }), { code: 'INVALID_REQUEST' });
});
