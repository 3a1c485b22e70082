// The rollout state's layout over ConfigMaps: a fleet of thousands of nodes
// must fit (1 MiB per object), a write must only touch the nodes it changed,
// and a head written before sharding must still read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headOnly, joinState, SHARD_NODES, splitState, type RolloutHead, type Shard } from '../../electron/core/rollouts/rollout-shards.ts';
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
  const back = joinState(JSON.parse(parts.head) as RolloutHead, parts.shards.map((j) => JSON.parse(j) as Shard));
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
  delete shards[1];
  assert.throws(() => joinState(head, shards), /rollout big-abc123 is missing node shard\(s\) 1/);
  const legacy = structuredClone(s) as RolloutHead;
  assert.equal(joinState(legacy, []).nodes.length, 120);
  assert.equal(headOnly(legacy).counts.total, 120);
});
