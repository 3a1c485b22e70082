// KubeAccess (credentials and connection pool without client-node) and the
// streamed list reader, against a local HTTP server that records what it got.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { createKubeAccess, needsClientNode, type KubeAccessSpec } from '../../electron/core/kube/kube-access.ts';
import { kubeJson, listPages } from '../../electron/core/kube/kube-http.ts';

let server: http.Server;
let base = '';
const seen: { url: string; authorization?: string }[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/v1/pods') {
      // Two pages of two pods, written a few bytes at a time.
      const second = url.searchParams.get('continue') === 'page2';
      const names = second ? ['p3', 'p4'] : ['p1', 'p2'];
      const body = JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: second ? '11' : '10', ...(second ? {} : { continue: 'page2' }) },
        items: names.map((name) => ({ metadata: { name, namespace: 'ns', annotations: { big: 'x'.repeat(300), tricky: '"}]\\' } }, spec: { nodeName: 'n1' } })),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let i = 0;
      const step = () => {
        if (i >= body.length) return void res.end();
        res.write(body.slice(i, (i += 97)));
        setImmediate(step);
      };
      return step();
    }
    if (url.pathname === '/api/v1/nodes') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // The connection drops mid-item.
      return void res.end('{"kind":"NodeList","metadata":{},"items":[{"metadata":{"name":"n1"}},{"metadata":');
    }
    if (url.pathname === '/api/v1/secrets') {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'secrets is forbidden: User "u" cannot list resource "secrets"', reason: 'Forbidden', code: 403 }));
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"gitVersion":"v1.20.2"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const spec = (extra: Partial<KubeAccessSpec>): KubeAccessSpec => ({ server: base, userName: 'u', ...extra });

/** An unsigned JWT that expires in an hour: client-node's OIDC provider uses it without asking the issuer. */
function idToken(): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
}

test('bearer token, basic auth and no credentials become the headers kubectl sends', async () => {
  const cases: [Partial<KubeAccessSpec>, string | undefined][] = [
    [{ token: 'abc.def' }, 'Bearer abc.def'],
    [{ username: 'admin', password: 's3cret' }, `Basic ${Buffer.from('admin:s3cret').toString('base64')}`],
    [{ token: 'wins', username: 'admin', password: 'x' }, 'Bearer wins'],
    [{}, undefined],
  ];
  for (const [extra, expected] of cases) {
    const kc = await createKubeAccess(spec(extra));
    assert.equal(needsClientNode(spec(extra)), false);
    seen.length = 0;
    assert.deepEqual(await kubeJson(kc, '/version'), { gitVersion: 'v1.20.2' });
    assert.equal(seen[0]?.authorization, expected, JSON.stringify(extra));
    await kc.close();
  }
});

test('an OIDC auth-provider user gets its id-token from client-node, loaded on demand', async () => {
  const token = idToken();
  const s = spec({ authProvider: { name: 'oidc', config: { 'id-token': token, 'client-id': 'tessera', 'idp-issuer-url': 'https://issuer.invalid' } }, skipTLSVerify: true });
  assert.equal(needsClientNode(s), true);
  const kc = await createKubeAccess(s);
  seen.length = 0;
  await kubeJson(kc, '/version');
  await kubeJson(kc, '/version');
  assert.deepEqual(seen.map((x) => x.authorization), [`Bearer ${token}`, `Bearer ${token}`]);
  assert.equal(kc.userName, 'u');
  await kc.close();
});

test('listPages follows continue tokens and projects each page as it comes', async () => {
  const kc = await createKubeAccess(spec({ token: 't' }));
  seen.length = 0;
  const pages: { items: string[]; resourceVersion?: string }[] = [];
  const project = (raw: { metadata: { name: string; annotations: { tricky: string } } }) => `${raw.metadata.name}:${raw.metadata.annotations.tricky}`;
  for await (const page of listPages(kc, '/api/v1/pods', { fieldSelector: 'status.phase!=Failed' }, { pageSize: 2, map: project })) pages.push(page);
  assert.deepEqual(pages, [
    { items: ['p1:"}]\\', 'p2:"}]\\'], resourceVersion: '10' },
    { items: ['p3:"}]\\', 'p4:"}]\\'], resourceVersion: '11' },
  ]);
  const urls = seen.map((x) => new URL(x.url, 'http://x'));
  assert.deepEqual(urls.map((u) => [u.searchParams.get('limit'), u.searchParams.get('continue'), u.searchParams.get('fieldSelector')]), [
    ['2', null, 'status.phase!=Failed'],
    ['2', 'page2', 'status.phase!=Failed'],
  ]);
  await kc.close();
});

test('a list cut off mid-item and a refused list fail with specific errors', async () => {
  const kc = await createKubeAccess(spec({ token: 't' }));
  const drain = async (path: string) => {
    for await (const page of listPages(kc, path, {})) void page;
  };
  await assert.rejects(drain('/api/v1/nodes'), (e: TesseraError) => e.code === 'API_ERROR' && /not valid JSON while trying to list \/api\/v1\/nodes \(cut off/.test(e.message));
  await assert.rejects(drain('/api/v1/secrets'), (e: TesseraError) => e.code === 'FORBIDDEN' && /secrets is forbidden/.test(e.message));
  await kc.close();
});
