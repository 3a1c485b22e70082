import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methods } from '../../shared/contract/index.ts';
import { s, validate } from '../../shared/contract/schema.ts';

test('object schema rejects unknown fields, wrong types and missing required fields', () => {
  const schema = s.object({ id: s.string({ min: 1 }), count: s.optional(s.number({ integer: true, min: 0 })) });
  assert.deepEqual(validate(schema, { id: 'a' }), { ok: true, value: { id: 'a' } });
  const r = validate(schema, { id: 3, count: 1.5, extra: true });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.issues.map((i) => i.path).sort();
  assert.deepEqual(paths, ['count', 'extra', 'id']);
  assert.match(r.issues.find((i) => i.path === 'id')!.message, /expected a string, got number/);
  assert.equal(validate(schema, {}).ok, false);
  assert.equal(validate(schema, null).ok, false);
  assert.equal(validate(schema, ['x']).ok, false);
});

test('literal, array and string limits are enforced', () => {
  assert.equal(validate(s.literal('get', 'list'), 'get').ok, true);
  assert.equal(validate(s.literal('get', 'list'), 'delete').ok, false);
  assert.equal(validate(s.array(s.number(), { max: 2 }), [1, 2, 3]).ok, false);
  const r = validate(s.array(s.number()), [1, 'x']);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.issues[0]!.path, '[1]');
  assert.equal(validate(s.string({ max: 3 }), 'abcd').ok, false);
  assert.equal(validate(s.number(), Number.NaN).ok, false);
});

test('contract: cluster ids must look like <source>/<context>', () => {
  const schema = methods['clusters.connect'].params;
  assert.equal(validate(schema, { id: 'env/kind-gpu' }).ok, true);
  assert.equal(validate(schema, { id: 'no-slash' }).ok, false);
  assert.equal(validate(schema, { id: '' }).ok, false);
  assert.equal(validate(methods['clusters.canI'].params, { id: 'env/a', verb: 'escalate', resource: 'pods' }).ok, false);
});
