import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GENESIS_HASH, isAuditEntry, isAuditHeader } from '../../shared/model/audit.ts';
import { canonicalJson, entryHash, sha256Hex } from '../../electron/core/audit/audit-hash.ts';
import { capValue, REDACTED, toAuditJson } from '../../electron/core/audit/audit-redact.ts';

test('canonical JSON sorts keys at every level and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  assert.equal(canonicalJson([undefined, 'é"\n']), '[null,"é\\"\\n"]');
});

test('an entry hash survives a trip through a JSON line and depends on every field', () => {
  const body = {
    seq: 7,
    id: 'i',
    time: '2025-01-01T00:00:00.000Z',
    actor: { osUser: 'ana', host: 'ws1' },
    action: 'mig.apply',
    targets: [{ kind: 'Node', name: 'gpu-1' }],
    params: toAuditJson({ big: 2 ** 53 + 2, small: 1e-7, neg: -0, odd: 'lone \ud800 surrogate', emoji: '🚀' }),
    outcome: 'succeeded' as const,
    prevHash: 'a'.repeat(64),
  };
  const hash = entryHash(body);
  assert.match(hash, /^[0-9a-f]{64}$/);
  const reread = JSON.parse(JSON.stringify({ ...body, hash }));
  assert.equal(entryHash(reread), hash, 'hash recomputes from the stored line');
  assert.equal(entryHash({ ...reread, hash: 'x' }), hash, 'the hash field itself is not hashed');
  assert.notEqual(entryHash({ ...body, seq: 8 }), hash);
  assert.notEqual(entryHash({ ...body, prevHash: GENESIS_HASH }), hash);
  assert.equal(hash, sha256Hex('a'.repeat(64) + canonicalJson(body)), 'hash = sha256(prevHash + canonical(entry without hash))');
});

test('secret-looking keys are redacted wherever they are, other keys are kept', () => {
  const out = toAuditJson({
    username: 'bob',
    password: 'hunter2',
    apiToken: 't0k',
    nested: { clientKeyData: 'k1', 'client-key-data': 'k2', private_key: 'k3', sshKey: 'k4', keyboard: 'qwerty', passphrase: 'p' },
    list: [{ secret: 's', name: 'n' }],
    headers: { Authorization: 'Bearer abc' },
  }) as Record<string, any>;
  assert.equal(out.username, 'bob');
  assert.equal(out.password, REDACTED);
  assert.equal(out.apiToken, REDACTED);
  assert.deepEqual(out.nested, { clientKeyData: REDACTED, 'client-key-data': REDACTED, private_key: REDACTED, sshKey: REDACTED, keyboard: 'qwerty', passphrase: REDACTED });
  assert.deepEqual(out.list, [{ secret: REDACTED, name: 'n' }]);
  assert.equal(out.headers.Authorization, REDACTED);
});

test('a Kubernetes Secret keeps its metadata but never its data', () => {
  const out = toAuditJson({ kind: 'Secret', metadata: { name: 'pull' }, data: { '.dockerconfigjson': 'eyJ...' }, stringData: { a: 'b' } });
  assert.deepEqual(out, { kind: 'Secret', metadata: { name: 'pull' }, data: REDACTED, stringData: REDACTED });
});

test('values become JSON exactly as JSON.stringify would see them', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.deepEqual(toAuditJson({ d: new Date(0), n: 10n, u: undefined, f: () => 1, nan: NaN, arr: [undefined, Infinity], cyclic }), {
    d: '1970-01-01T00:00:00.000Z',
    n: '10',
    nan: null,
    arr: [null, null],
    cyclic: { a: 1, self: '[circular]' },
  });
});

test('a value over the limit becomes a marker with its size and digest', () => {
  const small = { a: 'x'.repeat(10) };
  assert.deepEqual(capValue(small, 100), small);
  const big = { a: 'x'.repeat(200) };
  const marker = capValue(big, 100) as Record<string, unknown>;
  assert.equal(marker.$audit, 'dropped');
  assert.equal(marker.bytes, canonicalJson(big).length);
  assert.equal(marker.sha256, sha256Hex(canonicalJson(big)));
});

test('header and entry records are told apart', () => {
  assert.ok(isAuditHeader({ type: 'header', version: 1, prevFile: null, prevHash: GENESIS_HASH, prevSeq: 0, createdAt: '' }));
  assert.ok(!isAuditEntry({ type: 'header', version: 1, prevFile: null, prevHash: GENESIS_HASH, prevSeq: 0, createdAt: '' }));
  assert.ok(!isAuditEntry({ seq: 1, hash: 'h' }));
});
