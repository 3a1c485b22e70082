import type { Clock } from '../clock.ts';

export interface Batch<V> {
  upsert: V[];
  remove: string[];
}

/**
 * Collects keyed changes and flushes them at most once per interval, so a
 * burst of watch events becomes one small batch instead of a firehose.
 * Later changes to the same key replace earlier ones.
 */
export class Coalescer<V> {
  /** A value, or how to compute it at flush time: a key touched many times between flushes is computed once. */
  private readonly upserts = new Map<string, V | (() => V)>();
  private readonly removes = new Set<string>();
  private timer?: ReturnType<typeof setTimeout>;
  private lastFlush = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly flush: (batch: Batch<V>) => void,
  ) {}

  upsert(key: string, value: V | (() => V)): void {
    this.removes.delete(key);
    this.upserts.set(key, value);
    this.arm();
  }

  remove(key: string): void {
    this.upserts.delete(key);
    this.removes.add(key);
    this.arm();
  }

  /** Drops pending changes: a reset supersedes them. */
  clear(): void {
    this.upserts.clear();
    this.removes.clear();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private arm(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.upserts.size === 0 && this.removes.size === 0) return;
    const batch: Batch<V> = { upsert: [...this.upserts.values()].map((v) => (typeof v === 'function' ? (v as () => V)() : v)), remove: [...this.removes] };
    this.clear();
    this.lastFlush = this.clock.now();
    this.flush(batch);
  }
}
