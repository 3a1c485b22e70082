import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListBodyError, ListBodyParser } from '../../electron/core/kube/list-body.ts';

/** Feeds `body` in chunks of `size` bytes; returns the items and the other members. */
function parse(body: string | Buffer, size: number): { items: unknown[]; rest: Record<string, unknown> } {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const items: unknown[] = [];
  const p = new ListBodyParser((x) => items.push(x));
  for (let i = 0; i < buf.length; i += size) p.write(buf.subarray(i, i + size));
  return { items, rest: p.end() };
}

// Escapes, quotes and brackets inside strings, unicode split across chunks, nesting, empty containers.
const tricky = {
  kind: 'PodList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '42', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDJ9' },
  items: [
    { metadata: { name: 'a', annotations: { note: 'brace } bracket ] quote " backslash \\ end\\', json: '{"items":[1,2]}' } }, spec: {} },
    { metadata: { name: 'ünï-çødé ☃ 😀', labels: {} }, spec: { containers: [{ args: ['--x="y"', '\\\\', '\\"'], env: [] }] }, status: null },
    { metadata: { name: 'c' }, n: -1.5e3, t: true, f: false, z: null, deep: [[[{ x: [] }]]] },
  ],
};

test('items, metadata and kind come out exactly as JSON.parse gives them, whatever the chunk boundaries', () => {
  const body = JSON.stringify(tricky);
  for (const size of [...Array.from({ length: 24 }, (_, i) => i + 1), 64, 1 << 16]) {
    const { items, rest } = parse(body, size);
    assert.deepEqual(items, tricky.items, `chunk size ${size}`);
    assert.deepEqual(rest, { kind: 'PodList', apiVersion: 'v1', metadata: tricky.metadata }, `chunk size ${size}`);
  }
});

test('member order, whitespace and a trailing newline do not matter; other members may come after items', () => {
  const body = `\n { "items" : [ {"a":1} ,\n {"b":[2]} ] ,\t"metadata": {"continue":""}, "kind":"NodeList" }\n`;
  for (const size of [1, 4, 100]) {
    const { items, rest } = parse(body, size);
    assert.deepEqual(items, [{ a: 1 }, { b: [2] }]);
    assert.deepEqual(rest, { metadata: { continue: '' }, kind: 'NodeList' });
  }
});

test('an empty or null items list gives no items', () => {
  assert.deepEqual(parse('{"kind":"PodList","items":[]}', 3).items, []);
  assert.deepEqual(parse('{"kind":"PodList","items":null}', 3), { items: [], rest: { kind: 'PodList', items: null } });
  assert.deepEqual(parse('{"metadata":{}}', 2), { items: [], rest: { metadata: {} } });
});

test('items are handed over as soon as their bytes are complete, before the body ends', () => {
  const seen: unknown[] = [];
  const p = new ListBodyParser((x) => seen.push(x));
  p.write(Buffer.from('{"metadata":{},"items":[{"n":1},{"n"'));
  assert.deepEqual(seen, [{ n: 1 }]);
  p.write(Buffer.from(':2}]}'));
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(p.end(), { metadata: {} });
});

test('a carried chunk is copied: reusing the caller\'s buffer does not corrupt an item', () => {
  const p = new ListBodyParser((x) => seen.push(x));
  const seen: unknown[] = [];
  const buf = Buffer.from('{"items":[{"name":"abc');
  p.write(buf);
  buf.fill(0x20);
  p.write(Buffer.from('def"}]}'));
  assert.deepEqual(seen, [{ name: 'abcdef' }]);
});

test('truncated, garbage and non-object answers fail with a specific error', () => {
  const cases: [string, RegExp][] = [
    ['{"items":[{"a":1},{"b":', /ended early \(truncated\)/],
    ['{"items":[{"a":"unterminated', /ended early/],
    ['', /ended early/],
    ['[{"a":1}]', /not a JSON object/],
    ['<html>502 Bad Gateway</html>', /not a JSON object/],
    ['{"items":[]}{"items":[]}', /unexpected data after the end/],
    ['{"items":[]}}', /unbalanced/],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => parse(body, 4), (e: Error) => e instanceof ListBodyError && message.test(e.message), body);
  }
  // A malformed item is JSON.parse's own SyntaxError, not a silently skipped item.
  assert.throws(() => parse('{"items":[{"a":01x}]}', 4), SyntaxError);
});
