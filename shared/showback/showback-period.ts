// The named showback periods, shared by the Showback page and `tessera showback`
// so both ask core for the same [from, to).

export type ShowbackPeriod = '24h' | '7d' | '30d' | 'month';
export const SHOWBACK_PERIODS: readonly ShowbackPeriod[] = ['24h', '7d', '30d', 'month'];

/** [from, to) for a named period ending now; "month" is the calendar month so far (UTC). */
export function periodRange(p: ShowbackPeriod, now = Date.now()): { from: string; to: string } {
  const d = new Date(now);
  const from = p === 'month' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) : now - { '24h': 1, '7d': 7, '30d': 30 }[p] * 86_400_000;
  return { from: new Date(from).toISOString(), to: new Date(now).toISOString() };
}
