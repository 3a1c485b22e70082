// How one rollout's state is laid out over ConfigMaps. A ConfigMap holds at
// most 1 MiB, and the driving console rewrites the state at every node step:
// one object for a whole fleet would stop at several hundred nodes and rewrite
// everything for every step. So the head (phase, control requests, stages,
// history, per-node counts) is one ConfigMap, and the nodes' plan and progress
// are cut into shards of SHARD_NODES nodes each; a write sends the head and
// only the shards that changed. The head names no node: a stage's node list
// is rebuilt from the nodes' own stage (nodes are kept in stage order), the
// nodes held from the operator are kept with their shard, and
// the plan's skipped, cordoned and PDB lists sit in a `-plan` object written
// once, so the head stays a few KiB whether the fleet has 50 nodes or 5,000.
import { nodeCounts, type NodeProgress, type PlannedNode, type RolloutPlan, type RolloutState, type RolloutSummary } from '../../../shared/model/rollout.ts';

export const SHARD_NODES = 50;
export const STATE_KEY = 'rollout.json';

export type NodeCounts = RolloutSummary['nodes'];

/**
 * How a rollout is laid out. namesInShards: the head names no node (the stages' node lists are rebuilt
 * from the nodes, and held nodes are kept with their shard); planLists: the plan's other lists that grow
 * with the fleet sit in an object written once. Heads written before either was introduced carry those
 * lists themselves, and keep doing so.
 */
export interface Layout {
  shards: number;
  size: number;
  namesInShards?: true;
  planLists?: true;
}

/** The layout a new rollout gets. */
export const NEW_LAYOUT: Omit<Layout, 'shards'> = { size: SHARD_NODES, namesInShards: true, planLists: true };

/** What the head ConfigMap holds: the state without its nodes, plus how they are laid out. */
export interface RolloutHead extends RolloutState {
  layout?: Layout;
  counts?: NodeCounts;
}

export interface Shard {
  plan: PlannedNode[];
  nodes: NodeProgress[];
  /** This shard's nodes among the rollout's held ones (namesInShards). */
  held?: string[];
}

/** The plan's lists besides its nodes that grow with the fleet (thousands of skipped nodes, say); fixed once planned. */
export type PlanLists = Pick<RolloutPlan, 'skipped' | 'blockingPdbs' | 'cordoned' | 'warnings'>;
const planLists = (p: RolloutPlan): PlanLists => ({ skipped: p.skipped, blockingPdbs: p.blockingPdbs, cordoned: p.cordoned, warnings: p.warnings });
const NO_LISTS: PlanLists = { skipped: [], blockingPdbs: [], cordoned: [], warnings: [] };

/** The serialized head, shards and plan lists of a state (logs are never stored here: rollout-logs.ts keeps them). */
export function splitState(s: RolloutState, layout: Omit<Layout, 'shards'> = NEW_LAYOUT): { head: string; shards: string[]; lists?: string } {
  const { size } = layout;
  const shardCount = Math.max(1, Math.ceil(Math.max(s.plan.nodes.length, s.nodes.length) / size));
  const shards: string[] = [];
  const heldIn = layout.namesInShards ? heldByShard(s, size, shardCount) : undefined;
  for (let k = 0; k < shardCount; k++) {
    const nodes = s.nodes.slice(k * size, (k + 1) * size).map((n) => ({
      ...n,
      upgrade: { ...n.upgrade, log: [] },
      ...(n.rollback ? { rollback: { ...n.rollback, log: [] } } : {}),
    }));
    const held = heldIn?.[k];
    shards.push(JSON.stringify({ plan: s.plan.nodes.slice(k * size, (k + 1) * size), nodes, ...(held?.length ? { held } : {}) } satisfies Shard));
  }
  const stages = layout.namesInShards ? s.plan.stages.map((st) => ({ ...st, nodes: [] })) : s.plan.stages;
  const plan = { ...s.plan, nodes: [], stages, ...(layout.planLists ? NO_LISTS : {}) };
  // The holder comes from the Lease when read; it is never stored.
  const head: RolloutHead = { ...s, holder: undefined, nodes: [], plan, ...(layout.namesInShards ? { held: [] } : {}), layout: { ...layout, shards: shardCount }, counts: nodeCounts(s.nodes) };
  return { head: JSON.stringify(head), shards, ...(layout.planLists ? { lists: JSON.stringify(planLists(s.plan)) } : {}) };
}

/** Held nodes by the shard that holds them; one that is not a node of the rollout stays with shard 0. */
function heldByShard(s: RolloutState, size: number, count: number): string[][] {
  const index = new Map(s.nodes.map((n, i) => [n.name, i] as const));
  const out = Array.from({ length: count }, () => [] as string[]);
  for (const name of s.held) out[Math.floor((index.get(name) ?? 0) / size)]!.push(name);
  return out;
}

/** A state from its head, shards (by index) and plan lists. A head written before sharding carries its nodes itself. */
export function joinState(head: RolloutHead, shards: (Shard | undefined)[], lists?: PlanLists): RolloutState {
  const { layout, counts: _counts, ...s } = head;
  if (!layout) return s;
  const missing = [...Array(layout.shards).keys()].filter((k) => !shards[k]);
  if (missing.length) throw new Error(`rollout ${head.id} is missing node shard(s) ${missing.join(', ')}`);
  if (layout.planLists && !lists) throw new Error(`rollout ${head.id} is missing its plan (skipped and cordoned nodes, PodDisruptionBudgets)`);
  const nodes = shards.flatMap((sh) => sh?.nodes ?? []);
  const held = layout.namesInShards ? shards.flatMap((sh) => sh?.held ?? []) : s.held;
  return withBody(head, { plan: { ...s.plan, nodes: shards.flatMap((sh) => sh?.plan ?? []), ...lists }, nodes, held });
}

/** The head's state with the parts it leaves out taken from `body` (what was read, or what the driver holds). */
export function withBody(head: RolloutHead, body: Pick<RolloutState, 'plan' | 'nodes' | 'held'>): RolloutState {
  const { state } = headOnly(head);
  const plan: RolloutPlan = { ...state.plan, nodes: body.plan.nodes, ...(head.layout?.planLists ? planLists(body.plan) : {}) };
  if (!head.layout?.namesInShards) return { ...state, plan, nodes: body.nodes };
  return { ...state, plan: withStageNodes(plan, body.nodes), nodes: body.nodes, held: body.held };
}

/** The stages' node lists from the nodes' own stage, in the nodes' order (the order the stage runs them in). */
export function withStageNodes<P extends RolloutPlan>(plan: P, nodes: NodeProgress[]): P {
  const byStage = plan.stages.map(() => [] as string[]);
  for (const n of nodes) byStage[n.stage]?.push(n.name);
  return { ...plan, stages: plan.stages.map((st, i) => ({ ...st, nodes: byStage[i]! })) };
}

/** Nodes (and their plan entries) in the order their stages run them: the order withStageNodes rebuilds. */
export function inStageOrder(s: RolloutState): RolloutState {
  const rank = new Map(s.plan.stages.flatMap((st) => st.nodes).map((n, i) => [n, i] as const));
  const order = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity));
  return { ...s, plan: { ...s.plan, nodes: order(s.plan.nodes) }, nodes: order(s.nodes) };
}

/** The head alone, for lists: nodes, and the lists the head leaves out (stages' nodes, held, plan lists), stay empty; counts come from the head. */
export function headOnly(head: RolloutHead): { state: RolloutState; counts: NodeCounts } {
  const { layout: _layout, counts, ...s } = head;
  return { state: s, counts: counts ?? nodeCounts(s.nodes) };
}
