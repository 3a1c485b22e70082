import fs from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { AUDIT_FORMAT_VERSION, GENESIS_HASH, type AuditEntry, type AuditHeader } from '../../../shared/model/audit.ts';
import { listAuditFiles, parseLine, readLines, type RawLine } from './audit-files.ts';
import { entryHash } from './audit-hash.ts';

export type AuditProblemKind = 'hash-mismatch' | 'broken-link' | 'missing-entry' | 'unparsable' | 'truncated';

export interface AuditProblem {
  /** Path of the file the problem is in. */
  file: string;
  /** 1-based line number; line 1 is the file's header. */
  line: number;
  /** The entry found broken, or the first one missing; null when the header itself is at fault. */
  seq: number | null;
  kind: AuditProblemKind;
  /** One plain sentence for people. */
  message: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Entries checked and found sound (all of them when ok). */
  entries: number;
  files: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Hash of the last sound entry: worth writing down elsewhere, since cutting entries off the end leaves no trace. */
  lastHash?: string;
  /** For a single file: where its chain comes from, which verifyAuditFile cannot check. */
  chainsFrom?: { file: string | null; seq: number; hash: string };
  firstProblem?: AuditProblem;
}

interface ChainPoint {
  file: string | null;
  seq: number;
  hash: string;
}

interface Tally {
  entries: number;
  firstSeq?: number;
  last: ChainPoint;
}

class Found extends Error {
  constructor(readonly problem: AuditProblem) {
    super(problem.message);
  }
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * Checks one file on its own: every line parses, every hash recomputes, every entry links to the
 * one before and seq has no gaps. Its link to the previous file is taken on trust from its header.
 */
export async function verifyAuditFile(file: string): Promise<AuditVerifyResult> {
  const lines = await readExisting(file);
  const tally: Tally = { entries: 0, last: { file: null, seq: 0, hash: GENESIS_HASH } };
  try {
    const header = checkHeader(file, lines, null);
    tally.last = { file: header.prevFile, seq: header.prevSeq, hash: header.prevHash };
    const chainsFrom = { ...tally.last };
    checkEntries(file, lines, tally);
    return { ...summary(tally, 1, true), chainsFrom };
  } catch (err) {
    if (err instanceof Found) return { ...summary(tally, 1, false), firstProblem: err.problem };
    throw err;
  }
}

/** Checks every file of a log in order, including that each file's header continues the one before. */
export async function verifyAuditDir(dir: string): Promise<AuditVerifyResult> {
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) throw new TesseraError('NOT_FOUND', `no audit log directory at ${dir}`);
  const files = await listAuditFiles(dir);
  const tally: Tally = { entries: 0, last: { file: null, seq: 0, hash: GENESIS_HASH } };
  try {
    for (const f of files) {
      const lines = await readExisting(f.path);
      checkHeader(f.path, lines, tally.last);
      checkEntries(f.path, lines, tally);
      tally.last = { ...tally.last, file: f.name };
    }
    return summary(tally, files.length, true);
  } catch (err) {
    if (err instanceof Found) return { ...summary(tally, files.length, false), firstProblem: err.problem };
    throw err;
  }
}

function summary(t: Tally, files: number, ok: boolean): AuditVerifyResult {
  const r: AuditVerifyResult = { ok, entries: t.entries, files };
  if (t.entries > 0) {
    r.firstSeq = t.firstSeq!;
    r.lastSeq = t.last.seq;
    r.lastHash = t.last.hash;
  }
  return r;
}

