// How one rollout's state is laid out over ConfigMaps. A ConfigMap holds at
// most 1 MiB, and the driving console rewrites the state at every node step:
// one object for a whole fleet would stop at several hundred nodes and rewrite
// everything for every step. So the head (phase, control requests, stages,
// history, per-node counts) is one ConfigMap, and the nodes' plan and progress
// are cut into shards of SHARD_NODES nodes each; a write sends the head and
// only the shards that changed.
import { nodeCounts, type NodeProgress, type PlannedNode, type RolloutState, type RolloutSummary } from '../../../shared/model/rollout.ts';

export const SHARD_NODES = 50;
export const STATE_KEY = 'rollout.json';

export type NodeCounts = RolloutSummary['nodes'];

/** What the head ConfigMap holds: the state without its nodes, plus how they are laid out. */
export interface RolloutHead extends RolloutState {
  layout?: { shards: number; size: number };
  counts?: NodeCounts;
}

export interface Shard {
  plan: PlannedNode[];
  nodes: NodeProgress[];
}

/** The serialized head and shards of a state (logs are never stored here: rollout-logs.ts keeps them). */
export function splitState(s: RolloutState, size = SHARD_NODES): { head: string; shards: string[] } {
  const shardCount = Math.max(1, Math.ceil(Math.max(s.plan.nodes.length, s.nodes.length) / size));
  const shards: string[] = [];
  for (let k = 0; k < shardCount; k++) {
    const nodes = s.nodes.slice(k * size, (k + 1) * size).map((n) => ({
      ...n,
      upgrade: { ...n.upgrade, log: [] },
      ...(n.rollback ? { rollback: { ...n.rollback, log: [] } } : {}),
    }));
    shards.push(JSON.stringify({ plan: s.plan.nodes.slice(k * size, (k + 1) * size), nodes } satisfies Shard));
  }
  // The holder comes from the Lease when read; it is never stored.
  const head: RolloutHead = { ...s, holder: undefined, nodes: [], plan: { ...s.plan, nodes: [] }, layout: { shards: shardCount, size }, counts: nodeCounts(s.nodes) };
  return { head: JSON.stringify(head), shards };
}

/** A state from its head and shards (shards by index). A head written before sharding carries its nodes itself. */
export function joinState(head: RolloutHead, shards: (Shard | undefined)[]): RolloutState {
  const { layout, counts: _counts, ...s } = head;
  if (!layout) return s;
  const missing = [...Array(layout.shards).keys()].filter((k) => !shards[k]);
  if (missing.length) throw new Error(`rollout ${head.id} is missing node shard(s) ${missing.join(', ')}`);
  return {
    ...s,
    plan: { ...s.plan, nodes: shards.flatMap((sh) => sh?.plan ?? []) },
    nodes: shards.flatMap((sh) => sh?.nodes ?? []),
  };
}

/** The head alone, for lists: nodes stay empty, their counts come from the head. */
export function headOnly(head: RolloutHead): { state: RolloutState; counts: NodeCounts } {
  const { layout: _layout, counts, ...s } = head;
  return { state: s, counts: counts ?? nodeCounts(s.nodes) };
}
