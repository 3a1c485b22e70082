import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SecretBroker } from '../../electron/core/hosts/secrets.ts';
import type { SecretStore } from '../../electron/core/hosts/secrets.ts';
import type { HostsEvent } from '../../shared/model/host.ts';

const tick = () => new Promise((r) => setImmediate(r));

function memoryStore(): SecretStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, unavailableReason: null, get: async (k) => data.get(k) ?? null, set: async (k, v) => void data.set(k, v), delete: async (k) => void data.delete(k) };
}

test('with nobody watching (the CLI), a prompt is answered null at once', async () => {
  assert.equal(await new SecretBroker().ask({ kind: 'passphrase', message: 'x', attempt: 1, storeKey: 'k' }), null);
});

test('without a keychain, "remember" is refused with the reason and the secret still answers the prompt', async () => {
  const broker = new SecretBroker();
  const events: HostsEvent[] = [];
  broker.subscribe((e) => events.push(e));
  const asked = broker.ask({ kind: 'sudo', message: 'sudo password', attempt: 1, storeKey: 'sudo:h' });
  await tick();
  const prompt = events.find((e) => e.type === 'prompt')!;
  assert.ok(prompt.type === 'prompt' && prompt.canRemember === false && /not remembered on this host/.test(prompt.rememberNote ?? ''));
  assert.ok(!JSON.stringify(events).includes('s3cret'));
  const r = await broker.answer(prompt.id, 's3cret', true);
  assert.equal(r.remembered, false);
  assert.match(r.note ?? '', /not remembered on this host/);
  assert.equal(await asked, 's3cret');
  assert.ok(events.some((e) => e.type === 'prompt-closed' && e.id === prompt.id));
  await assert.rejects(broker.answer(prompt.id, 'again', false), /no longer waiting/);
});

test('an injected store remembers on request; a remembered secret is used once, and forgotten when it proves wrong', async () => {
  const store = memoryStore();
  const broker = new SecretBroker(store);
  const events: HostsEvent[] = [];
  broker.subscribe((e) => {
    events.push(e);
    if (e.type === 'prompt') void broker.answer(e.id, 'pw', true);
  });
  assert.equal(await broker.ask({ kind: 'passphrase', message: 'm', attempt: 1, storeKey: 'passphrase:/k' }), 'pw');
  assert.equal(store.data.get('passphrase:/k'), 'pw');
  const before = events.length;
  assert.equal(await broker.ask({ kind: 'passphrase', message: 'm', attempt: 1, storeKey: 'passphrase:/k' }), 'pw', 'from the store');
  assert.equal(events.length, before, 'no prompt shown');
  store.data.set('passphrase:/k', 'stale');
  await broker.ask({ kind: 'passphrase', message: 'm', attempt: 2, storeKey: 'passphrase:/k' });
  assert.equal(store.data.get('passphrase:/k'), 'pw', 'the stale one was dropped and the new answer remembered');
});

test('cancelAll answers every waiting prompt with null', async () => {
  const broker = new SecretBroker();
  broker.subscribe(() => undefined);
  const p = broker.ask({ kind: 'password', message: 'm', attempt: 1, storeKey: 'k' });
  await tick();
  broker.cancelAll();
  assert.equal(await p, null);
});
