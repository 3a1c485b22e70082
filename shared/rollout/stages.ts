// Pure rollout planning: splitting nodes into stages, the defaults, and the
// checks a request must pass before anything reads the cluster. Both the core
// and the rollout page use these, so the page can preview stage sizes offline.
import type { PlannedStage, RolloutRequest, StageSize } from '../model/rollout.ts';

/** Driver versions as the GPU Operator and nvidia-smi write them: 550.107.02, 595.91.07, 535.54. */
export const DRIVER_VERSION = /^\d{3,4}\.\d{1,3}(\.\d{1,3})?$/;

export const ROLLOUT_DEFAULTS = {
  canary: 1,
  maxUnavailable: 1,
  tolerateFailures: 0,
  autoRollback: true,
  drainTimeoutSeconds: 300,
  upgradeTimeoutSeconds: 1800,
  stallTimeoutSeconds: 900,
  leaseSeconds: 30,
} as const;

/** Problems with a request that do not need the cluster to find; empty when it is fine. */
export function requestProblems(req: RolloutRequest): string[] {
  const out: string[] = [];
  const t = req.targets;
  const given = [t.nodes !== undefined, t.selector !== undefined, t.pool !== undefined].filter(Boolean).length;
  if (given !== 1) out.push('targets: give exactly one of nodes, selector or pool');
  if (t.nodes && t.nodes.length === 0) out.push('targets.nodes: list at least one node');
  if (t.nodes && new Set(t.nodes).size !== t.nodes.length) out.push('targets.nodes: a node is listed twice');
  if (t.selector !== undefined) {
    try {
      parseSelector(t.selector);
    } catch (err) {
      out.push(`targets.selector: ${(err as Error).message}`);
    }
  }
  if (!DRIVER_VERSION.test(req.driverVersion)) out.push(`driverVersion: "${req.driverVersion}" is not a driver version like 550.107.02`);
  for (const [i, st] of (req.stages ?? []).entries()) {
    if ('percent' in st && !(st.percent > 0 && st.percent <= 100)) out.push(`stages[${i}]: percent must be from 1 to 100`);
    if ('count' in st && !(Number.isInteger(st.count) && st.count > 0)) out.push(`stages[${i}]: count must be a whole number above 0`);
  }
  return out;
}

export interface SelectorTerm {
  key: string;
  op: '=' | '!=' | 'exists' | '!exists';
  value?: string;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Equality-based label selectors (`a=b,c!=d,e,!f`); set-based ones are refused rather than misread. */
export function parseSelector(sel: string): SelectorTerm[] {
  const terms: SelectorTerm[] = [];
  for (const raw of sel.split(',')) {
    const part = raw.trim();
    if (!part) throw new Error('empty term');
    if (/\s(in|notin)\s*\(/.test(part)) throw new Error(`set-based term "${part}" is not supported; use key=value`);
    let m: RegExpExecArray | null;
    let term: SelectorTerm;
    if ((m = /^([^=!]+)!=(.*)$/.exec(part))) term = { key: m[1]!.trim(), op: '!=', value: m[2]!.trim() };
    else if ((m = /^([^=!]+)==?(.*)$/.exec(part))) term = { key: m[1]!.trim(), op: '=', value: m[2]!.trim() };
    else if (part.startsWith('!')) term = { key: part.slice(1).trim(), op: '!exists' };
    else term = { key: part, op: 'exists' };
    if (!LABEL_KEY.test(term.key)) throw new Error(`"${term.key}" is not a label key`);
    if (term.value !== undefined && !LABEL_VALUE.test(term.value)) throw new Error(`"${term.value}" is not a label value`);
    terms.push(term);
  }
  return terms;
}

export function selectorMatches(terms: SelectorTerm[], labels: Readonly<Record<string, string | undefined>>): boolean {
  return terms.every((t) => {
    const v = labels[t.key];
    switch (t.op) {
      case '=':
        return v === t.value;
      case '!=':
        return v !== t.value;
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
    }
  });
}

/**
 * Splits nodes (already in upgrade order) into the canary, the given stages
 * and a last stage with whatever remains. Percentages are of all nodes, rounded
 * up, so "50%" of 5 nodes is 3. Stages that would be empty are dropped.
 */
export function splitStages(nodes: readonly string[], opts: { canary: number; stages: readonly StageSize[]; maxUnavailable: number; tolerateFailures: number }): PlannedStage[] {
  const out: PlannedStage[] = [];
  let at = 0;
  const push = (label: string, size: number) => {
    const take = Math.min(size, nodes.length - at);
    if (take <= 0) return;
    out.push({ index: out.length, label, nodes: nodes.slice(at, at + take), maxUnavailable: opts.maxUnavailable, tolerateFailures: opts.tolerateFailures });
    at += take;
  };
  if (opts.canary > 0) push('canary', opts.canary);
  for (const st of opts.stages) {
    const size = 'count' in st ? st.count : Math.ceil((nodes.length * st.percent) / 100);
    push('count' in st ? `${st.count} nodes` : `${st.percent}%`, size);
  }
  if (at < nodes.length) push('rest', nodes.length - at);
  return out;
}

/** `1,25%,3` → stage sizes; what the CLI and the page accept as text. */
export function parseStageList(text: string): StageSize[] {
  if (!text.trim()) return [];
  return text.split(',').map((p) => {
    const v = p.trim();
    const pct = /^(\d{1,3})%$/.exec(v);
    if (pct) return { percent: Number(pct[1]) };
    if (/^\d+$/.test(v)) return { count: Number(v) };
    throw new Error(`stage "${v}" is neither a count (3) nor a percentage (25%)`);
  });
}
