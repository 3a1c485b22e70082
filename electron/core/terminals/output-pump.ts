import type { TerminalEvent } from '../../../shared/contract/terminals.ts';
import type { Clock } from '../clock.ts';

export interface PumpLimits {
  /** Most bytes held for the display; beyond this the oldest pending output is dropped. */
  capBytes: number;
  /** Most bytes in one data event. */
  chunkBytes: number;
  /** At most one data event per interval: the display gets a bounded rate, never a firehose. */
  intervalMs: number;
}

export const DEFAULT_PUMP_LIMITS: PumpLimits = { capBytes: 1024 * 1024, chunkBytes: 64 * 1024, intervalMs: 16 };

/**
 * Carries one session's output to whoever displays it. Bytes are coalesced
 * and sent at a bounded rate; while nobody listens (the renderer has not
 * subscribed yet) they wait, up to the cap. When the display cannot keep up
 * (`yes`, `cat` of a huge file) the oldest pending bytes are dropped and the
 * user is told how many, so memory stays bounded whatever the remote side does.
 */
export class OutputPump {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dropped = 0;
  private notices: string[] = [];
  private exit: Extract<TerminalEvent, { type: 'exit' }> | null = null;
  private listener: ((event: TerminalEvent) => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private finished = false;

  constructor(
    private readonly clock: Clock,
    private readonly limits: PumpLimits = DEFAULT_PUMP_LIMITS,
  ) {}

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  /** True once the exit event has been delivered. */
  get done(): boolean {
    return this.finished;
  }

  push(bytes: Buffer): void {
    if (this.exit || bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > this.limits.capBytes) {
      const over = this.pendingBytes - this.limits.capBytes;
      const head = this.pending[0]!;
      if (head.length <= over) {
        this.pending.shift();
        this.pendingBytes -= head.length;
        this.dropped += head.length;
      } else {
        this.pending[0] = head.subarray(over);
        this.pendingBytes -= over;
        this.dropped += over;
      }
    }
    this.arm();
  }

  notice(message: string): void {
    if (this.exit) return;
    this.notices.push(message);
    this.arm();
  }

  /** The last event: delivered after whatever output is still pending. */
  end(exit: Extract<TerminalEvent, { type: 'exit' }>): void {
    if (this.exit) return;
    this.exit = exit;
    this.arm();
  }

  /** One listener at a time; a new one (a reloaded page) replaces the old. Returns its removal. */
  attach(listener: (event: TerminalEvent) => void): () => void {
    this.listener = listener;
    this.arm(true);
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }

  private arm(now = false): void {
    if (this.timer || !this.listener || this.finished) return;
    this.timer = this.clock.setTimeout(() => this.flush(), now ? 0 : this.limits.intervalMs);
  }

  private flush(): void {
    this.timer = null;
    const emit = this.listener;
    if (!emit || this.finished) return;
    if (this.dropped > 0) {
      emit({ type: 'notice', message: `${formatBytes(this.dropped)} of output dropped: the display could not keep up` });
      this.dropped = 0;
    }
    for (const message of this.notices.splice(0)) emit({ type: 'notice', message });
    if (this.pendingBytes > 0) {
      const parts: Buffer[] = [];
      let size = 0;
      while (this.pending.length && size < this.limits.chunkBytes) {
        const head = this.pending[0]!;
        const take = Math.min(head.length, this.limits.chunkBytes - size);
        parts.push(head.subarray(0, take));
        size += take;
        if (take === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(take);
      }
      this.pendingBytes -= size;
      emit({ type: 'data', data: Buffer.concat(parts).toString('base64') });
    }
    if (this.pendingBytes > 0 || this.notices.length > 0) return this.arm();
    if (this.exit) {
      this.finished = true;
      emit(this.exit);
    }
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
