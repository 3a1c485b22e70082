/** A handshake deadline that stops while a prompt waits for the user. */
export class HandshakeClock {
  private timer: NodeJS.Timeout | null = null;
  private remaining: number;
  private startedAt = 0;
  private paused = 0;
  private onExpire: (() => void) | null = null;

  constructor(readonly limitMs: number) {
    this.remaining = limitMs;
  }

  start(onExpire: () => void): void {
    this.onExpire = onExpire;
    if (this.paused === 0) this.arm();
  }

  pause(): void {
    if (this.paused++ === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.remaining -= Date.now() - this.startedAt;
    }
  }

  resume(): void {
    if (--this.paused === 0 && this.onExpire) this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.onExpire = null;
  }

  private arm(): void {
    if (this.limitMs <= 0) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => this.onExpire?.(), Math.max(0, this.remaining));
  }
}
