import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer, type Batch } from '../../electron/core/stream/coalescer.ts';
import { FakeClock } from '../support/fake-clock.ts';

test('a burst of changes becomes one batch per interval, last write wins', () => {
  const clock = new FakeClock();
  const batches: Batch<number>[] = [];
  const c = new Coalescer<number>(250, clock, (b) => batches.push(b));
  for (let i = 0; i < 1000; i++) c.upsert(`n${i % 10}`, i);
  c.remove('n3');
  assert.equal(batches.length, 0, 'nothing is sent synchronously');
  clock.advance(0);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.upsert.length, 9);
  assert.ok(batches[0]!.upsert.includes(999));
  assert.deepEqual(batches[0]!.remove, ['n3']);

  c.upsert('n1', 1);
  clock.advance(100);
  assert.equal(batches.length, 1, 'the next flush waits for the interval');
  c.upsert('n2', 2);
  clock.advance(150);
  assert.equal(batches.length, 2);
  assert.deepEqual(batches[1]!.upsert.sort(), [1, 2]);
});

test('clear drops pending changes', () => {
  const clock = new FakeClock();
  const batches: Batch<number>[] = [];
  const c = new Coalescer<number>(250, clock, (b) => batches.push(b));
  c.upsert('a', 1);
  c.clear();
  clock.advance(1000);
  assert.equal(batches.length, 0);
});

test('a value given as a function is computed once, at flush, from the state then', () => {
  const clock = new FakeClock();
  const batches: Batch<number>[] = [];
  const c = new Coalescer<number>(250, clock, (b) => batches.push(b));
  let state = 1;
  let calls = 0;
  for (let i = 0; i < 100; i++) c.upsert('n', () => (calls++, state));
  state = 42;
  assert.equal(calls, 0);
  clock.advance(0);
  assert.equal(calls, 1);
  assert.deepEqual(batches[0]!.upsert, [42]);
});
