// One way of naming a missing permission, whoever refused: Tessera's own check or the API server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TesseraError } from '../../shared/contract/errors.ts';
import { ACTION_NEEDS, accessKey, permissionName, permissionOf, TESSERA_NAMESPACE } from '../../shared/model/permissions.ts';
import { parseForbidden, requireAccess } from '../../electron/core/clusters/access-required.ts';
import { classifyKubeError } from '../../electron/core/kube/kube-errors.ts';
import { ROLLOUT_NAMESPACE } from '../../electron/core/rollouts/rollout-names.ts';

test('permission names read verb, resource.group/subresource and namespace', () => {
  assert.equal(permissionName({ verb: 'patch', resource: 'nodes' }), 'patch nodes');
  assert.equal(permissionName({ verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'team-a' }), 'create pods/eviction in team-a');
  assert.equal(permissionName({ verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'x' }), 'update leases.coordination.k8s.io in x');
  assert.equal(TESSERA_NAMESPACE, ROLLOUT_NAMESPACE, 'the renderer asks about the namespace core writes rollouts to');
});

test("the API server's 403 texts are read back into canI's words and the permission name", () => {
  const ns = parseForbidden('configmaps "rollout-x" is forbidden: User "team-a" cannot update resource "configmaps" in API group "" in the namespace "tessera-system"');
  assert.deepEqual(ns, { user: 'team-a', reason: 'user "team-a" may not update configmaps in namespace tessera-system', missing: 'update configmaps in tessera-system' });
  const cluster = parseForbidden('nodes "gpu-1" is forbidden: User "system:serviceaccount:a:b" cannot patch resource "nodes" in API group "" at the cluster scope');
  assert.deepEqual(cluster, { user: 'system:serviceaccount:a:b', reason: 'user "system:serviceaccount:a:b" may not patch nodes cluster-wide', missing: 'patch nodes' });
  const sub = parseForbidden('pods "p" is forbidden: User "v" cannot create resource "pods/exec" in API group "" in the namespace "ml"');
  assert.equal(sub?.missing, 'create pods/exec in ml');
  const grp = parseForbidden('notebooks.kubeflow.org "w" is forbidden: User "team-a" cannot get resource "notebooks" in API group "kubeflow.org" in the namespace "b"');
  assert.equal(grp?.missing, 'get notebooks.kubeflow.org in b');
  assert.equal(parseForbidden('forbidden: something else entirely'), null);
});

test('a 403 becomes FORBIDDEN with the plain reason and details.missing; an unparsable one keeps the server text', () => {
  const err = classifyKubeError(
    { code: 403, body: JSON.stringify({ kind: 'Status', message: 'nodes "gpu-1" is forbidden: User "viewer" cannot patch resource "nodes" in API group "" at the cluster scope' }) },
    { server: 'https://k', action: 'cordon gpu-1' },
  );
  assert.equal(err.code, 'FORBIDDEN');
  assert.equal(err.message, 'Not allowed while trying to cordon gpu-1: user "viewer" may not patch nodes cluster-wide (403 from the API server: nodes "gpu-1" is forbidden: User "viewer" cannot patch resource "nodes" in API group "" at the cluster scope)');
  assert.deepEqual(err.details?.missing, ['patch nodes']);
  const other = classifyKubeError({ code: 403, body: JSON.stringify({ message: 'admission webhook "x" denied the request' }) }, { server: 'https://k' });
  assert.equal(other.code, 'FORBIDDEN');
  assert.match(other.message, /admission webhook "x" denied the request/);
  assert.equal(other.details?.missing, undefined);
});

test('requireAccess names every missing permission at once and passes when all are allowed', async () => {
  const allowed = new Set(['update configmaps in tessera-system', 'list configmaps in tessera-system']);
  const canI = async (r: Parameters<typeof permissionName>[0]) => ({ allowed: allowed.has(permissionName(r)), reason: `user "u" may not ${permissionName(r)}` });
  await requireAccess(canI, ACTION_NEEDS.rolloutDecide(), 'pause rollout r');
  await assert.rejects(requireAccess(canI, ACTION_NEEDS.rolloutResume(), 'resume rollout r'), (err: TesseraError) => {
    assert.equal(err.code, 'FORBIDDEN');
    assert.deepEqual(err.details?.missing, ['update leases.coordination.k8s.io in tessera-system']);
    assert.match(err.message, /^cannot resume rollout r: user "u" may not update leases/);
    return true;
  });
});

test('the renderer combines answers: unknown while asking, refused naming what is missing, allowed when all are', () => {
  const reqs = ACTION_NEEDS.workstationPatch('notebook', 'team-a');
  const key = accessKey('c', reqs[0]!);
  assert.deepEqual(permissionOf({}, 'c', reqs), { allowed: undefined, missing: [] });
  assert.deepEqual(permissionOf({ [key]: { result: { allowed: true, reason: 'ok' } } }, 'c', reqs), { allowed: true, missing: [] });
  assert.deepEqual(permissionOf({ [key]: { result: { allowed: false, reason: 'user "v" may not patch notebooks.kubeflow.org in namespace team-a' } } }, 'c', reqs), {
    allowed: false,
    missing: ['patch notebooks.kubeflow.org in team-a'],
    reason: 'user "v" may not patch notebooks.kubeflow.org in namespace team-a',
  });
  assert.deepEqual(permissionOf({ [key]: { result: { allowed: true, reason: '' } } }, undefined, reqs), { allowed: undefined, missing: [] }, 'no cluster, no answer');
});
