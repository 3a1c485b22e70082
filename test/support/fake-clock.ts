import type { Clock } from '../../electron/core/clock.ts';

/** A clock the test advances by hand; timers fire in time order. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return { id, unref() {}, ref() {}, hasRef: () => false, refresh() { return this; }, [Symbol.toPrimitive]: () => id } as unknown as ReturnType<typeof setTimeout>;
  }

  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = until;
  }
}
