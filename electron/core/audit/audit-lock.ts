import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';

export const LOCK_NAME = 'audit.lock';
/** Taken only while a stale audit.lock is being removed, so two breakers cannot remove a fresh lock. */
const BREAK_NAME = 'audit.lock.break';
const LOCK_TEMP_SUFFIX = '.tmp';

/** A writer holds the lock for one append (an fsync or two); far longer than this means it hung or died. */
export const DEFAULT_STALE_MS = 30_000;
export const DEFAULT_WAIT_MS = 20_000;

export interface AppendLockOptions {
  /** The lock file's name in the folder (default audit.lock); other logs shared by processes take their own. */
  name?: string;
  /** What the lock guards, for the error when it stays held (default "the audit log"). */
  what?: string;
  /** A lock older than this is stale even if its pid is alive (pid reuse, a hung writer, another host). */
  staleMs?: number;
  /** How long to wait for a live holder before giving up with an error naming it. */
  waitMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseOwner(text: string): LockOwner | null {
  const [pid, host, token] = text.split('\n');
  const n = Number(pid);
  // A lock written but not yet filled in reads as empty: judged by its age alone.
  return Number.isInteger(n) && n > 0 ? { pid: n, host: host ?? '', token: token ?? '' } : null;
}

/**
 * Creates `file` holding our identity, or returns false if it exists. The content is written to a
 * private temp file first and hard-linked into place (link fails with EEXIST, atomically like
 * O_EXCL), so a lock never exists empty: a writer killed at any moment leaves a lock that names it.
 */
async function tryCreate(file: string, owner: LockOwner): Promise<boolean> {
  const tmp = `${file}.${owner.pid}.${owner.token}${LOCK_TEMP_SUFFIX}`;
  await fs.writeFile(tmp, `${owner.pid}\n${owner.host}\n${owner.token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Temp files of lock attempts killed between write and link: harmless, removed once old. */
export async function removeStaleLockTemps(dir: string, names: string[], staleMs = DEFAULT_STALE_MS): Promise<void> {
  for (const name of names) {
    if (!name.startsWith(`${LOCK_NAME}.`) || !name.endsWith(LOCK_TEMP_SUFFIX)) continue;
    const st = await fs.stat(path.join(dir, name)).catch(() => null);
    if (st && Date.now() - st.mtimeMs > staleMs) await fs.rm(path.join(dir, name), { force: true });
  }
}

async function readLock(file: string): Promise<{ owner: LockOwner | null; ageMs: number; raw: string } | null> {
  try {
    const [raw, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { owner: parseOwner(raw), ageMs: Date.now() - st.mtimeMs, raw };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Stale when its writer is gone: a pid on this host that no longer runs, or a lock older than
 * staleMs (pid reused, writer hung, or a holder on another host sharing the folder).
 */
function isStale(lock: { owner: LockOwner | null; ageMs: number }, staleMs: number): boolean {
  if (lock.ageMs > staleMs) return true;
  if (!lock.owner) return false;
  // A lock naming no host was written by an older Tessera on this machine.
  return (lock.owner.host === '' || lock.owner.host === os.hostname()) && !isAlive(lock.owner.pid);
}

/**
 * Removes a stale lock only if it is still the very lock judged stale: under the break lock the
 * content is read again, so a breaker that lost the race cannot remove the lock a third writer
 * has just taken. A break lock left by a crash in this tiny window is itself judged by age.
 */
async function breakStale(dir: string, name: string, judged: string, staleMs: number): Promise<void> {
  const breakFile = path.join(dir, name === LOCK_NAME ? BREAK_NAME : `${name}.break`);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), token: randomUUID() };
  if (!(await tryCreate(breakFile, me))) {
    const b = await readLock(breakFile);
    if (b && isStale(b, staleMs)) await fs.rm(breakFile, { force: true });
    return;
  }
  try {
    const now = await readLock(path.join(dir, name));
    if (now && now.raw === judged) await fs.rm(path.join(dir, LOCK_NAME), { force: true });
  } finally {
    await fs.rm(breakFile, { force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Several Tessera processes (a console and a CLI command beside it) append to one log, so each
 * append takes `audit.lock` with O_EXCL, works, and lets it go. A lock whose writer died is
 * broken by pid or age. Resolves to the release function; release removes the lock only while
 * it is still ours.
 */
export async function acquireAppendLock(dir: string, opts: AppendLockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
  const file = path.join(path.resolve(dir), opts.name ?? LOCK_NAME);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), token: randomUUID() };
  const deadline = Date.now() + waitMs;
  let delay = 1;
  for (;;) {
    if (await tryCreate(file, me)) {
      return async () => {
        const now = await readLock(file);
        if (now?.owner?.token === me.token) await fs.rm(file, { force: true });
      };
    }
    const lock = await readLock(file);
    if (lock && isStale(lock, staleMs)) {
      await breakStale(path.dirname(file), path.basename(file), lock.raw, staleMs);
      continue;
    }
    if (Date.now() > deadline) {
      const who = lock?.owner ? `process ${lock.owner.pid} on ${lock.owner.host}` : 'another process';
      throw new TesseraError('INTERNAL', `${opts.what ?? 'the audit log'} in ${path.dirname(file)} stayed locked by ${who} for over ${Math.round(waitMs / 1000)} s; if no Tessera is writing, delete ${file}`, {
        lockFile: file,
        ...(lock?.owner ? { pid: lock.owner.pid } : {}),
      });
    }
    // Jitter keeps two waiting writers from retrying in lockstep.
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 10);
  }
}

/** Runs fn with the append lock held. */
export async function withAppendLock<T>(dir: string, opts: AppendLockOptions, fn: () => Promise<T>): Promise<T> {
  const release = await acquireAppendLock(dir, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}
