// The rollout state's layout over ConfigMaps: a fleet of thousands of nodes
// must fit (1 MiB per object), a write must only touch the nodes it changed,
// and a head written before sharding must still read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headOnly, inStageOrder, joinState, SHARD_NODES, splitState, type PlanLists, type RolloutHead, type Shard } from '../../electron/core/rollouts/rollout-shards.ts';
import { capHistory, MAX_HISTORY, MAX_NODE_HISTORY } from '../../electron/core/rollouts/rollout-store.ts';
import { fleetState } from '../support/rollout-state.ts';

const MiB = 1024 * 1024;

test('a 5000-node rollout fits: every object far below 1 MiB, and reads back whole (logs are not stored here)', () => {
  const s = fleetState(5000);
  const parts = splitState(s);
  assert.equal(parts.shards.length, Math.ceil(5000 / SHARD_NODES));
  const largestShard = Math.max(...parts.shards.map((j) => j.length));
  assert.ok(parts.head.length < MiB / 2, `head ${parts.head.length} bytes`);
  assert.ok(largestShard < MiB / 4, `largest shard ${largestShard} bytes`);
  assert.ok(JSON.stringify(s).length > 2 * MiB, 'the same state in one object would not fit');
  const back = joinState(JSON.parse(parts.head) as RolloutHead, parts.shards.map((j) => JSON.parse(j) as Shard), JSON.parse(parts.lists!) as PlanLists);
  const expected = structuredClone(s);
  for (const n of expected.nodes) for (const ph of [n.upgrade, n.rollback]) if (ph) ph.log = [];
  assert.deepEqual(back, expected);
});

test('a step on one node changes the head and that node\'s shard only', () => {
  const s = fleetState(500);
  const before = splitState(s);
  s.nodes[123]!.upgrade.step = 'draining';
  s.history.push({ at: s.updatedAt, kind: 'node', node: s.nodes[123]!.name, message: 'draining' });
  const after = splitState(s);
  const changed = after.shards.map((j, k) => (j === before.shards[k] ? -1 : k)).filter((k) => k >= 0);
  assert.deepEqual(changed, [Math.floor(123 / SHARD_NODES)]);
  assert.notEqual(after.head, before.head);
});

test('the head alone gives a list its counts; a head missing a shard is refused by name; an unsharded head reads as it is', () => {
  const s = fleetState(120);
  const parts = splitState(s);
  const head = JSON.parse(parts.head) as RolloutHead;
  const { state, counts } = headOnly(head);
  assert.deepEqual(state.nodes, []);
  assert.deepEqual(counts, { total: 120, done: 120 - Math.ceil(120 / 7), failed: Math.ceil(120 / 7), rolledBack: Math.ceil(120 / 7) });
  const shards = parts.shards.map((j) => JSON.parse(j) as Shard);
  assert.throws(() => joinState(head, shards), /rollout big-abc123 is missing its plan/);
  delete shards[1];
  assert.throws(() => joinState(head, shards, JSON.parse(parts.lists!) as PlanLists), /rollout big-abc123 is missing node shard\(s\) 1/);
  const legacy = structuredClone(s) as RolloutHead;
  assert.equal(joinState(legacy, []).nodes.length, 120);
  assert.equal(headOnly(legacy).counts.total, 120);
});

