import fs from 'node:fs/promises';
import type { AuditEntry, AuditInput } from '../../../shared/model/audit.ts';
import type { Clock } from '../clock.ts';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import { withAppendLock } from './audit-lock.ts';
import { AuditLog, defaultActor, type AuditLogOptions } from './audit-log.ts';
import { queryAudit, type AuditPage, type AuditQuery } from './audit-query.ts';
import { verifyAuditDir, type AuditVerifyResult } from './audit-verify.ts';

export type AuditServiceOptions = Partial<Pick<AuditLogOptions, 'maxFileBytes' | 'mirror' | 'onWarning' | 'lock' | 'actor'>> & {
  /** Where a failed write is reported besides the caller's error (default: stderr). */
  onRecordFailure?: (message: string) => void;
};

/**
 * The app's audit trail. Several processes (a console, a CLI command beside it) share one
 * folder: each append takes the folder's lock just for that entry (audit-lock.ts), so they all
 * write one chain. The writer opens on the first change; reads go straight to the files.
 */
export class AuditService {
  private log?: Promise<AuditLog>;
  private readonly failures: string[] = [];

  constructor(
    readonly dir: string,
    private readonly clock: Clock,
    private readonly opts: AuditServiceOptions = {},
  ) {}

  /**
   * A write that fails is never dropped quietly: the caller gets an error saying what was not
   * recorded (a change already made says so, so nobody retries it), and it is reported once more
   * on stderr, the one place a person running the console or CLI will see it.
   */
  record(input: AuditInput): Promise<AuditEntry> {
    if (!this.log) {
      const opening = (async () => {
        const { onRecordFailure: _f, actor, ...logOpts } = this.opts;
        const log = new AuditLog({ dir: this.dir, clock: this.clock, actor: actor ?? defaultActor(), ...logOpts });
        await log.open();
        return log;
      })();
      // A failed open is retried on the next record rather than remembered forever.
      opening.catch(() => {
        if (this.log === opening) this.log = undefined;
      });
      this.log = opening;
    }
    return this.log.then((l) => l.append(input)).catch((err: unknown) => {
      throw this.recordFailed(input, err);
    });
  }

  /** Failed writes since start, newest last (for status and tests). */
  recordFailures(): string[] {
    return [...this.failures];
  }

  private recordFailed(input: AuditInput, err: unknown): TesseraError {
    const why = toErrorShape(err).message;
    if (err instanceof TesseraError && err.code === 'INVALID_REQUEST') return err;
    const targets = (input.targets ?? []).map((t) => `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`).join(', ');
    const what = `${input.action}${targets ? ` on ${targets}` : ''}${input.cluster ? ` in ${input.cluster}` : ''}`;
    const message =
      input.outcome === 'started'
        ? `the audit trail could not record the start of ${what}: ${why}`
        : `${what} ${input.outcome === 'succeeded' ? 'was done' : `ended ${input.outcome}`}, but the audit trail could not record it: ${why}`;
    this.failures.push(message);
    if (this.failures.length > 100) this.failures.shift();
    (this.opts.onRecordFailure ?? ((m: string) => process.stderr.write(`tessera: AUDIT WRITE FAILED: ${m}\n`)))(message);
    return new TesseraError('INTERNAL', message, { auditFailed: true, action: input.action, outcome: input.outcome });
  }

  /** Writer status (last seq, warnings, mirror counts), once something was written. */
  async status() {
    return this.log ? (await this.log).status() : undefined;
  }

  /** Resolves when every Event mirror started so far has settled, or after timeoutMs. */
  async mirrorsIdle(timeoutMs = 5000): Promise<void> {
    if (!this.log) return;
    const log = await this.log.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([log?.mirrorsIdle(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    if (!(await exists(this.dir))) return { entries: [] };
    return queryAudit(this.dir, q);
  }

  /**
   * Under the append lock, so an entry another process is writing at this moment is not taken
   * for a torn one (appends wait; verification reads sequentially and is quick).
   */
  async verify(): Promise<AuditVerifyResult> {
    if (!(await exists(this.dir))) return { ok: true, entries: 0, files: 0 };
    return withAppendLock(this.dir, this.opts.lock ?? {}, () => verifyAuditDir(this.dir));
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
