import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isErrorShape, TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { Clock } from '../clock.ts';
import { AUDIT_FORMAT_VERSION, AUDIT_OUTCOMES, GENESIS_HASH, type AuditActor, type AuditEntry, type AuditErrorInfo, type AuditHeader, type AuditInput, type AuditOutcome, type AuditTarget } from '../../../shared/model/audit.ts';
import { auditFileIndex, auditFileName, createFileAtomic, fsyncDir, lineNumberAt, parseLine, readHeader, readTailLines, TEMP_SUFFIX, writeFully, type AuditFileRef } from './audit-files.ts';
import { entryHash } from './audit-hash.ts';
import { removeStaleLockTemps, withAppendLock, type AppendLockOptions } from './audit-lock.ts';
import { queryAudit, type AuditPage, type AuditQuery } from './audit-query.ts';
import { capValue, toAuditJson } from './audit-redact.ts';

/**
 * Called after an entry is durable; a failure is counted and reported, never blocks or undoes
 * the write. Resolving to 'skipped' (not for this entry, or turned off) counts as neither.
 */
export interface AuditMirror {
  mirror(entry: AuditEntry): Promise<void | 'skipped'>;
}

export interface AuditLogOptions {
  dir: string;
  clock: Clock;
  actor: AuditActor;
  /** A file that would grow past this is closed and the entry goes to the next file. */
  maxFileBytes?: number;
  /** before/after larger than this (canonical JSON) are replaced by a marker; params get twice this. */
  maxSnapshotBytes?: number;
  mirror?: AuditMirror;
  onWarning?: (message: string) => void;
  /** How long an append waits for another process's append, and when a lock counts as stale. */
  lock?: AppendLockOptions;
}

export interface AuditLogStatus {
  dir: string;
  file: string | null;
  lastSeq: number;
  lastHash: string;
  warnings: string[];
  mirror: { delivered: number; failed: number; lastError?: string };
}

export type AuditEndOutcome = Exclude<AuditOutcome, 'started'>;

/** A 'started' entry waiting for its end; finish() writes the end with correlationId and durationMs. */
export interface AuditOperation {
  readonly entry: AuditEntry;
  finish(outcome: AuditEndOutcome, details?: { after?: unknown; error?: unknown; params?: unknown }): Promise<AuditEntry>;
}

export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024;
const MAX_ERROR_MESSAGE = 2000;
const MAX_WARNINGS = 100;
const ACTION = /^[A-Za-z0-9][\w.:/-]{0,199}$/;

/** The OS identity of this process; a per-cluster Kubernetes user is added per entry. */
export function defaultActor(): AuditActor {
  let osUser: string;
  try {
    osUser = os.userInfo().username;
  } catch {
    // A uid with no passwd entry (some containers) makes userInfo() throw.
    osUser = process.env.USER ?? process.env.USERNAME ?? `uid:${process.getuid?.() ?? 'unknown'}`;
  }
  return { osUser, host: os.hostname() };
}

/**
 * Append-only, hash-chained audit log in `dir` (audit-000001.jsonl, audit-000002.jsonl, ...).
 * Every entry is one line written and fsynced before append() resolves, so a crash can only
 * leave the line being written incomplete, and open() removes exactly that.
 */
export class AuditLog {
  readonly dir: string;
  private readonly clock: Clock;
  private readonly actor: AuditActor;
  private readonly maxFileBytes: number;
  private readonly maxSnapshotBytes: number;
  private readonly mirrorHook: AuditMirror | undefined;
  private readonly onWarning: ((message: string) => void) | undefined;

  private handle: fs.FileHandle | null = null;
  private file: AuditFileRef | null = null;
  private size = 0;
  private fileStartSeq = 0;
  private seq = 0;
  private lastHash = GENESIS_HASH;
  private queue: Promise<unknown> = Promise.resolve();
  private state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  private readonly lockOptions: AppendLockOptions;
  /** Set when the disk went back behind entries this writer had made: no more writes (see syncTail). */
  private wentBack: string | null = null;
  private readonly warnings: string[] = [];
  private readonly mirrors = new Set<Promise<void>>();
  private readonly mirrorStats: { delivered: number; failed: number; lastError?: string } = { delivered: 0, failed: 0 };

