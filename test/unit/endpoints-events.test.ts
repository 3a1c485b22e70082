// Which events belong to an endpoint's detail: by involvedObject.uid where the
// object's uid is known, else by name and only since the endpoint was created.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventIsOf } from '../../electron/core/endpoints/endpoint-service.ts';

const created = Date.parse('2026-11-22T10:00:00Z');
const uids = new Map([
  ['InferenceService/iris', 'isvc-uid'],
  ['Pod/iris-predictor-abc-00000', 'pod-uid'],
]);
const ev = (kind: string, name: string, uid: string | undefined, at: string) => ({ involvedObject: { kind, name, ...(uid ? { uid } : {}) }, lastTimestamp: at });

test('a known object: the uid decides, whatever the time', () => {
  assert.equal(eventIsOf(ev('InferenceService', 'iris', 'isvc-uid', '2026-11-22T09:00:00Z'), 'iris', uids, created), true);
  assert.equal(eventIsOf(ev('InferenceService', 'iris', 'earlier-uid', '2026-11-22T11:00:00Z'), 'iris', uids, created), false);
  assert.equal(eventIsOf(ev('Pod', 'iris-predictor-abc-00000', 'earlier-pod', '2026-11-22T11:00:00Z'), 'iris', uids, created), false);
  assert.equal(eventIsOf(ev('Pod', 'iris-predictor-abc-00000', 'pod-uid', '2026-11-22T11:00:00Z'), 'iris', uids, created), true);
});

test('an object whose uid is not known, or an event without a uid: by name, since the endpoint was created', () => {
  assert.equal(eventIsOf(ev('Revision', 'iris-predictor-00001', 'rev-uid', '2026-11-22T10:00:05Z'), 'iris', uids, created), true);
  assert.equal(eventIsOf(ev('Revision', 'iris-predictor-00001', 'rev-uid', '2026-11-22T09:59:00Z'), 'iris', uids, created), false);
  assert.equal(eventIsOf(ev('InferenceService', 'iris', undefined, '2026-11-22T10:01:00Z'), 'iris', uids, created), true);
  assert.equal(eventIsOf(ev('InferenceService', 'iris', undefined, '2026-11-22T09:01:00Z'), 'iris', uids, created), false);
});

test('other objects are not matched: another endpoint whose name starts the same is not a predictor part', () => {
  assert.equal(eventIsOf(ev('InferenceService', 'iris2', 'x', '2026-11-22T11:00:00Z'), 'iris', uids, created), false);
  assert.equal(eventIsOf(ev('Pod', 'other-pod', 'y', '2026-11-22T11:00:00Z'), 'iris', uids, created), false);
});
