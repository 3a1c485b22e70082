// The headless transport after a lost connection: streams that follow state are
// subscribed again on the new socket; streams that do something (an update, a
// load test) end with an error and are never sent again.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { httpTransport } from '../../renderer/api/http-transport.ts';
import { streams } from '../../shared/contract/index.ts';

/** Enough of the browser's WebSocket for the transport: records what it sends; the test opens and closes it. */
class FakeSocket {
  static all: FakeSocket[] = [];
  sent: Array<{ op: string; id: string; stream?: string }> = [];
  onopen?: () => void;
  onclose?: () => void;
  onmessage?: (m: { data: string }) => void;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
}

const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
(globalThis as { WebSocket?: unknown }).WebSocket = FakeSocket;
after(() => {
  (globalThis as { WebSocket?: unknown }).WebSocket = saved;
});

test('the contract marks the streams that do something as once', () => {
  const once = Object.entries(streams).filter(([, d]) => (d as { once?: true }).once).map(([n]) => n).sort();
  assert.deepEqual(once, ['endpoints.loadTestRun', 'endpoints.updateRun']);
});

test('after a lost connection, watches are subscribed again and an update is ended, not run twice', async () => {
  const api = httpTransport('tok', 'http://127.0.0.1:1');
  const first = FakeSocket.all.at(-1)!;
  first.onopen!();
  const errors: Record<string, string[]> = { nodes: [], update: [] };
  const events: unknown[] = [];
  api.subscribe('nodes.watch', { id: 'kc/admin' }, () => undefined, (e) => errors.nodes!.push(e.message));
  api.subscribe(
    'endpoints.updateRun',
    { id: 'kc/admin', namespace: 'inference', name: 'm', change: { storageUri: 'pvc://models/b' }, wait: true, timeoutSeconds: 30 },
    (e) => events.push(e),
    (e) => errors.update!.push(e.message),
  );
  assert.deepEqual(first.sent.map((m) => m.stream), ['nodes.watch', 'endpoints.updateRun']);

  first.onclose!();
  assert.match(errors.nodes![0]!, /reconnecting/);
  assert.match(errors.update![0]!, /not started again/);
  // The transport reconnects after its backoff (500 ms first).
  await new Promise((r) => setTimeout(r, 700));
  const second = FakeSocket.all.at(-1)!;
  assert.notEqual(second, first, 'a new socket');
  second.onopen!();
  assert.deepEqual(second.sent.map((m) => m.stream), ['nodes.watch'], 'only the watch is sent again');
  // A late event for the ended update reaches nobody.
  const updateId = first.sent[1]!.id;
  second.onmessage!({ data: JSON.stringify({ id: updateId, event: { kind: 'step' } }) });
  assert.deepEqual(events, []);
  second.onclose = undefined;
});
