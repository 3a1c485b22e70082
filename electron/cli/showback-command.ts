// `tessera showback`: the Showback page's report for scripts. Same
// showback.report from core, same periods, same CSV; text mode prints the
// report's partial label and warnings on stderr so stdout stays the table.
import { parseArgs } from 'node:util';
import type { ShowbackReport, ShowbackRow } from '../../shared/model/showback.ts';
import { showbackCsv } from '../../shared/showback/showback-math.ts';
import { periodRange, SHOWBACK_PERIODS, type ShowbackPeriod } from '../../shared/showback/showback-period.ts';
import type { Core } from '../core/core.ts';
import { table } from './format.ts';
import { call } from './core-call.ts';

export class ShowbackUsageError extends Error {}

export const SHOWBACK_HELP = `  tessera showback [--period 24h|7d|30d|month | --since ISO [--until ISO]] [--by team|namespace|workload]
        [--json | --csv] [--prometheus URL] [--kubeconfig F] [--context C]
      GPU-hours (MIG slices as their share of a GPU), used and idle hours and cost over a period (default 7d),
      as on the Showback page. Without a Prometheus (--prometheus, or the one in Settings) the numbers are
      Tessera's own observations, labelled partial (on stderr; in --json as "partial"). --csv is the page's CSV
      (all groupings, or only --by's).`;

export interface ShowbackCliDeps {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => Promise<T>;
  now?: () => number;
}

type By = 'team' | 'namespace' | 'workload';
const BYS: readonly By[] = ['team', 'namespace', 'workload'];

function isoArg(text: string, flag: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new ShowbackUsageError(`${flag} takes an ISO time such as 2026-11-01T00:00:00Z, got "${text}"`);
  return new Date(ms).toISOString();
}

/** The [from, to) asked for: a named period ending now, or --since/--until. */
export function showbackRange(values: { period?: string; since?: string; until?: string }, now: number): { from: string; to: string } {
  if (values.period !== undefined && (values.since !== undefined || values.until !== undefined)) throw new ShowbackUsageError('--period and --since/--until are exclusive: name a period or give its bounds');
  if (values.until !== undefined && values.since === undefined) throw new ShowbackUsageError('--until needs --since');
  if (values.since !== undefined) {
    const from = isoArg(values.since, '--since');
    const to = values.until !== undefined ? isoArg(values.until, '--until') : new Date(now).toISOString();
    if (Date.parse(to) <= Date.parse(from)) throw new ShowbackUsageError(`the period ends (${to}) before it starts (${from})`);
    return { from, to };
  }
  const p = values.period ?? '7d';
  if (!SHOWBACK_PERIODS.includes(p as ShowbackPeriod)) throw new ShowbackUsageError(`--period takes ${SHOWBACK_PERIODS.join(', ')}, got "${p}"`);
  return periodRange(p as ShowbackPeriod, now);
}

const hours = (h: number | null) => (h === null ? '-' : h.toFixed(2));

export function showbackTable(r: ShowbackReport, by: By): string {
  const rows = { team: r.byTeam, namespace: r.byNamespace, workload: r.byWorkload }[by];
  // Workload rows carry their team; namespace and team rows have none beside the key.
  const withTeam = by === 'workload';
  const cells = (x: ShowbackRow, key: string) => [key, ...(withTeam ? [x.team ?? ''] : []), x.gpuHours.toFixed(2), hours(x.usedHours), hours(x.idleHours), x.unknownIdleHours.toFixed(2), x.cost.toFixed(2), x.unpricedHours.toFixed(2), String(x.pods)];
  const head = [by.toUpperCase(), ...(withTeam ? ['TEAM'] : []), 'GPU-HOURS', 'USED-H', 'IDLE-H', 'UNKNOWN-H', `COST-${r.currency}`, 'UNPRICED-H', 'PODS'];
  const t = table(head, [...rows.map((x) => cells(x, x.key)), cells(r.totals, 'TOTAL')]);
  return `${r.from} to ${r.to} (source: ${r.source})\n${rows.length ? '' : 'no GPU use in this period\n'}${t}`;
}

export async function showbackCommand(args: string[], deps: ShowbackCliDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      period: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      by: { type: 'string' },
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      prometheus: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
  });
  if (positionals.length) throw new ShowbackUsageError(`showback takes no arguments (got "${positionals.join(' ')}")`);
  if (values.json && values.csv) throw new ShowbackUsageError('--json and --csv are exclusive');
  if (values.by !== undefined && !BYS.includes(values.by as By)) throw new ShowbackUsageError(`--by takes ${BYS.join(', ')}, got "${values.by}"`);
  if (values.prometheus !== undefined && !/^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[\w.\-/]*)?$/.test(values.prometheus)) throw new ShowbackUsageError(`--prometheus takes an http(s) URL such as http://prometheus.monitoring:9090, got "${values.prometheus}"`);
  const range = showbackRange(values, deps.now?.() ?? Date.now());
  const report = await deps.withTarget(values.kubeconfig, values.context, (core, id) => call(core, 'showback.report', { id, ...range, ...(values.prometheus ? { prometheusUrl: values.prometheus } : {}) }));
  if (values.json) {
    deps.out.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  // The partial label and warnings go to stderr in text and CSV modes, so the data on stdout stays parseable.
  if (report.partial) deps.err.write(`${/^partial/i.test(report.sourceNote) ? report.sourceNote : `Partial: ${report.sourceNote}`}\n`);
  for (const w of report.warnings) deps.err.write(`warning: ${w}\n`);
  if (values.csv) {
    const by = values.by as By | undefined;
    const only = by ? { totals: report.totals, byNamespace: by === 'namespace' ? report.byNamespace : [], byTeam: by === 'team' ? report.byTeam : [], byWorkload: by === 'workload' ? report.byWorkload : [] } : report;
    deps.out.write(showbackCsv(only, report.currency));
    return 0;
  }
  deps.out.write(`${showbackTable(report, (values.by as By | undefined) ?? 'namespace')}\n`);
  return 0;
}
