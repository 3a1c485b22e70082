import type { MetricsSnapshot } from '../../../shared/model/metrics.ts';
import type { IdlePolicy, Workstation } from '../../../shared/model/workstation.ts';
import type { Tone } from '../../components/Badge.tsx';

export const STATE_TONE: Record<Workstation['state'], Tone> = { running: 'ok', starting: 'info', stopping: 'info', stopped: 'idle', failed: 'bad', 'pending-no-capacity': 'warn' };

export function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/**
 * The live figures of a workstation's GPU or MIG slice, from the metrics the
 * console already streams (dcgm-exporter pod labels name the holder).
 */
export function liveGpu(snap: MetricsSnapshot | undefined, w: Workstation): { utilPct?: number; idleSince?: string } | undefined {
  if (!snap || !w.node || !w.pod || w.state !== 'running') return undefined;
  for (const g of snap.nodes[w.node]?.gpus ?? []) {
    if (g.pod === w.pod && g.namespace === w.namespace) return { ...(g.utilPct !== undefined ? { utilPct: g.utilPct } : {}), ...(g.idleSince ? { idleSince: g.idleSince } : {}) };
    for (const m of g.mig) if (m.pod === w.pod && m.namespace === w.namespace) return { ...(m.utilPct !== undefined ? { utilPct: m.utilPct } : {}), ...(m.idleSince ? { idleSince: m.idleSince } : {}) };
  }
  return undefined;
}

function span(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The namespace's idle policy in words ("GPU below 5% for 30m: stop · set on the namespace"). */
export function policyLine(w: Workstation): string {
  const p: IdlePolicy | undefined = w.idle?.policy ?? w.idlePolicy;
  if (!p) return '—';
  const what = `GPU below ${p.belowPct}% for ${span(p.afterSeconds)}: ${p.action === 'stop' ? 'stop it' : 'flag it'}`;
  return `${what} · ${p.source === 'namespace' ? `policy of namespace ${w.namespace}` : 'Tessera default (no namespace policy)'}${p.problem ? ` · ignored: ${p.problem}` : ''}`;
}

/** "GPU below 5% since 10:02 (12m); stops after 30m" */
export function idleLine(w: Workstation): string {
  const i = w.idle;
  if (!i) return '';
  const since = new Date(i.since).toLocaleTimeString();
  const then = i.policy.action === 'stop' ? `stops after ${span(i.policy.afterSeconds)}` : `flagged after ${span(i.policy.afterSeconds)}`;
  return `GPU below ${i.policy.belowPct}% since ${since} (${age(i.seconds)}); ${then}`;
}
