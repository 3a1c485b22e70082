/**
 * One shared connection per target (user@host:port plus its jump chain).
 * Concurrent callers wait on the same handshake; a connection nobody has used
 * for idleMs is closed; a closed or failed one is forgotten, so the next
 * caller reconnects.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';
import { SshConnection } from './ssh-connection.ts';
import type { SshConnectOptions } from './ssh-connection.ts';
import { targetLabel } from './ssh-endpoint.ts';
import type { SshTarget } from './ssh-endpoint.ts';

export interface SshPoolOptions extends SshConnectOptions {
  /** Close a connection this long after its last user released it. */
  idleMs?: number;
}

export interface SshLease {
  readonly connection: SshConnection;
  /** Idempotent. */
  release(): void;
}

interface Entry {
  ready: Promise<SshConnection>;
  connection: SshConnection | null;
  users: number;
  idle: NodeJS.Timeout | null;
}

export const DEFAULT_IDLE_MS = 60_000;

export class SshPool {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly opts: SshPoolOptions) {}

  static keyOf(target: SshTarget): string {
    return targetLabel(target);
  }

  get size(): number {
    return this.entries.size;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  async acquire(target: SshTarget): Promise<SshLease> {
    if (this.closed) throw new TesseraError('SSH_DISCONNECTED', 'the SSH pool is closed');
    const key = SshPool.keyOf(target);
    let entry = this.entries.get(key);
    if (entry?.connection && !entry.connection.isOpen) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) entry = this.connect(key, target);
    entry.users++;
    if (entry.idle) {
      clearTimeout(entry.idle);
      entry.idle = null;
    }
    let connection: SshConnection;
    try {
      connection = await entry.ready;
    } catch (err) {
      entry.users--;
      throw err;
    }
    let released = false;
    const e = entry;
    return {
      connection,
      release: () => {
        if (released) return;
        released = true;
        if (--e.users === 0 && this.entries.get(key) === e) this.scheduleIdle(key, e);
      },
    };
  }

  /** Runs fn with the target's shared connection, released afterwards whatever happens. */
  async use<T>(target: SshTarget, fn: (connection: SshConnection) => Promise<T>): Promise<T> {
    const lease = await this.acquire(target);
    try {
      return await fn(lease.connection);
    } finally {
      lease.release();
    }
  }

  /** Closes the target's connection now; callers holding it see it closed. */
  async close(target: SshTarget): Promise<void> {
    await this.drop(SshPool.keyOf(target));
  }

  /** Closes every connection; the pool refuses new work afterwards. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.keys().map((k) => this.drop(k)));
  }

  private connect(key: string, target: SshTarget): Entry {
    const entry: Entry = { ready: SshConnection.open(target, this.opts), connection: null, users: 0, idle: null };
    this.entries.set(key, entry);
    entry.ready.then(
      (connection) => {
        entry.connection = connection;
        connection.onClose(() => {
          if (this.entries.get(key) === entry) this.entries.delete(key);
          if (entry.idle) clearTimeout(entry.idle);
        });
        if (this.closed || this.entries.get(key) !== entry) connection.close();
      },
      () => {
        // A failed handshake is not cached: the next acquire tries again (for example after trust()).
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry;
  }

  private scheduleIdle(key: string, entry: Entry): void {
    const ms = this.opts.idleMs ?? DEFAULT_IDLE_MS;
    entry.idle = setTimeout(() => {
      if (entry.users === 0 && this.entries.get(key) === entry) void this.drop(key);
    }, ms);
    entry.idle.unref();
  }

  private async drop(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    if (entry.idle) clearTimeout(entry.idle);
    try {
      (await entry.ready).close();
    } catch {
      // It never connected; nothing to close.
    }
  }
}
