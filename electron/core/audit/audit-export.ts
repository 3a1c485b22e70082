import { TesseraError } from '../../../shared/contract/errors.ts';
import type { AuditEntry } from '../../../shared/model/audit.ts';
import { listAuditFiles, parseLine, readLines } from './audit-files.ts';
import { parseTimeBound } from './audit-query.ts';

export type AuditExportFormat = 'jsonl' | 'csv';

export interface AuditExportOptions {
  /** Inclusive: an ISO time or epoch ms. */
  since?: string | number;
  /** Exclusive: an ISO time or epoch ms. */
  until?: string | number;
  format: AuditExportFormat;
  /** Told about each line left out because it does not parse, so the caller can say so. */
  onSkip?: (file: string, line: number, reason: string) => void;
}

export const CSV_COLUMNS = [
  'seq',
  'time',
  'osUser',
  'host',
  'kubeUser',
  'cluster',
  'action',
  'targets',
  'outcome',
  'error',
  'durationMs',
  'correlationId',
  'params',
  'before',
  'after',
  'id',
  'prevHash',
  'hash',
] as const;

/** RFC 4180: a cell holding a comma, quote, CR or LF is quoted, with quotes doubled. */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

const json = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));

export function csvCells(e: AuditEntry): string[] {
  return [
    String(e.seq),
    e.time,
    e.actor.osUser,
    e.actor.host,
    e.actor.kubeUser ?? '',
    e.cluster ?? '',
    e.action,
    json(e.targets),
    e.outcome,
    json(e.error),
    e.durationMs === undefined ? '' : String(e.durationMs),
    e.correlationId ?? '',
    json(e.params),
    json(e.before),
    json(e.after),
    e.id,
    e.prevHash,
    e.hash,
  ];
}

/**
 * The log oldest first, one chunk per entry, so a large log streams without being held in memory.
 * JSONL chunks are the stored lines byte for byte, so an unfiltered export still verifies.
 */
export async function* exportAuditChunks(dir: string, opts: AuditExportOptions): AsyncGenerator<string> {
  if (opts.format !== 'jsonl' && opts.format !== 'csv') throw new TesseraError('INVALID_REQUEST', `format must be jsonl or csv, got ${JSON.stringify(opts.format)}`);
  const sinceMs = parseTimeBound(opts.since, 'since');
  const untilMs = parseTimeBound(opts.until, 'until');
  if (opts.format === 'csv') yield csvRow(CSV_COLUMNS);
  for (const file of await listAuditFiles(dir)) {
    for (const line of await readLines(file.path)) {
      const parsed = parseLine(line.text);
      if (parsed.kind === 'header') continue;
      if (parsed.kind === 'bad') {
        opts.onSkip?.(file.path, line.line, line.complete ? parsed.reason : 'is incomplete');
        continue;
      }
      const t = Date.parse(parsed.entry.time);
      if (sinceMs !== undefined && t < sinceMs) continue;
      if (untilMs !== undefined && t >= untilMs) continue;
      yield opts.format === 'csv' ? csvRow(csvCells(parsed.entry)) : `${line.text}\n`;
    }
  }
}

export async function exportAudit(dir: string, opts: AuditExportOptions): Promise<string> {
  let out = '';
  for await (const chunk of exportAuditChunks(dir, opts)) out += chunk;
  return out;
}