test('the head names no node: its size does not grow with the fleet, and the stages and plan lists come back in their order', () => {
  // Thousands of nodes skipped (already at the target), cordoned, or under a blocking PDB: none of them in the head.
  const withLists = (n: number) => {
    const s = fleetState(n);
    s.plan.skipped = Array.from({ length: n }, (_, i) => ({ name: `done-${i}.site.example`, reason: 'at-target' as const, detail: 'already at 570.86.10' }));
    s.plan.cordoned = s.nodes.slice(0, n / 10).map((x) => x.name);
    s.plan.blockingPdbs = [{ namespace: 'ml', name: 'train-pdb', disruptionsAllowed: 0, nodes: s.nodes.slice(0, n / 5).map((x) => x.name) }];
    s.held = s.nodes.filter((_, i) => i % 3 === 0).map((x) => x.name);
    return s;
  };
  const small = splitState(withLists(500)).head;
  const bigState = withLists(5000);
  const big = splitState(bigState);
  assert.ok(Math.abs(big.head.length - small.length) < 256, `head at 500 nodes ${small.length} bytes, at 5000 ${big.head.length}`);
  const bigHead = JSON.parse(big.head) as RolloutHead;
  assert.ok(bigHead.plan.stages.every((st) => st.nodes.length === 0));
  assert.deepEqual([bigHead.plan.skipped, bigHead.plan.cordoned, bigHead.plan.blockingPdbs, bigHead.held], [[], [], [], []]);
  assert.ok(big.lists!.length < 1024 * 1024, `plan lists ${big.lists!.length} bytes`);
  const whole = joinState(bigHead, big.shards.map((j) => JSON.parse(j) as Shard), JSON.parse(big.lists!) as PlanLists);
  assert.deepEqual(whole.plan.skipped, bigState.plan.skipped);
  assert.deepEqual(whole.plan.blockingPdbs, bigState.plan.blockingPdbs);
  assert.deepEqual(whole.held, bigState.held, 'held nodes come back from their shards');
  // Nodes listed out of stage order (the planner lists them by name): stored in stage order, each stage as planned.
  const s = fleetState(200);
  s.plan.stages[1]!.nodes.reverse();
  s.nodes.reverse();
  s.plan.nodes.reverse();
  const stored = inStageOrder(s);
  const parts = splitState(stored);
  const back = joinState(JSON.parse(parts.head) as RolloutHead, parts.shards.map((j) => JSON.parse(j) as Shard), JSON.parse(parts.lists!) as PlanLists);
  assert.deepEqual(back.plan.stages, s.plan.stages);
  assert.deepEqual(back.plan.nodes.map((n) => n.name), back.nodes.map((n) => n.name), 'plan entries and progress line up shard by shard');
  // A head written when it still carried the stages' nodes and the plan lists keeps them, and is written back that way.
  const older = JSON.parse(parts.head) as RolloutHead;
  delete older.layout!.namesInShards;
  delete older.layout!.planLists;
  older.plan.stages = s.plan.stages;
  older.plan.warnings = ['from the old head'];
  const read = joinState(older, parts.shards.map((j) => JSON.parse(j) as Shard));
  assert.deepEqual(read.plan.stages, s.plan.stages);
  assert.deepEqual(read.plan.warnings, ['from the old head']);
  const rewritten = splitState(read, { size: older.layout!.size });
  assert.equal(rewritten.lists, undefined);
  assert.deepEqual((JSON.parse(rewritten.head) as RolloutHead).plan.stages, s.plan.stages);
});

test('history keeps every rollout-level event and only the latest node steps', () => {
  const s = fleetState(10);
  s.history = [];
  for (let i = 0; i < 1000; i++) {
    s.history.push({ at: s.updatedAt, kind: 'node', node: s.nodes[i % 10]!.name, message: `step ${i}` });
    if (i % 100 === 0) s.history.push({ at: s.updatedAt, kind: 'stage', message: `stage ${i / 100} started` });
  }
  capHistory(s);
  assert.equal(s.history.filter((h) => h.kind === 'stage').length, 10);
  const steps = s.history.filter((h) => h.kind === 'node').map((h) => h.message);
  assert.equal(steps.length, MAX_NODE_HISTORY);
  assert.equal(steps[0], `step ${1000 - MAX_NODE_HISTORY}`);
  assert.equal(steps.at(-1), 'step 999');
  assert.equal(s.history[0]!.message, 'stage 0 started', 'order kept');
  s.history = Array.from({ length: MAX_HISTORY + 50 }, (_, i) => ({ at: s.updatedAt, kind: 'decision' as const, message: `d${i}` }));
  capHistory(s);
  assert.equal(s.history.length, MAX_HISTORY);
  assert.equal(s.history[0]!.message, 'd50');
});
