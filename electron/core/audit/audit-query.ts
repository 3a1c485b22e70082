import { TesseraError } from '../../../shared/contract/errors.ts';
import { AUDIT_OUTCOMES, type AuditEntry, type AuditOutcome } from '../../../shared/model/audit.ts';
import { listAuditFiles, parseLine, readHeader, readLines } from './audit-files.ts';

export interface AuditQuery {
  /** Inclusive lower bound: an ISO time or epoch milliseconds. */
  since?: string | number;
  /** Exclusive upper bound: an ISO time or epoch milliseconds. */
  until?: string | number;
  cluster?: string;
  /** 'mig.apply' matches itself; 'mig' matches every 'mig.*' action. */
  action?: string;
  /** Case-insensitive part of the OS user, Kubernetes user or host name. */
  actor?: string;
  outcome?: AuditOutcome | AuditOutcome[];
  /** Every entry of one operation: the 'started' entry's id. */
  correlationId?: string;
  /** Case-insensitive text anywhere in the entry (targets, params, errors, ...). */
  text?: string;
  /** Page size, 1 to 1000; 100 when not given. */
  limit?: number;
  /** Cursor: only entries older than this seq (pass the previous page's nextBefore). */
  before?: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Present when older matching entries remain: pass it as `before` for the next page. */
  nextBefore?: number;
}

export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

/** Parses a time bound given as ISO text or epoch ms; anything else is the caller's mistake. */
export function parseTimeBound(value: string | number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new TesseraError('INVALID_REQUEST', `${name} must be an ISO time such as 2025-01-31T12:00:00Z, got ${JSON.stringify(value)}`);
  return ms;
}

type Predicate = (e: AuditEntry) => boolean;

function compile(q: AuditQuery): { match: Predicate; sinceMs: number | undefined } {
  const tests: Predicate[] = [];
  const sinceMs = parseTimeBound(q.since, 'since');
  const untilMs = parseTimeBound(q.until, 'until');
  if (sinceMs !== undefined) tests.push((e) => Date.parse(e.time) >= sinceMs);
  if (untilMs !== undefined) tests.push((e) => Date.parse(e.time) < untilMs);
  if (q.cluster) tests.push((e) => e.cluster === q.cluster);
  if (q.action) {
    const a = q.action;
    tests.push((e) => e.action === a || e.action.startsWith(`${a}.`));
  }
  if (q.actor) {
    const needle = q.actor.toLowerCase();
    tests.push((e) => [e.actor.osUser, e.actor.kubeUser, e.actor.host].some((v) => typeof v === 'string' && v.toLowerCase().includes(needle)));
  }
  if (q.outcome !== undefined) {
    const wanted = new Set(Array.isArray(q.outcome) ? q.outcome : [q.outcome]);
    for (const o of wanted) if (!AUDIT_OUTCOMES.includes(o)) throw new TesseraError('INVALID_REQUEST', `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}, got ${JSON.stringify(o)}`);
    tests.push((e) => wanted.has(e.outcome));
  }
  if (q.correlationId) tests.push((e) => e.id === q.correlationId || e.correlationId === q.correlationId);
  if (q.text) {
    const needle = q.text.toLowerCase();
    tests.push((e) => {
      const { hash: _h, prevHash: _p, ...rest } = e;
      return JSON.stringify(rest).toLowerCase().includes(needle);
    });
  }
  return { match: (e) => tests.every((t) => t(e)), sinceMs };
}

/**
 * One page of entries, newest first, across every file in `dir`. Lines that do not parse
 * (a write in progress, damage) are skipped: browsing is not verification.
 */
export async function queryAudit(dir: string, q: AuditQuery = {}): Promise<AuditPage> {
  const { match, sinceMs } = compile(q);
  const limit = q.limit ?? DEFAULT_QUERY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) throw new TesseraError('INVALID_REQUEST', `limit must be a whole number from 1 to ${MAX_QUERY_LIMIT}, got ${limit}`);
  if (q.before !== undefined && !Number.isInteger(q.before)) throw new TesseraError('INVALID_REQUEST', `before must be an entry seq, got ${JSON.stringify(q.before)}`);

  const files = await listAuditFiles(dir);
  const entries: AuditEntry[] = [];
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i]!;
    if (q.before !== undefined) {
      // Every entry in a file comes after its header's prevSeq, so the header alone can rule the file out.
      const header = await readHeader(file.path);
      if (header && header.prevSeq + 1 >= q.before) continue;
    }
    let oldestTime = Infinity;
    const lines = await readLines(file.path);
    for (let j = lines.length - 1; j >= 0; j--) {
      const parsed = parseLine(lines[j]!.text);
      if (parsed.kind !== 'entry') continue;
      const e = parsed.entry;
      oldestTime = Math.min(oldestTime, Date.parse(e.time));
      if (q.before !== undefined && e.seq >= q.before) continue;
      if (!match(e)) continue;
      if (entries.length === limit) return { entries, nextBefore: entries[limit - 1]!.seq };
      entries.push(e);
    }
    // Files are written in time order, so once a whole file predates `since` the older ones do too.
    if (sinceMs !== undefined && oldestTime < sinceMs) break;
  }
  return { entries };
}
