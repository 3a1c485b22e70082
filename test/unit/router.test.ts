import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../electron/host/router.ts';
import type { Core } from '../../electron/core/core.ts';

function recordingCore() {
  const calls: unknown[] = [];
  const core = {
    methods: new Proxy({}, { get: (_t, name) => async (p: unknown) => (calls.push([name, p]), { echoed: p }) }),
    streams: new Proxy({}, { get: (_t, name) => (p: unknown, emit: (e: unknown) => void) => (calls.push([name, p]), emit('first'), () => calls.push(['off', name])) }),
  } as unknown as Pick<Core, 'methods' | 'streams'>;
  return { core, calls };
}

test('a bad request is refused before core runs, with a structured error', async () => {
  const { core, calls } = recordingCore();
  const router = new Router(core);
  const r = await router.call('clusters.connect', { id: 42 });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.error.code, 'INVALID_REQUEST');
    assert.match(r.error.message, /clusters\.connect: id expected a string/);
    assert.ok(Array.isArray(r.error.details?.issues));
  }
  assert.equal(calls.length, 0);
});

test('unknown methods, prototype names and extra fields are refused', async () => {
  const { core, calls } = recordingCore();
  const router = new Router(core);
  for (const name of ['clusters.drop', '__proto__', 'constructor', 42]) {
    const r = await router.call(name, {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.code, 'UNKNOWN_METHOD');
  }
  const extra = await router.call('clusters.list', { path: '/etc/passwd' });
  assert.equal(extra.ok, false);
  assert.equal(calls.length, 0);
});

test('valid calls and streams reach core with the validated params', async () => {
  const { core, calls } = recordingCore();
  const router = new Router(core);
  const r = await router.call('clusters.connect', { id: 'env/dev' });
  assert.deepEqual(r, { ok: true, result: { echoed: { id: 'env/dev' } } });
  const events: unknown[] = [];
  const sub = router.subscribe('nodes.watch', { id: 'env/dev' }, (e) => events.push(e));
  assert.equal(sub.ok, true);
  assert.deepEqual(events, ['first']);
  if (sub.ok) sub.unsubscribe();
  assert.deepEqual(calls.at(-1), ['off', 'nodes.watch']);
  const bad = router.subscribe('nodes.watch', {}, () => {});
  assert.equal(bad.ok, false);
});

test('errors thrown inside core cross as {code, message} without stacks', async () => {
  const core = { methods: { 'app.info': async () => { throw new Error('boom'); } }, streams: {} } as unknown as Pick<Core, 'methods' | 'streams'>;
  const r = await new Router(core).call('app.info', {});
  assert.deepEqual(r, { ok: false, error: { code: 'INTERNAL', message: 'boom' } });
});
