import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';

let server: HeadlessServer;
let core: Core;

let deadServer: string;

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

before(async () => {
  deadServer = `https://127.0.0.1:${await freePort()}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-http-'));
  const staticDir = path.join(dir, 'www');
  await fs.mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await fs.writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  await fs.writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  await fs.writeFile(path.join(dir, 'secret.txt'), 'top secret');
  const kc = path.join(dir, 'config');
  await fs.writeFile(kc, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${deadServer}"}\ncontexts:\n- name: dev\n  context: {cluster: c}\ncurrent-context: dev\n`);
  core = await createCore({ host: 'headless', version: 't', kubeconfigFiles: [kc] });
  server = await startHeadless({ core, staticDir });
});

after(async () => {
  await core.dispose();
  await server.close();
});

const call = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.origin}/api/call`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

function rawStatus(pathAndQuery: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: pathAndQuery, headers }, (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('listens on loopback and prints a URL carrying the token', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
});

test('API calls without the token, or with a wrong one, are refused', async () => {
  const none = await call({ method: 'clusters.list', params: {} });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'HOST_UNAUTHENTICATED');
  const wrong = await call({ method: 'clusters.list', params: {} }, { 'X-Tessera-Token': 'x'.repeat(server.token.length) });
  assert.equal(wrong.status, 401);
});

test('with the token, calls reach core; bad requests get structured errors', async () => {
  const ok = await call({ method: 'clusters.list', params: {} }, { 'X-Tessera-Token': server.token });
  const body = (await ok.json()) as { ok: boolean; result: { id: string }[] };
  assert.equal(body.ok, true);
  assert.deepEqual(body.result.map((c) => c.id), ['cli/dev']);
  const bad = (await (await call({ method: 'clusters.connect', params: { id: 7 } }, { 'X-Tessera-Token': server.token })).json()) as { ok: boolean; error: { code: string } };
  assert.deepEqual([bad.ok, bad.error.code], [false, 'INVALID_REQUEST']);
  const unreachable = (await (await call({ method: 'clusters.connect', params: { id: 'cli/dev' } }, { 'X-Tessera-Token': server.token })).json()) as { error: { code: string; message: string } };
  assert.equal(unreachable.error.code, 'UNREACHABLE');
  assert.equal(unreachable.error.message, `Cannot reach ${deadServer}: connection refused`);
});

test('cross-origin requests and foreign Host headers are refused', async () => {
  const cross = await call({ method: 'clusters.list', params: {} }, { 'X-Tessera-Token': server.token, Origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
  assert.equal(await rawStatus(`/?token=${server.token}`, { Host: 'rebind.example:80' }), 421);
});

test('static files need the token (query once, then the cookie) and carry a strict CSP', async () => {
  assert.equal((await fetch(`${server.origin}/`)).status, 401);
  const first = await fetch(`${server.origin}/?token=${server.token}`);
  assert.equal(first.status, 200);
  const csp = first.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|https?:/);
  assert.match(first.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
  const asset = await fetch(`${server.origin}/assets/app.js`, { headers: { Cookie: cookie } });
  assert.equal(asset.status, 200);
  assert.equal(await asset.text(), 'console.log(1)');
  const traversal = await fetch(`${server.origin}/..%2fsecret.txt`, { headers: { Cookie: cookie } });
  assert.notEqual(await traversal.text(), 'top secret');
});

function openStream(url: string, origin?: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, origin ? { origin } : {});
    ws.on('open', () => ws.send(JSON.stringify({ op: 'sub', id: 'a', stream: 'clusters.watch', params: {} })));
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { event: { id: string }[] };
      resolve(`event:${msg.event[0]?.id}`);
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => resolve(`status:${res.statusCode}`));
    ws.on('error', () => resolve('error'));
  });
}

test('the stream socket requires the token and a same-origin Origin', async () => {
  const base = server.origin.replace('http', 'ws');
  assert.equal(await openStream(`${base}/api/stream`), 'status:401');
  assert.equal(await openStream(`${base}/api/stream?token=${server.token}`, 'http://evil.example'), 'status:401');
  assert.equal(await openStream(`${base}/api/stream?token=${server.token}`, server.origin), 'event:cli/dev');
});