  constructor(opts: AuditLogOptions) {
    this.dir = path.resolve(opts.dir);
    this.clock = opts.clock;
    this.actor = { ...opts.actor };
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxSnapshotBytes = opts.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
    this.mirrorHook = opts.mirror;
    this.onWarning = opts.onWarning;
    this.lockOptions = opts.lock ?? {};
  }

  /**
   * Repairs a torn last line and clears a half-finished rotation (under the append lock, so a
   * writer in another process is never mistaken for a crash) and finds where the chain continues.
   */
  async open(): Promise<{ warnings: string[] }> {
    if (this.state !== 'new') throw new TesseraError('INTERNAL', 'the audit log is already open (or was closed)');
    this.state = 'opening';
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await withAppendLock(this.dir, this.lockOptions, () => this.syncTail());
      this.state = 'open';
      return { warnings: [...this.warnings] };
    } catch (err) {
      await this.handle?.close();
      this.handle = null;
      this.state = 'closed';
      throw err;
    }
  }

  /** Appends in call order; resolves once the entry is on disk. */
  append(input: AuditInput): Promise<AuditEntry> {
    let validated: AuditInput;
    try {
      if (this.state === 'closing' || this.state === 'closed') throw new TesseraError('INTERNAL', 'the audit log is closed');
      if (this.state !== 'open') throw new TesseraError('INTERNAL', 'the audit log is not open yet');
      validated = validateInput(input);
    } catch (err) {
      return Promise.reject(err);
    }
    const result = this.queue.then(() => this.write(validated));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Writes the 'started' entry now and hands back a way to write its end. */
  async start(input: Omit<AuditInput, 'outcome' | 'correlationId' | 'durationMs'>): Promise<AuditOperation> {
    const entry = await this.append({ ...input, outcome: 'started' });
    let finished = false;
    return {
      entry,
      finish: (outcome, details = {}) => {
        if (finished) return Promise.reject(new TesseraError('INVALID_REQUEST', `audit operation ${entry.id} (${entry.action}) was already finished`));
        if (outcome === ('started' as AuditOutcome)) return Promise.reject(new TesseraError('INVALID_REQUEST', 'an operation finishes as succeeded, failed or cancelled'));
        finished = true;
        return this.append({
          action: input.action,
          outcome,
          ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
          ...(input.targets ? { targets: input.targets } : {}),
          ...(input.actor ? { actor: input.actor } : {}),
          ...(details.params !== undefined ? { params: details.params } : {}),
          ...(details.after !== undefined ? { after: details.after } : {}),
          ...(details.error !== undefined ? { error: details.error } : {}),
          correlationId: entry.id,
          durationMs: Math.max(0, this.clock.now() - Date.parse(entry.time)),
        });
      },
    };
  }

  /** Newest first, across files; waits for appends already queued so a caller sees its own writes. */
  async query(q: AuditQuery = {}): Promise<AuditPage> {
    await this.queue;
    return queryAudit(this.dir, q);
  }

  status(): AuditLogStatus {
    return {
      dir: this.dir,
      file: this.file?.name ?? null,
      lastSeq: this.seq,
      lastHash: this.lastHash,
      warnings: [...this.warnings],
      mirror: { ...this.mirrorStats },
    };
  }

  /** Resolves when every mirror call started so far has settled. */
  async mirrorsIdle(): Promise<void> {
    while (this.mirrors.size > 0) await Promise.allSettled([...this.mirrors]);
  }

  /** Waits for queued appends, then closes the file. Mirrors still in flight are not awaited. */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    // Appends already accepted still land; new ones are refused from here on.
    this.state = 'closing';
    await this.queue;
    this.state = 'closed';
    await this.handle?.close();
    this.handle = null;
  }

  /**
   * With the append lock held: brings this writer's idea of the chain's end (file, size, seq,
   * hash) up to date with the disk, where other processes may have appended or rotated since.
   * Anything half-written found now is crash damage, since no writer is active: a torn last
   * line is cut off (and an audit.recovered entry written), a rotation's temp file removed.
   */
  private async syncTail(): Promise<void> {
    const names = await fs.readdir(this.dir);
    const temps = names.filter((n) => n.startsWith('audit-') && n.endsWith(TEMP_SUFFIX));
    for (const name of temps) await fs.rm(path.join(this.dir, name), { force: true });
    if (temps.length > 0) await fsyncDir(this.dir);
    await removeStaleLockTemps(this.dir, names, this.lockOptions.staleMs);
    let last: AuditFileRef | undefined;
    for (const name of names) {
      const index = auditFileIndex(name);
      if (index !== null && (!last || index > last.index)) last = { name, path: path.join(this.dir, name), index };
    }
    const known = this.seq;
    if (!last) {
      if (known > 0) this.refuse(known, 0);
      this.seq = 0;
      this.lastHash = GENESIS_HASH;
      const first: AuditFileRef = { name: auditFileName(1), path: path.join(this.dir, auditFileName(1)), index: 1 };
      await this.switchTo(first, await this.createFile(first.name, null), 0);
      return;
    }
    // Fast path: still the file we last wrote, at the size we left it, so nobody appended since.
    if (this.handle && this.file?.name === last.name && (await this.handle.stat()).size === this.size) return;
    const recovered = await this.readTail(last);
    // Only incomplete lines are ever cut off, and every entry this writer made was complete.
    if (this.seq < known) this.refuse(known, this.seq);
    if (recovered) {
      await this.appendLocked({ action: 'audit.recovered', outcome: 'succeeded', targets: [{ kind: 'AuditFile', name: recovered.file }], params: { droppedBytes: recovered.bytes } });
    }
  }

  /** Entries this writer made are gone: chaining on would fork the chain and hide it. */
  private refuse(known: number, found: number): never {
    this.wentBack = `the audit trail in ${this.dir} went back from entry ${known} to ${found}: files were removed or cut short by something other than Tessera; run "tessera audit verify" and keep the files as they are`;
    throw new TesseraError('INTERNAL', this.wentBack, { dir: this.dir, known, found });
  }

  private async readTail(last: AuditFileRef): Promise<{ file: string; bytes: number } | null> {
    const header = await readHeader(last.path);
    if (!header) throw corrupt(last.name, 1, 'does not start with an audit header');
    const lines = await readTailLines(last.path);
    let size = (await fs.stat(last.path)).size;
    let recovered: { file: string; bytes: number } | null = null;
    const tail = lines[lines.length - 1];
    if (tail && !tail.complete) {
      const bytes = size - tail.offset;
      const lineNo = tail.line || (await lineNumberAt(last.path, tail.offset));
      // Only the torn line goes: everything before its first byte was fsynced by an earlier append.
      const h = await fs.open(last.path, 'r+');
      try {
        await h.truncate(tail.offset);
        await h.sync();
      } finally {
        await h.close();
      }
      lines.pop();
      size = tail.offset;
      recovered = { file: last.name, bytes };
      this.warn(`${last.name} ended with an incomplete entry (${bytes} bytes, line ${lineNo}), most likely from a crash while writing; it was removed and the log continues from the last complete entry`);
    }
    const lastLine = lines[lines.length - 1];
    if (!lastLine) throw corrupt(last.name, 1, 'has no complete header line');
    const parsed = parseLine(lastLine.text);
    if (parsed.kind === 'header') {
      this.seq = parsed.header.prevSeq;
      this.lastHash = parsed.header.prevHash;
    } else if (parsed.kind === 'entry' && entryHash(parsed.entry) === parsed.entry.hash) {
      this.seq = parsed.entry.seq;
      this.lastHash = parsed.entry.hash;
    } else {
      // A complete line that fails its own hash is not crash damage; chaining on from it would hide tampering.
      throw corrupt(last.name, lastLine.line || (await lineNumberAt(last.path, lastLine.offset)), parsed.kind === 'bad' ? parsed.reason : 'does not match its own hash');
    }
    await this.switchTo(last, size, header.prevSeq);
    return recovered;
  }

  /** Points the writer at `file` (reopening for append if it changed). */
  private async switchTo(file: AuditFileRef, size: number, fileStartSeq: number): Promise<void> {
    if (this.file?.name !== file.name || !this.handle) {
      const handle = await fs.open(file.path, 'a');
      await this.handle?.close();
      this.handle = handle;
    }
    this.file = file;
    this.size = size;
    this.fileStartSeq = fileStartSeq;
  }

  private async createFile(name: string, prevFile: string | null): Promise<number> {
    const header: AuditHeader = {
      type: 'header',
      version: AUDIT_FORMAT_VERSION,
      prevFile,
      prevHash: this.lastHash,
      prevSeq: this.seq,
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    const text = `${JSON.stringify(header)}\n`;
    await createFileAtomic(this.dir, name, text);
    return Buffer.byteLength(text);
  }

  /** The new file appears complete (header and all) or not at all, so rotation is atomic. */
  private async rotate(): Promise<void> {
    const index = this.file!.index + 1;
    const next: AuditFileRef = { name: auditFileName(index), path: path.join(this.dir, auditFileName(index)), index };
    await this.switchTo(next, await this.createFile(next.name, this.file!.name), this.seq);
  }

  /** Takes the append lock for this one entry: re-reads the chain's end, appends, fsyncs, lets go. */
  private async write(input: AuditInput): Promise<AuditEntry> {
    if (this.state === 'closed') throw new TesseraError('INTERNAL', 'the audit log is closed');
    if (this.wentBack) throw new TesseraError('INTERNAL', this.wentBack);
    return withAppendLock(this.dir, this.lockOptions, async () => {
      await this.syncTail();
      return this.appendLocked(input);
    });
  }

  private async appendLocked(input: AuditInput): Promise<AuditEntry> {
    const entry = this.buildEntry(input);
    const buf = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    if (this.size + buf.length > this.maxFileBytes && this.seq > this.fileStartSeq) await this.rotate();
    const handle = this.handle!;
    try {
      await writeFully(handle, buf);
      await handle.sync();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      try {
        await handle.truncate(this.size);
        await handle.sync();
      } catch {
        // The tail is unknown now: the next append re-reads it from disk and cuts off a torn line.
        this.size = -1;
      }
      throw new TesseraError('INTERNAL', `could not write audit entry ${entry.seq} to ${this.file!.name}: ${why}`);
    }
    this.size += buf.length;
    this.seq = entry.seq;
    this.lastHash = entry.hash;
    this.startMirror(entry);
    return entry;
  }

  private buildEntry(input: AuditInput): AuditEntry {
    const actor: AuditActor = { osUser: input.actor?.osUser ?? this.actor.osUser, host: input.actor?.host ?? this.actor.host };
    const kubeUser = input.actor?.kubeUser ?? this.actor.kubeUser;
    if (kubeUser !== undefined) actor.kubeUser = kubeUser;
    const paramsLimit = this.maxSnapshotBytes * 2;
    const body: Omit<AuditEntry, 'hash'> = {
      seq: this.seq + 1,
      id: randomUUID(),
      time: new Date(this.clock.now()).toISOString(),
      actor,
      ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
      action: input.action,
      targets: (input.targets ?? []).map(cleanTarget),
      params: capValue(toAuditJson(input.params ?? {}), paramsLimit),
      ...(input.before !== undefined ? { before: capValue(toAuditJson(input.before), this.maxSnapshotBytes) } : {}),
      ...(input.after !== undefined ? { after: capValue(toAuditJson(input.after), this.maxSnapshotBytes) } : {}),
      outcome: input.outcome,
      ...(input.error !== undefined ? { error: errorInfo(input.error) } : {}),
      ...(input.durationMs !== undefined ? { durationMs: Math.round(input.durationMs) } : {}),
      ...(input.correlationId !== undefined ? { correlationId: input.correlationId } : {}),
      prevHash: this.lastHash,
    };
    return { ...body, hash: entryHash(body) };
  }

  private startMirror(entry: AuditEntry): void {
    const hook = this.mirrorHook;
    if (!hook) return;
    const p = (async () => hook.mirror(entry))().then(
      (result) => {
        if (result !== 'skipped') this.mirrorStats.delivered++;
      },
      (err: unknown) => {
        this.mirrorStats.failed++;
        this.mirrorStats.lastError = err instanceof Error ? err.message : String(err);
        this.warn(`could not mirror audit entry ${entry.seq} (${entry.action}): ${this.mirrorStats.lastError}`);
      },
    );
    this.mirrors.add(p);
    void p.finally(() => this.mirrors.delete(p));
  }

  private warn(message: string): void {
    this.warnings.push(message);
    if (this.warnings.length > MAX_WARNINGS) this.warnings.shift();
    this.onWarning?.(message);
  }
}

