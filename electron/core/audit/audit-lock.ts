import fs from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';

export const LOCK_NAME = 'audit.lock';

/** Directories this process holds, so a lock left by this same pid is known to be ours or stale. */
const held = new Set<string>();

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Two writers on one directory (the desktop app and `tessera serve`, say) would interleave and
 * fork the hash chain, so one process at a time holds the log. A lock whose process is gone
 * (a crash) is taken over.
 */
export async function acquireAuditLock(dir: string): Promise<() => Promise<void>> {
  const key = path.resolve(dir);
  const file = path.join(key, LOCK_NAME);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      held.add(key);
      return async () => {
        held.delete(key);
        await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      const ours = pid === process.pid;
      if ((ours && held.has(key)) || (!ours && isAlive(pid))) {
        throw new TesseraError('INTERNAL', `the audit log in ${key} is already open in process ${pid}; close that Tessera first (or delete ${file} if no Tessera is running)`, { lockFile: file, pid });
      }
      await fs.rm(file, { force: true });
    }
  }
  throw new TesseraError('INTERNAL', `could not take the audit log lock ${file}`);
}