async function readExisting(file: string): Promise<RawLine[]> {
  try {
    return await readLines(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TesseraError('NOT_FOUND', `no audit file at ${file}`);
    throw err;
  }
}

/** `expected` is where the previous file left off; null when checking a file on its own. */
function checkHeader(file: string, lines: RawLine[], expected: ChainPoint | null): AuditHeader {
  const name = path.basename(file);
  const problem = (kind: AuditProblemKind, seq: number | null, message: string) => new Found({ file, line: 1, seq, kind, message });
  const first = lines[0];
  if (!first) throw problem('truncated', expected ? expected.seq + 1 : null, `${name} is empty: its header was never written`);
  const parsed = parseLine(first.text);
  if (parsed.kind !== 'header') {
    if (!first.complete) throw problem('truncated', expected ? expected.seq + 1 : null, `${name} ends partway through its header line`);
    throw problem('unparsable', expected ? expected.seq + 1 : null, `line 1 of ${name} is not an audit file header`);
  }
  const h = parsed.header;
  if (h.version !== AUDIT_FORMAT_VERSION) throw problem('unparsable', h.prevSeq + 1, `${name} uses audit format version ${String(h.version)}, which this Tessera does not know`);
  if (!expected) return h;

  const first1 = expected.seq + 1;
  if (h.prevSeq > expected.seq) {
    const gap = h.prevSeq === first1 ? `entry ${first1} is` : `entries ${first1}–${h.prevSeq} are`;
    const where = expected.file ? `the log ends at entry ${expected.seq} in ${expected.file}` : 'it is the oldest file in the directory';
    throw problem('missing-entry', first1, `${gap} missing: ${name} continues from entry ${h.prevSeq}${h.prevFile ? ` in ${h.prevFile}` : ''}, but ${where} — a file or its last ${plural(h.prevSeq - expected.seq, 'entry', 'entries')} were deleted`);
  }
  if (h.prevSeq < expected.seq) {
    throw problem('broken-link', h.prevSeq + 1, `${name} restarts the chain after entry ${h.prevSeq}, but the log before it already reaches entry ${expected.seq} — files were replaced or mixed from another log`);
  }
  if (h.prevFile !== expected.file) {
    throw problem('broken-link', h.prevSeq + 1, `${name} says it continues ${h.prevFile ?? 'nothing (a new log)'}, but the file before it is ${expected.file ?? 'none'} — files were renamed or mixed from another log`);
  }
  if (h.prevHash !== expected.hash) {
    throw problem('broken-link', h.prevSeq + 1, `${name} does not continue from the last entry of ${expected.file ?? 'the log'}: the hashes differ — that entry was altered, or the file belongs to another log`);
  }
  return h;
}

function checkEntries(file: string, lines: RawLine[], tally: Tally): void {
  const name = path.basename(file);
  // Where each seq sits, to tell lines that were moved from lines that were deleted.
  const lineOfSeq = new Map<number, number>();
  for (const l of lines.slice(1)) {
    const p = parseLine(l.text);
    if (p.kind === 'entry' && !lineOfSeq.has(p.entry.seq)) lineOfSeq.set(p.entry.seq, l.line);
  }
  for (const l of lines.slice(1)) {
    const want = tally.last.seq + 1;
    const at = `line ${l.line} of ${name}`;
    const problem = (kind: AuditProblemKind, seq: number, message: string) => new Found({ file, line: l.line, seq, kind, message });
    const parsed = parseLine(l.text);
    if (parsed.kind !== 'entry') {
      if (!l.complete) throw problem('truncated', want, `entry ${want} (${at}) is incomplete: the file ends partway through it — a crash while writing, or the file was cut short`);
      const why = parsed.kind === 'header' ? 'is a second header' : parsed.reason;
      throw problem('unparsable', want, `${at}, where entry ${want} should be, ${why} — the file was damaged or edited`);
    }
    const e: AuditEntry = parsed.entry;
    if (e.seq > want) {
      const later = lineOfSeq.get(want);
      if (later !== undefined && later > l.line) {
        throw problem('broken-link', e.seq, `entry ${e.seq} (${at}) is out of order: entry ${want} should come here but is at line ${later} — lines were reordered`);
      }
      const gap = e.seq === want + 1 ? `entry ${want} is` : `entries ${want}–${e.seq - 1} are`;
      throw problem('missing-entry', want, `${gap} missing: ${at} holds entry ${e.seq} right after entry ${tally.last.seq} — ${plural(e.seq - want, 'a line was', 'lines were')} deleted`);
    }
    if (e.seq < want) {
      throw problem('broken-link', e.seq, `entry ${e.seq} (${at}) is out of order: entry ${want} should come here — lines were duplicated or reordered`);
    }
    if (entryHash(e) !== e.hash) {
      throw problem('hash-mismatch', e.seq, `entry ${e.seq} (${at}): hash does not match its content — the entry was altered`);
    }
    if (e.prevHash !== tally.last.hash) {
      const prev = tally.last.seq === 0 || l.line === 2 ? `the chain it continues (from the header of ${name})` : `entry ${tally.last.seq}`;
      throw problem('broken-link', e.seq, `entry ${e.seq} (${at}) does not link to ${prev}: its previous-hash differs — an entry was altered and re-hashed, or replaced`);
    }
    tally.entries++;
    tally.firstSeq ??= e.seq;
    tally.last = { file: name, seq: e.seq, hash: e.hash };
  }
}