function corrupt(file: string, line: number, why: string): TesseraError {
  return new TesseraError('INTERNAL', `the audit log cannot continue: line ${line} of ${file} ${why}; run "tessera audit verify" for details`, { file, line });
}

function cleanTarget(t: AuditTarget): AuditTarget {
  return t.namespace !== undefined ? { kind: t.kind, namespace: t.namespace, name: t.name } : { kind: t.kind, name: t.name };
}

/** Keeps the contract's error code when there is one; a plain Error's message alone (its stack could leak paths). */
function errorInfo(err: unknown): AuditErrorInfo {
  const clip = (m: string) => (m.length > MAX_ERROR_MESSAGE ? `${m.slice(0, MAX_ERROR_MESSAGE)}…` : m);
  if (err instanceof TesseraError || isErrorShape(err)) {
    const shape = toErrorShape(err);
    return { code: shape.code, message: clip(shape.message) };
  }
  return { message: clip(err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(toAuditJson(err))) };
}

function validateInput(input: AuditInput): AuditInput {
  const bad = (why: string) => new TesseraError('INVALID_REQUEST', `invalid audit entry: ${why}`);
  if (typeof input !== 'object' || input === null) throw bad('expected an object');
  if (typeof input.action !== 'string' || !ACTION.test(input.action)) throw bad(`action must be a short dotted name such as "mig.apply", got ${JSON.stringify(input.action)}`);
  if (!AUDIT_OUTCOMES.includes(input.outcome)) throw bad(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}, got ${JSON.stringify(input.outcome)}`);
  if (input.cluster !== undefined && typeof input.cluster !== 'string') throw bad('cluster must be a string');
  if (input.targets !== undefined) {
    if (!Array.isArray(input.targets)) throw bad('targets must be an array');
    for (const t of input.targets) {
      if (typeof t !== 'object' || t === null || typeof t.kind !== 'string' || !t.kind || typeof t.name !== 'string' || (t.namespace !== undefined && typeof t.namespace !== 'string')) {
        throw bad('each target needs a kind and a name (and optionally a namespace), all strings');
      }
    }
  }
  if (input.durationMs !== undefined && (typeof input.durationMs !== 'number' || !Number.isFinite(input.durationMs) || input.durationMs < 0)) throw bad('durationMs must be a number of milliseconds');
  if (input.correlationId !== undefined && typeof input.correlationId !== 'string') throw bad('correlationId must be a string');
  if (input.actor !== undefined) {
    for (const k of ['osUser', 'host', 'kubeUser'] as const) {
      const v = input.actor[k];
      if (v !== undefined && typeof v !== 'string') throw bad(`actor.${k} must be a string`);
    }
  }
  return input;
}
