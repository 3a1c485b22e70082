// The simulated kubelet's containerLogs handler on its own: query parsing,
// since/tail selection, log files written by another simulator, previous
// containers, and follow picking up lines appended while it streams.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { appendPodLog, parseLogQuery, rotatePodLog, selectLines, serveContainerLogs, syntheticLines, HEARTBEAT_S } from '../testbed/fleet/container-logs.ts';
import type { Pod } from '../testbed/fleet/pod-informer.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-clogs-'));
const started = new Date(Date.now() - 95_000).toISOString();
const pods = new Map<string, Pod>([
  ['ns/web', { metadata: { name: 'web', namespace: 'ns', uid: 'u1', resourceVersion: '1' }, spec: { containers: [{ name: 'main', image: 'busybox:1', resources: { limits: { 'nvidia.com/gpu': '2' } } }] }, status: { phase: 'Running', startTime: started } }],
  ['ns/wait', { metadata: { name: 'wait', namespace: 'ns', uid: 'u2', resourceVersion: '1' }, spec: { containers: [{ name: 'main', image: 'busybox:1' }] }, status: { phase: 'Pending' } }],
]);
let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => serveContainerLogs(req, res, dir, (ns, name) => pods.get(`${ns}/${name}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = async (p: string) => {
  const res = await fetch(base + p);
  return { status: res.status, text: await res.text() };
};

test('parseLogQuery: flags, numbers, and clear errors for bad values', () => {
  assert.deepEqual(parseLogQuery(new URLSearchParams('follow=true&tailLines=5&timestamps=1')), { follow: true, previous: false, timestamps: true, sinceSeconds: undefined, sinceTime: undefined, tailLines: 5, limitBytes: undefined });
  assert.match(String(parseLogQuery(new URLSearchParams('tailLines=-1'))), /tailLines: must be an integer >= 0, got "-1"/);
  assert.match(String(parseLogQuery(new URLSearchParams('limitBytes=0'))), /limitBytes: must be an integer >= 1/);
  assert.match(String(parseLogQuery(new URLSearchParams('sinceTime=yesterday'))), /sinceTime: not an RFC 3339 time/);
  assert.match(String(parseLogQuery(new URLSearchParams('sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z'))), /at most one of sinceTime or sinceSeconds/);
});

test('synthetic lines: start-up, then a heartbeat every HEARTBEAT_S seconds; since before tail', () => {
  const now = new Date();
  const lines = syntheticLines(pods.get('ns/web')!, 'main', now);
  assert.match(lines[0]!.text, /^starting main \(image busybox:1\) in pod ns\/web$/);
  assert.match(lines[1]!.text, /found 2 CUDA device/);
  assert.equal(lines.filter((l) => l.text.startsWith('heartbeat')).length, Math.floor(95 / HEARTBEAT_S));
  const q = parseLogQuery(new URLSearchParams('sinceSeconds=40&tailLines=10'));
  assert.ok(typeof q !== 'string');
  const sel = selectLines(lines, q, now);
  assert.ok(sel.length >= 1 && sel.every((l) => l.time.getTime() >= now.getTime() - 40_000), 'only lines of the last 40 s');
  assert.deepEqual(selectLines(lines, { ...q, sinceSeconds: undefined, tailLines: 0 }, now), []);
});

test('errors as the kubelet words them: unknown pod or container, waiting container, no previous, bad query', async () => {
  assert.deepEqual(await get('/containerLogs/ns/gone/main'), { status: 404, text: 'pod "gone/ns" does not exist' });
  assert.deepEqual(await get('/containerLogs/ns/web/sidecar'), { status: 404, text: 'container "sidecar" not found in pod "web/ns"' });
  assert.deepEqual(await get('/containerLogs/ns/wait/main'), { status: 400, text: 'container "main" in pod "wait" is waiting to start: ContainerCreating' });
  assert.deepEqual(await get('/containerLogs/ns/web/main?previous=true'), { status: 400, text: 'previous terminated container "main" in pod "web" not found' });
  assert.equal((await get('/containerLogs/ns/web/main?tailLines=x')).status, 400);
});

test('a log file written by another simulator wins, with timestamps, limitBytes and the previous container', async () => {
  appendPodLog(dir, 'ns', 'web', 'u1', 'main', ['first try', 'crashed']);
  rotatePodLog(dir, 'ns', 'web', 'u1', 'main');
  appendPodLog(dir, 'ns', 'web', 'u1', 'main', ['second try', 'serving']);
  assert.deepEqual(await get('/containerLogs/ns/web/main'), { status: 200, text: 'second try\nserving\n' });
  assert.deepEqual(await get('/containerLogs/ns/web/main?previous=true'), { status: 200, text: 'first try\ncrashed\n' });
  assert.match((await get('/containerLogs/ns/web/main?timestamps=true&tailLines=1')).text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z serving\n$/);
  assert.deepEqual(await get('/containerLogs/ns/web/main?limitBytes=13'), { status: 200, text: 'second try\nse' });
});

test('follow sends lines appended after it started, and stops when the pod goes', async () => {
  const res = await fetch(`${base}/containerLogs/ns/web/main?follow=true&tailLines=1`);
  const reader = res.body!.getReader();
  let text = '';
  const readUntil = async (re: RegExp) => {
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      if (done) return false;
      text += Buffer.from(value).toString('utf8');
    }
    return true;
  };
  assert.ok(await readUntil(/serving\n/));
  appendPodLog(dir, 'ns', 'web', 'u1', 'main', ['request 1']);
  assert.ok(await readUntil(/request 1\n/));
  assert.equal(text, 'serving\nrequest 1\n', 'no line twice');
  pods.delete('ns/web');
  const { done } = await reader.read();
  assert.equal(done, true, 'the stream ends with the pod');
});
