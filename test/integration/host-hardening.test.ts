/**
 * The headless host under hostile input. Every method and stream in the
 * contract registry (iterated, so new ones are covered without editing this
 * file) gets malformed, wrongly typed, oversized and extra-field requests; each
 * must come back as a structured {code, message} with no stack trace, and the
 * data folder (audit trail, hosts store, imported kubeconfigs, settings) must
 * be byte-for-byte unchanged. A normal session against the test bed is then
 * scanned for the credentials its kubeconfigs hold, and the served CSP is
 * checked in Chromium.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import WebSocket from 'ws';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { methodNames, methods, streamNames, streams } from '../../shared/contract/index.ts';
import { validate, type Issue, type Schema } from '../../shared/contract/schema.ts';
import { launchChromium } from '../support/browser.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let info: TestbedInfo;
let core: Core;
let server: HeadlessServer;
let dataDir: string;
/** Every response body and stream message this file received, for the secret scan. */
const seen: string[] = [];

before(async () => {
  info = await sharedTestbed();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-hardening-'));
  core = await createCore({ host: 'headless', version: 'hardening', dataDir, kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.cert, info.kubeconfigs.viewer] });
  server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
  // Something in every store, so "unchanged" is not about empty folders.
  await call('hosts.add', { name: 'gpu-a', address: '127.0.0.1', user: 'ops' });
  await call('clusters.import', { label: 'extra', content: fs.readFileSync(info.kubeconfigs.viewer, 'utf8') });
});

