import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { kubeJson } from '../../electron/core/kube/kube-http.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';
import { writeVariantKubeconfig } from '../support/kubeconfig-variants.ts';
import { deadPort } from '../support/testbed-info.ts';

let info: TestbedInfo;
let svc: ClusterService;

before(async () => {
  info = await sharedTestbed();
  const file = writeVariantKubeconfig(info, await deadPort());
  svc = new ClusterService({ clock: systemClock, kubeconfigFiles: [file], execTimeoutMs: 10_000 });
  await svc.load();
});

after(() => svc?.disconnectAll());

const id = (ctx: string) => `cli/${ctx}`;

test('token, client-certificate and exec-plugin users all connect, with health and server version', async () => {
  for (const ctx of ['admin', 'cert', 'exec']) {
    const s = await svc.connect(id(ctx));
    assert.equal(s.state, 'connected', ctx);
    assert.equal(s.health?.reachable, true);
    assert.match(s.health?.serverVersion ?? '', /^v1\.20\./);
    assert.ok((s.health?.latencyMs ?? -1) >= 0);
  }
  assert.equal(svc.get(id('admin')).authKind, 'token');
  assert.equal(svc.get(id('cert')).authKind, 'client-certificate');
  assert.equal(svc.get(id('exec')).authKind, 'exec');
});

test('discovery reports which optional APIs exist', async () => {
  await svc.connect(id('admin'));
  const features = await (async () => {
    for (let i = 0; i < 50; i++) {
      const f = svc.get(id('admin')).features;
      if (f) return f;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  })();
  assert.ok(features, 'discovery finished');
  for (const key of ['kserve', 'volumeSnapshot', 'gpuOperator', 'kubeflow'] as const) assert.ok(Array.isArray(features[key]));
});

test('the viewer is refused a write with a clear message, and SelfSubjectAccessReview says why first', async () => {
  await svc.connect(id('viewer'));
  const canList = await svc.canI(id('viewer'), { verb: 'list', resource: 'nodes' });
  assert.equal(canList.allowed, true);
  const canCreate = await svc.canI(id('viewer'), { verb: 'create', resource: 'configmaps', namespace: 'default' });
  assert.equal(canCreate.allowed, false);
  assert.match(canCreate.reason, /may not create configmaps in namespace default/);
  const kc = await svc.connection(id('viewer')).kubeConfig();
  await assert.rejects(
    kubeJson(kc, '/api/v1/namespaces/default/configmaps', { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'viewer-write' } }, action: 'create a ConfigMap' }),
    (e: TesseraError) => {
      assert.equal(e.code, 'FORBIDDEN');
      assert.match(e.message, /Not allowed while trying to create a ConfigMap: .*cannot create resource "configmaps"/);
      // The API server's refusal reads like Tessera's own check, with the permission named.
      // (canI names the kubeconfig's user entry; the server names the authenticated identity.)
      const plain = /user "[^"]+" (may not create configmaps in namespace default)/;
      assert.equal(plain.exec(e.message)?.[1], plain.exec(canCreate.reason)?.[1], `${e.message} | ${canCreate.reason}`);
      assert.deepEqual(e.details?.missing, ['create configmaps in default']);
      return true;
    },
  );
  const adminCan = await svc.canI(id('admin'), { verb: 'create', resource: 'configmaps', namespace: 'default' });
  assert.equal(adminCan.allowed, true);
});

test('a namespace-scoped user may write only in its namespace', async () => {
  await svc.connect(id('teamA'));
  assert.equal((await svc.canI(id('teamA'), { verb: 'create', resource: 'pods', namespace: 'team-a' })).allowed, true);
  assert.equal((await svc.canI(id('teamA'), { verb: 'create', resource: 'pods', namespace: 'default' })).allowed, false);
  assert.equal((await svc.canI(id('teamA'), { verb: 'list', resource: 'nodes' })).allowed, false);
});

test('bad credentials and bad servers fail with specific errors and leave working connections alone', async () => {
  await svc.connect(id('admin'));
  const before = svc.list().map((c) => c.id);
  const expectations: [string, string, RegExp][] = [
    ['wrong-token', 'UNAUTHORIZED', /rejected the credentials of user "u-wrong-token" \(401 Unauthorized\)/],
    ['foreign-ca', 'TLS_UNTRUSTED', /Refusing to talk to https:\/\/127\.0\.0\.1:\d+: .*(not signed by the CA|does not trust)/],
    ['unreachable', 'UNREACHABLE', /Cannot reach https:\/\/127\.0\.0\.1:\d+: connection refused/],
    ['missing-plugin', 'EXEC_PLUGIN_NOT_FOUND', /"tessera-no-such-plugin" was not found on PATH\. Ask the site admin/],
    ['no-such-context', 'CONTEXT_NOT_FOUND', /context "no-such-context" is not in the kubeconfig/],
  ];
  for (const [ctx, code, message] of expectations) {
    await assert.rejects(svc.connect(id(ctx)), (e: TesseraError) => {
      assert.equal(e.code, code, `${ctx}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
    if (ctx !== 'no-such-context') {
      const s = svc.get(id(ctx));
      assert.equal(s.state, 'error');
      assert.equal(s.error?.code, code);
    }
  }
  assert.deepEqual(svc.list().map((c) => c.id), before);
  assert.equal(svc.get(id('admin')).state, 'connected');
  const nodes = await kubeJson<{ items: unknown[] }>(await svc.connection(id('admin')).kubeConfig(), '/api/v1/nodes?limit=1');
  assert.equal(nodes.items.length, 1);
});

test('disconnect stops the connection and calls that need it say so', async () => {
  await svc.connect(id('cert'));
  svc.disconnect(id('cert'));
  assert.equal(svc.get(id('cert')).state, 'disconnected');
  assert.throws(() => svc.connection(id('cert')), (e: TesseraError) => e.code === 'NOT_CONNECTED');
});
