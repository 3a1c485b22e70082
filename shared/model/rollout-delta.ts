// What `rollouts.watch` sends. A thousand-node rollout is about 850 KB as a
// whole, and one node step changes one node and one history line, so after the
// first whole rollout a watch sends only the fields, nodes and history lines
// that changed. The subscriber rebuilds the whole rollout with applyRolloutDelta.
import type { NodeProgress, RolloutHistoryEntry, RolloutState } from './rollout.ts';

type HeadKey = Exclude<keyof RolloutState, 'nodes' | 'history'>;

export type RolloutWatchEvent =
  | { reset: RolloutState }
  | {
      /** Top-level fields whose value changed (a field now absent is in `cleared`). */
      set?: Partial<Pick<RolloutState, HeadKey>>;
      cleared?: HeadKey[];
      /** Changed nodes, by their index in `nodes`. */
      nodes?: Array<[number, NodeProgress]>;
      /** History: the lines dropped (indices into the one held), then the lines added at the end. */
      history?: { drop?: number[]; append: RolloutHistoryEntry[] };
    };

/** One per subscriber: remembers what it sent, to send only what changed. Returns undefined when nothing did. */
export class RolloutDeltaEncoder {
  private head = new Map<string, string>();
  private nodes: string[] = [];
  private names = '';
  private history: string[] = [];
  private sent = false;

  encode(s: RolloutState): RolloutWatchEvent | undefined {
    const names = s.nodes.map((n) => n.name).join('\n');
    const nodes = s.nodes.map((n) => JSON.stringify(n));
    const history = s.history.map((h) => JSON.stringify(h));
    const head = new Map<string, string>();
    for (const [k, v] of Object.entries(s)) if (k !== 'nodes' && k !== 'history' && v !== undefined) head.set(k, JSON.stringify(v));
    const first = !this.sent || names !== this.names;
    const before = { head: this.head, nodes: this.nodes, history: this.history };
    Object.assign(this, { head, nodes, names, history, sent: true });
    if (first) return { reset: s };

    const event: Extract<RolloutWatchEvent, { set?: unknown }> = {};
    const set: Record<string, unknown> = {};
    for (const [k, json] of head) if (before.head.get(k) !== json) set[k] = s[k as HeadKey];
    const cleared = [...before.head.keys()].filter((k) => !head.has(k)) as HeadKey[];
    if (Object.keys(set).length) event.set = set as Partial<Pick<RolloutState, HeadKey>>;
    if (cleared.length) event.cleared = cleared;
    const changed = nodes.flatMap((json, i) => (json === before.nodes[i] ? [] : [[i, s.nodes[i]!] as [number, NodeProgress]]));
    if (changed.length) event.nodes = changed;
    const h = historyChange(before.history, history, s.history);
    if (h) event.history = h;
    return Object.keys(event).length ? event : undefined;
  }
}

/**
 * How `next` follows from `prev`: lines dropped (by index in `prev`; the cap drops
 * the oldest node steps from the middle) and lines added at the end. Always
 * exact; when `next` is no such continuation it drops every line and adds all.
 */
function historyChange(prev: string[], next: string[], entries: RolloutHistoryEntry[]): Extract<RolloutWatchEvent, { history?: unknown }>['history'] {
  if (prev.length === next.length && prev.every((x, i) => x === next[i])) return undefined;
  const drop: number[] = [];
  let j = 0;
  for (let i = 0; i < prev.length; i++) {
    if (j < next.length && prev[i] === next[j]) j++;
    else drop.push(i);
  }
  return { ...(drop.length ? { drop } : {}), append: entries.slice(j) };
}

/** The whole rollout after an event; a change event needs the state it was made against. */
export function applyRolloutDelta(prev: RolloutState | undefined, e: RolloutWatchEvent): RolloutState {
  if ('reset' in e) return e.reset;
  if (!prev) throw new Error('a rollout change arrived before the whole rollout');
  const next = { ...prev, ...e.set } as RolloutState;
  for (const k of e.cleared ?? []) delete next[k];
  if (e.nodes) {
    next.nodes = [...prev.nodes];
    for (const [i, n] of e.nodes) next.nodes[i] = n;
  }
  if (e.history) {
    const drop = new Set(e.history.drop);
    next.history = [...prev.history.filter((_, i) => !drop.has(i)), ...e.history.append];
  }
  return next;
}