after(async () => {
  await server?.close();
  await core?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

type Reply = { status: number; text: string; json: { ok?: boolean; result?: unknown; error?: { code: string; message: string; details?: { issues?: Issue[] } } } | undefined };

async function post(body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${server.origin}/api/call`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': server.token, ...headers }, body });
  const text = await res.text();
  seen.push(text);
  let json: Reply['json'];
  try {
    json = JSON.parse(text) as Reply['json'];
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

const call = (method: string, params: unknown) => post(JSON.stringify({ method, params }));

/** A digest of every file under the data folder: names, sizes and contents. */
function snapshot(): string {
  const h = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      h.update(path.relative(dataDir, p));
      if (e.isDirectory()) walk(p);
      else h.update(fs.readFileSync(p));
    }
  };
  walk(dataDir);
  return h.digest('hex');
}

function assertStructured(r: Reply, what: string, code?: string): void {
  assert.ok(r.json, `${what}: the reply is JSON (got ${r.text.slice(0, 200)})`);
  assert.equal(r.json.ok, false, `${what}: refused`);
  assert.equal(typeof r.json.error?.code, 'string', `${what}: has a code`);
  assert.equal(typeof r.json.error?.message, 'string', `${what}: has a message`);
  if (code) assert.equal(r.json.error?.code, code, `${what}: ${r.json.error?.message}`);
  assert.doesNotMatch(r.text, /\n\s+at |at [\w.<>]+ \(|node:internal|\.ts:\d+/, `${what}: no stack trace`);
}

/**
 * What the schema expects at each required top-level field, learned by
 * validating an empty object: "id expected a string, got undefined" names the
 * field and its type without this test knowing any method by heart.
 */
function requiredFields(schema: Schema<unknown>): { field: string; expects: string }[] {
  const v = validate(schema, {});
  if (v.ok) return [];
  return v.issues.filter((i) => i.path && !i.path.includes('.') && !i.path.includes('[')).map((i) => ({ field: i.path, expects: i.message }));
}

function wrongValueFor(expects: string): unknown {
  return /expected a string|must be one of/.test(expects) ? 12345 : 'not-the-right-type';
}

/** The smallest oversized value the local schema refuses as too big, or undefined when none below the body limit. */
function oversized(schema: Schema<unknown>, field: string, expects: string): unknown {
  const tooBig = (value: unknown) => {
    const v = validate(schema, { [field]: value });
    return !v.ok && v.issues.some((i) => i.path === field && /at most/.test(i.message));
  };
  if (/expected a string/.test(expects)) {
    for (const n of [65, 121, 254, 1025, 4097, 65_537, 2_000_001]) if (tooBig('x'.repeat(n))) return 'x'.repeat(n);
  }
  if (/expected an array/.test(expects)) {
    for (const n of [9, 17, 65, 101, 1001, 10_001]) if (tooBig(new Array(n).fill(0))) return new Array(n).fill(0);
  }
  return undefined;
}

test('every method refuses malformed params with a structured error and changes nothing', async () => {
  const before = snapshot();
  const sourcesBefore = (await call('clusters.sources', {})).text;
  const hostsBefore = (await call('hosts.list', {})).text;
  let checks = 0;
  for (const name of methodNames) {
    const schema = methods[name].params as Schema<unknown>;
    for (const bad of [42, 'params', [], true, [{}]]) {
      const r = await call(name, bad);
      assertStructured(r, `${name} with params ${JSON.stringify(bad)}`, 'INVALID_REQUEST');
      checks++;
    }
    // Extra fields, including names that live on Object.prototype.
    for (const extra of ['{"sneaky":1}', '{"__proto__":{"polluted":1}}', '{"constructor":"x"}', '{"toString":"x"}', '{"hasOwnProperty":1}']) {
      const r = await post(`{"method":${JSON.stringify(name)},"params":${extra}}`);
      assertStructured(r, `${name} with extra field ${extra}`, 'INVALID_REQUEST');
      assert.match(r.json!.error!.message, /is not a known field/, `${name} ${extra}`);
      checks++;
    }
    for (const { field, expects } of requiredFields(schema)) {
      const missing = await call(name, {});
      assertStructured(missing, `${name} without ${field}`, 'INVALID_REQUEST');
      assert.ok(missing.json!.error!.details?.issues?.some((i) => i.path === field), `${name}: the missing ${field} is named`);
      const wrong = await call(name, { [field]: wrongValueFor(expects) });
      assertStructured(wrong, `${name} with a wrongly typed ${field}`, 'INVALID_REQUEST');
      assert.ok(wrong.json!.error!.details?.issues?.some((i) => i.path === field && /expected|must be one of/.test(i.message)), `${name}: the wrong type of ${field} is named`);
      const nulled = await call(name, { [field]: null });
      assertStructured(nulled, `${name} with ${field}: null`, 'INVALID_REQUEST');
      const big = oversized(schema, field, expects);
      if (big !== undefined) {
        const r = await call(name, { [field]: big });
        assertStructured(r, `${name} with an oversized ${field}`, 'INVALID_REQUEST');
        assert.ok(r.json!.error!.details?.issues?.some((i) => i.path === field && /at most/.test(i.message)), `${name}: the oversized ${field} is named`);
      }
      checks += 4;
    }
  }
  assert.ok(checks > methodNames.length * 10, `ran ${checks} checks`);
  assert.equal(snapshot(), before, 'the data folder is unchanged');
  assert.equal((await call('clusters.sources', {})).text, sourcesBefore, 'no new cluster source');
  assert.equal((await call('hosts.list', {})).text, hostsBefore, 'the hosts store is unchanged');
});

test('bodies that are not JSON, not an object, or too large get structured errors', async () => {
  const before = snapshot();
  for (const body of ['', 'not json', '{"method":"clusters.list",', '\u0000\u0001', '[]', 'null', '"clusters.list"', '{"method":{"toString":1}}', '{"method":"__proto__"}', '{"method":"hasOwnProperty"}']) {
    const r = await post(body);
    assertStructured(r, `body ${JSON.stringify(body)}`);
    assert.ok(['INVALID_REQUEST', 'UNKNOWN_METHOD'].includes(r.json!.error!.code), `body ${JSON.stringify(body)}: ${r.json!.error!.code}`);
  }
  // Over the host's 4 MiB limit: refused as too large, before it is parsed.
  const huge = await post(JSON.stringify({ method: 'clusters.import', params: { label: 'big', content: 'x'.repeat(5 * 1024 * 1024) } }));
  assert.equal(huge.status, 413);
  assertStructured(huge, 'a 5 MiB body', 'INVALID_REQUEST');
  assert.match(huge.json!.error!.message, /too large/);
  // The same without a Content-Length: counted as it streams in.
  const chunked = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/api/call', method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': server.token, 'Transfer-Encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += String(c)));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.on('error', (e) => resolve(`client error ${e.message}`));
    const chunk = 'x'.repeat(64 * 1024);
    let n = 0;
    const pump = () => {
      while (n < 80) {
        n++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  assert.match(chunked, /^413 \{"ok":false,"error":\{"code":"INVALID_REQUEST","message":"request too large/);
  const wrongType = await post('method=clusters.list', { 'Content-Type': 'application/x-www-form-urlencoded' });
  assert.equal(wrongType.status, 415);
  assertStructured(wrongType, 'a form post', 'INVALID_REQUEST');
  const get = await fetch(`${server.origin}/api/call`, { headers: { 'X-Tessera-Token': server.token } });
  assert.equal(get.status, 405);
  assert.equal(((await get.json()) as { error: { code: string } }).error.code, 'INVALID_REQUEST');
  // The host is still answering after all that.
  const ok = await call('clusters.list', {});
  assert.equal(ok.json?.ok, true);
  assert.equal(snapshot(), before, 'the data folder is unchanged');
});

/** Opens the stream socket; resolves with it once open, or with the HTTP status that refused it. */
function openSocket(query: string, headers: Record<string, string> = {}, origin?: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/stream${query}`, { headers, ...(origin ? { origin } : {}) });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

function replies(ws: WebSocket, count: number, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const got: Record<string, unknown>[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} replies: ${JSON.stringify(got).slice(0, 400)}`)), timeoutMs);
    const on = (m: WebSocket.RawData) => {
      seen.push(String(m));
      got.push(JSON.parse(String(m)) as Record<string, unknown>);
      if (got.length === count) {
        clearTimeout(timer);
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

test('every stream refuses malformed params with a structured error and changes nothing', async () => {
  const before = snapshot();
  const ws = await openSocket(`?token=${server.token}`, {}, server.origin);
  assert.ok(ws instanceof WebSocket, `the socket opened (${String(ws)})`);
  try {
    let n = 0;
    const sent: string[] = [];
    for (const name of streamNames) {
      const schema = streams[name].params as Schema<unknown>;
      const bads: unknown[] = [42, 'x', [], { sneaky: 1 }, JSON.parse('{"__proto__":{"polluted":1}}'), { constructor: 'x' }];
      for (const { field, expects } of requiredFields(schema)) bads.push({ [field]: wrongValueFor(expects) }, { [field]: null }, {});
      for (const params of bads) {
        const id = `s${n++}`;
        sent.push(`${name} ${JSON.stringify(params)}`);
        ws.send(JSON.stringify({ op: 'sub', id, stream: name, params }));
      }
    }
    const got = await replies(ws, n);
    got.forEach((msg, i) => {
      const err = msg.error as { code?: string; message?: string } | undefined;
      assert.equal(msg.event, undefined, `${sent[i]}: no events`);
      assert.equal(err?.code, 'INVALID_REQUEST', `${sent[i]}: ${JSON.stringify(msg)}`);
      assert.equal(typeof err?.message, 'string');
      assert.doesNotMatch(JSON.stringify(msg), /\\n\s+at |node:internal/, `${sent[i]}: no stack trace`);
    });
    // Frames that are not JSON, lack an id, name no stream, or reuse an id.
    ws.send('not json');
    ws.send(JSON.stringify({ op: 'sub', stream: 'clusters.watch', params: {} }));
    ws.send(JSON.stringify({ op: 'sub', id: 'x'.repeat(101), stream: 'clusters.watch', params: {} }));
    ws.send(JSON.stringify({ op: 'sub', id: 'u', stream: 'no.such', params: {} }));
    ws.send(JSON.stringify({ op: 'sub', id: 'p', stream: '__proto__', params: {} }));
    ws.send(JSON.stringify({ op: 'drop', id: 'q' }));
    const odd = await replies(ws, 6);
    assert.deepEqual(odd.map((m) => (m.error as { code: string }).code), ['INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'UNKNOWN_METHOD', 'UNKNOWN_METHOD', 'INVALID_REQUEST']);
    // A frame over the socket's payload limit closes the socket, not the host.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(2 * 1024 * 1024));
    assert.equal(await closed, 1009);
  } finally {
    if (ws instanceof WebSocket) ws.terminate();
  }
  assert.equal((await call('app.info', {})).json?.ok, true);
  assert.equal(snapshot(), before, 'the data folder is unchanged');
});

function rawCall(headers: Record<string, string>, pathAndQuery = '/api/call'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ method: 'clusters.list', params: {} });
    // agent: false: a refused request leaves its body unread, so the host closes that connection; never reuse it.
    const req = request({ host: '127.0.0.1', port: server.port, path: pathAndQuery, method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length), ...headers } }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += String(c)));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('calls and stream sockets without the token, with a wrong one, or from a foreign Origin or Host are refused', async () => {
  const host = `127.0.0.1:${server.port}`;
  const good = { 'X-Tessera-Token': server.token, Host: host };
  const refused: [string, Record<string, string>, string?][] = [
    ['no token', { Host: host }],
    ['a wrong token', { 'X-Tessera-Token': server.token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')), Host: host }],
    ['a truncated token', { 'X-Tessera-Token': server.token.slice(0, -1), Host: host }],
    ['the token only in the query', { Host: host }, `/api/call?token=${server.token}`],
    ['a foreign Origin', { ...good, Origin: 'http://evil.example' }],
    ['Origin null', { ...good, Origin: 'null' }],
    ['a foreign Host', { ...good, Host: 'rebind.example' }],
    ['a foreign Host on the right port', { ...good, Host: `evil.example:${server.port}` }],
  ];
  for (const [what, headers, p] of refused) {
    const r = await rawCall(headers, p);
    assert.ok([401, 403, 421].includes(r.status), `${what}: status ${r.status}`);
    const body = JSON.parse(r.body) as { ok: boolean; error: { code: string } };
    assert.deepEqual([body.ok, body.error.code], [false, 'HOST_UNAUTHENTICATED'], what);
    assert.doesNotMatch(r.body, /"result"/, what);
  }
  assert.equal((await rawCall(good)).status, 200, 'the same request with the token gets through');

  const refusedSockets: [string, string, Record<string, string>, string?][] = [
    ['no token', '', {}, server.origin],
    ['a wrong token', `?token=${'x'.repeat(server.token.length)}`, {}, server.origin],
    ['a foreign Origin', `?token=${server.token}`, {}, 'http://evil.example'],
    ['a foreign Host', `?token=${server.token}`, { Host: `rebind.example:${server.port}` }, server.origin],
    ['a wrong cookie', '', { Cookie: 'tessera_token=nope' }, server.origin],
  ];
  for (const [what, query, headers, origin] of refusedSockets) {
    const r = await openSocket(query, headers, origin);
    if (r instanceof WebSocket) r.terminate();
    assert.equal(r, 401, `socket with ${what}`);
  }
  const ok = await openSocket(`?token=${server.token}`, {}, server.origin);
  assert.ok(ok instanceof WebSocket, 'the socket with the token opens');
  ok.terminate();
});

/** Every credential the test bed's kubeconfigs hold, in the forms a leak could take. */
function credentials(): { what: string; value: string }[] {
  const out: { what: string; value: string }[] = [];
  for (const [name, file] of Object.entries(info.kubeconfigs)) {
    const doc = yaml.load(fs.readFileSync(file, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    for (const { user } of doc.users) {
      if (typeof user.token === 'string') out.push({ what: `${name} bearer token`, value: user.token });
      for (const key of ['client-key-data', 'client-certificate-data'] as const) {
        const b64 = user[key];
        if (typeof b64 !== 'string') continue;
        out.push({ what: `${name} ${key} (base64)`, value: b64.slice(0, 64) });
        const pem = Buffer.from(b64, 'base64').toString('utf8');
        // One line of the PEM body is enough to recognise the key or certificate.
        const line = pem.split('\n').find((l) => l.length >= 40 && !l.startsWith('-----'));
        if (line) out.push({ what: `${name} ${key} (PEM)`, value: line });
      }
    }
  }
  out.push({ what: 'the host token', value: server.token });
  return out;
}

test('a normal session never carries a token, key, password or client certificate', async () => {
  const creds = credentials();
  assert.ok(creds.some((c) => /bearer token/.test(c.what)) && creds.some((c) => /client-key-data \(PEM\)/.test(c.what)), 'the test bed has token and client-cert users');
  const start = seen.length;
  const list = (await call('clusters.list', {})).json?.result as { id: string; context: string }[];
  assert.ok(list.length >= 4, `contexts: ${list.map((c) => c.id).join(', ')}`);
  for (const c of list) {
    const r = await call('clusters.connect', { id: c.id });
    assert.equal(r.json?.ok, true, `${c.id}: ${r.text.slice(0, 300)}`);
    await call('clusters.canI', { id: c.id, verb: 'list', resource: 'nodes' });
    await call('nodes.list', { id: c.id });
  }
  for (const m of ['app.info', 'clusters.list', 'clusters.sources', 'hosts.list', 'hosts.operations', 'audit.query', 'audit.verify']) await call(m, {});
  // A failed import of a kubeconfig with a password and a token in it: the error must not echo them.
  const pw = 'hunter2-pa55word-zz9';
  const bad = await call('clusters.import', { label: 'pw', content: `apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {username: admin, password: ${pw}, token: tok-${pw}}\ncontexts: [{name: x, context: {cluster: missing, user: u}}]\n` });
  assert.equal(bad.json?.ok, false);
  await call('audit.query', {});
  // Streams too: cluster snapshots, node lists, host events.
  const ws = await openSocket(`?token=${server.token}`, {}, server.origin);
  assert.ok(ws instanceof WebSocket);
  const msgs = replies(ws, 3, 20_000);
  ws.send(JSON.stringify({ op: 'sub', id: 'c', stream: 'clusters.watch', params: {} }));
  ws.send(JSON.stringify({ op: 'sub', id: 'n', stream: 'nodes.watch', params: { id: list[0]!.id } }));
  ws.send(JSON.stringify({ op: 'sub', id: 'h', stream: 'hosts.events', params: {} }));
  await msgs.catch(() => undefined);
  ws.terminate();

  const session = seen.slice(start);
  assert.ok(session.length > list.length * 3, `scanned ${session.length} bodies`);
  creds.push({ what: 'a kubeconfig password', value: pw });
  for (const { what, value } of creds) {
    const hit = session.find((b) => b.includes(value));
    assert.equal(hit, undefined, `${what} appeared in a response: ${hit?.slice(0, 200)}`);
  }
  for (const b of session) assert.doesNotMatch(b, /-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/, 'no PEM block in any response');
});

/**
 * Code Playwright evaluates through the DevTools protocol is exempt from the
 * page's CSP, so the probe must run as the page's own script: a second host
 * (same startHeadless, same CSP) serves a page whose script tries eval, string
 * timers, an injected inline <script> and an inline handler, next to an inline
 * <script> in the HTML itself.
 */
const PROBE_HTML = `<!doctype html><html><head><title>probe</title>
<script>window.__servedInlineRan = true;</script>
<script src="/assets/probe.js"></script></head><body></body></html>`;
const PROBE_JS = `
const out = {};
try { out.eval = String(eval('1')); } catch (e) { out.eval = e.name; }
try { out.fn = String(new Function('return 2')()); } catch (e) { out.fn = e.name; }
try { setTimeout('window.__timerRan = true', 0); } catch (e) {}
document.addEventListener('DOMContentLoaded', () => {
  const s = document.createElement('script');
  s.textContent = 'window.__inlineRan = true';
  document.body.appendChild(s);
  const div = document.createElement('div');
  div.innerHTML = '<img src="missing.png" onerror="window.__handlerRan = true">';
  document.body.appendChild(div);
  setTimeout(() => {
    out.servedInline = window.__servedInlineRan === true;
    out.inline = window.__inlineRan === true;
    out.timer = window.__timerRan === true;
    out.handler = window.__handlerRan === true;
    window.__probe = out;
  }, 300);
});
`;

test('the served CSP blocks eval and inline script in Chromium', async () => {
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-csp-'));
  fs.mkdirSync(path.join(www, 'assets'));
  fs.writeFileSync(path.join(www, 'index.html'), PROBE_HTML);
  fs.writeFileSync(path.join(www, 'assets', 'probe.js'), PROBE_JS);
  const probeHost = await startHeadless({ core, staticDir: www });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    // The real console's CSP is the one the probe page gets.
    const real = await page.goto(server.url);
    const realCsp = real?.headers()['content-security-policy'] ?? '';
    assert.match(realCsp, /script-src 'self'/);
    assert.doesNotMatch(realCsp, /unsafe-inline|unsafe-eval|https?:/);
    const res = await page.goto(probeHost.url);
    assert.equal(res?.status(), 200);
    assert.equal((res?.headers()['content-security-policy'] ?? '').replaceAll(String(probeHost.port), 'PORT'), realCsp.replaceAll(String(server.port), 'PORT'));
    // Polled with evaluate: waitForFunction with a string uses eval, which this page forbids.
    let outcome: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !outcome; i++) {
      outcome = (await page.evaluate('window.__probe')) as Record<string, unknown> | undefined;
      if (!outcome) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(outcome, { eval: 'EvalError', fn: 'EvalError', servedInline: false, inline: false, timer: false, handler: false });
    assert.ok(violations.length >= 4, `Chromium reported the violations: ${violations.join(' | ')}`);
    // Control: the probe itself ran (the external script is allowed), so the falses above mean "blocked".
    assert.equal(await page.evaluate('typeof window.__probe'), 'object');
  } finally {
    await browser.close();
    await probeHost.close();
    fs.rmSync(www, { recursive: true, force: true });
  }
});
