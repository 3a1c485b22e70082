import type { GpuMetrics } from '../../../shared/model/metrics.ts';

/**
 * Remembers since when each held device has been below the idle threshold,
 * so "idle" means allocated and quiet for a period, not one quiet scrape.
 */
export class IdleTracker {
  private readonly since = new Map<string, number>();

  constructor(private readonly idlePct: number) {}

  /** Marks idleSince on held devices below the threshold; returns the keys it saw. */
  apply(node: string, gpus: GpuMetrics[], now: number): void {
    const seen = new Set<string>();
    const track = (key: string, held: boolean, util: number | undefined): string | undefined => {
      if (!held || util === undefined || util >= this.idlePct) {
        this.since.delete(key);
        return undefined;
      }
      seen.add(key);
      const at = this.since.get(key) ?? now;
      this.since.set(key, at);
      return new Date(at).toISOString();
    };
    for (const g of gpus) {
      const whole = track(`${node}/${g.index}`, !!g.pod, g.utilPct);
      if (whole) g.idleSince = whole;
      for (const m of g.mig) {
        const s = track(`${node}/${g.index}/${m.gpuInstanceId}`, !!m.pod, m.utilPct);
        if (s) m.idleSince = s;
      }
    }
    for (const key of this.since.keys()) if (key.startsWith(`${node}/`) && !seen.has(key)) this.since.delete(key);
  }

  forget(node: string): void {
    for (const key of [...this.since.keys()]) if (key.startsWith(`${node}/`)) this.since.delete(key);
  }
}
