// The idle policy, pure: a team's policy read from its namespace's
// annotations, and whether a workstation whose GPUs went quiet at `since` is
// idle under it. The watcher that measures and acts is ws-idle-watcher.ts.
import { IDLE_DEFAULTS, IDLE_POLICY_ANNOTATIONS, type IdlePolicy, type WorkstationIdle } from '../../../shared/model/workstation.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "2h", "1d", "1h30m" → seconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total > 0 ? Math.round(total) : undefined;
}

export function formatDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/**
 * The namespace's policy. A bad value is not guessed at: the policy falls
 * back to flag-only defaults and says which annotation is wrong, so a typo
 * never stops anyone's workstation.
 */
export function idlePolicyOf(annotations: Record<string, string> | undefined): IdlePolicy {
  const a = annotations ?? {};
  const raw = { belowPct: a[IDLE_POLICY_ANNOTATIONS.belowPct], after: a[IDLE_POLICY_ANNOTATIONS.after], action: a[IDLE_POLICY_ANNOTATIONS.action] };
  if (raw.belowPct === undefined && raw.after === undefined && raw.action === undefined) return IDLE_DEFAULTS;
  const problems: string[] = [];
  let belowPct = IDLE_DEFAULTS.belowPct;
  if (raw.belowPct !== undefined) {
    const n = Number(raw.belowPct.replace(/%$/, ''));
    if (raw.belowPct.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100) problems.push(`${IDLE_POLICY_ANNOTATIONS.belowPct}: "${raw.belowPct}" is not a percentage between 0 and 100`);
    else belowPct = n;
  }
  let afterSeconds = IDLE_DEFAULTS.afterSeconds;
  if (raw.after !== undefined) {
    const d = parseDuration(raw.after);
    if (d === undefined) problems.push(`${IDLE_POLICY_ANNOTATIONS.after}: "${raw.after}" is not a duration such as 90s, 30m or 2h`);
    else afterSeconds = d;
  }
  let action: IdlePolicy['action'] = IDLE_DEFAULTS.action;
  if (raw.action !== undefined) {
    if (raw.action !== 'flag' && raw.action !== 'stop') problems.push(`${IDLE_POLICY_ANNOTATIONS.action}: "${raw.action}" is neither flag nor stop`);
    else action = raw.action;
  }
  if (problems.length) return { ...IDLE_DEFAULTS, source: 'namespace', problem: `${problems.join('; ')}; only flagging, after ${formatDuration(IDLE_DEFAULTS.afterSeconds)}` };
  return { belowPct, afterSeconds, action, source: 'namespace' };
}

/** The idle state a pod's idle-since annotation means under a policy (undefined: not idle). */
export function idleOf(policy: IdlePolicy, since: string | undefined, now: number): WorkstationIdle | undefined {
  const at = since ? Date.parse(since) : NaN;
  if (!Number.isFinite(at)) return undefined;
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  return { since: new Date(at).toISOString(), seconds, flagged: seconds >= policy.afterSeconds, policy };
}

/** The words recorded on a workstation the policy stopped (annotation, audit, UI). */
export function idleStopReason(policy: IdlePolicy, idle: WorkstationIdle, namespace: string): string {
  return `idle: GPU activity below ${policy.belowPct}% for ${formatDuration(idle.seconds)} (since ${idle.since}); the idle policy of namespace ${namespace} stops workstations after ${formatDuration(policy.afterSeconds)}`;
}

/** A workstation's GPU activity from one dcgm scrape: the busiest device its pod holds (undefined: none reported). */
export function podActivity(gpus: { utilPct?: number; pod?: string; namespace?: string; mig: { utilPct?: number; pod?: string; namespace?: string }[] }[], namespace: string, pod: string): number | undefined {
  let best: number | undefined;
  const see = (u: number | undefined) => {
    if (u !== undefined) best = Math.max(best ?? 0, u);
  };
  for (const g of gpus) {
    if (g.pod === pod && (g.namespace ?? namespace) === namespace) see(g.utilPct);
    for (const m of g.mig) if (m.pod === pod && (m.namespace ?? namespace) === namespace) see(m.utilPct);
  }
  return best;
}
