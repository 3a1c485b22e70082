import fs from 'node:fs/promises';
import type { AuditEntry, AuditInput } from '../../../shared/model/audit.ts';
import type { Clock } from '../clock.ts';
import { AuditLog, defaultActor } from './audit-log.ts';
import { queryAudit, type AuditPage, type AuditQuery } from './audit-query.ts';
import { verifyAuditDir, type AuditVerifyResult } from './audit-verify.ts';

/**
 * The app's audit trail. The writer takes the directory lock only on the
 * first change, so read-only CLI commands never compete with a running
 * console for it; reads go straight to the files.
 */
export class AuditService {
  private log?: Promise<AuditLog>;

  constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {}

  record(input: AuditInput): Promise<AuditEntry> {
    this.log ??= (async () => {
      const log = new AuditLog({ dir: this.dir, clock: this.clock, actor: defaultActor() });
      await log.open();
      return log;
    })();
    return this.log.then((l) => l.append(input));
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    if (!(await exists(this.dir))) return { entries: [] };
    return queryAudit(this.dir, q);
  }

  async verify(): Promise<AuditVerifyResult> {
    if (!(await exists(this.dir))) return { ok: true, entries: 0, files: 0 };
    return verifyAuditDir(this.dir);
  }

  async close(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (log) await (await log).close();
  }
}

async function exists(dir: string): Promise<boolean> {
  return fs.stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
