import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyRolloutDelta, RolloutDeltaEncoder, type RolloutWatchEvent } from '../../shared/model/rollout-delta.ts';
import { capHistory, MAX_NODE_HISTORY } from '../../electron/core/rollouts/rollout-store.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';
import { fleetState } from '../support/rollout-state.ts';

const bytes = (e: unknown) => Buffer.byteLength(JSON.stringify(e));
/** A subscriber: applies what an encoder sends and must always hold the same rollout as the sender. */
function pair() {
  const enc = new RolloutDeltaEncoder();
  let held: RolloutState | undefined;
  const events: RolloutWatchEvent[] = [];
  return {
    events,
    send(s: RolloutState) {
      const e = enc.encode(structuredClone(s));
      if (e) {
        events.push(JSON.parse(JSON.stringify(e)));
        held = applyRolloutDelta(held, events[events.length - 1]!);
      }
      assert.deepEqual(held, s);
      return e;
    },
  };
}

test('the first event is the whole rollout; an unchanged rollout sends nothing', () => {
  const s = fleetState(20);
  const p = pair();
  assert.ok('reset' in p.send(s)!);
  assert.equal(p.send(s), undefined);
});

test('a node step at 1000 nodes sends that node and the history line, a small fraction of the whole', () => {
  const s = fleetState(1000);
  const p = pair();
  const whole = bytes(p.send(s));
  s.nodes[417]!.upgrade.step = 'upgrading';
  s.nodes[417]!.upgrade.log.push('upgrading to 570.86.10');
  s.history.push({ at: '2026-11-22T22:01:00.000Z', kind: 'node', node: s.nodes[417]!.name, message: 'upgrading' });
  s.updatedAt = '2026-11-22T22:01:00.000Z';
  const e = p.send(s)!;
  assert.ok(!('reset' in e));
  assert.deepEqual(e.nodes?.map(([i]) => i), [417]);
  assert.deepEqual(e.history, { append: [s.history[s.history.length - 1]] });
  assert.deepEqual(Object.keys(e.set ?? {}), ['updatedAt']);
  assert.ok(bytes(e) * 200 < whole, `${bytes(e)} B of ${whole} B`);
});

test('a capped history, which drops its oldest node steps from the middle, is sent as the lines dropped and added', () => {
  const s = fleetState(10);
  s.history = Array.from({ length: 250 }, (_, i) => ({ at: `t${i}`, kind: i % 2 ? ('node' as const) : ('stage' as const), message: `line ${i}` }));
  capHistory(s);
  const p = pair();
  p.send(s);
  const oldestNode = s.history.findIndex((h) => h.kind === 'node');
  assert.ok(oldestNode > 0, 'a stage line comes before the oldest node step');
  s.history.push({ at: 'tnew', kind: 'node', message: 'newest' });
  capHistory(s);
  assert.equal(s.history.filter((h) => h.kind === 'node').length, MAX_NODE_HISTORY, 'the cap dropped a node step');
  const e = p.send(s)!;
  assert.ok(e && !('reset' in e) && e.history);
  assert.deepEqual(e.history, { drop: [oldestNode], append: [{ at: 'tnew', kind: 'node', message: 'newest' }] });
  s.history = [{ at: 'x', kind: 'decision', message: 'rewritten' }];
  p.send(s);
  s.history = [];
  p.send(s);
});

test('a field that goes away is cleared; a different node list starts over with the whole rollout', () => {
  const s = fleetState(10);
  s.resumeAt = '2026-11-22T23:00:00.000Z';
  s.holder = { identity: 'a', fresh: true };
  const p = pair();
  p.send(s);
  delete s.resumeAt;
  s.phase = 'running';
  s.holder = { identity: 'b', fresh: false };
  const e = p.send(s)!;
  assert.ok(!('reset' in e));
  assert.deepEqual(e.cleared, ['resumeAt']);
  assert.deepEqual(Object.keys(e.set ?? {}).sort(), ['holder']);
  s.nodes = s.nodes.slice(1);
  assert.ok('reset' in p.send(s)!);
});

test('a change without the whole rollout before it is refused, not guessed', () => {
  assert.throws(() => applyRolloutDelta(undefined, { set: { phase: 'paused' } }), /before the whole rollout/);
});
