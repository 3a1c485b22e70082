// Issue 7, the rest: Open → IDE (a loopback forward through the real
// pods/portforward subresource, kube-apiserver → the simulated kubelet → the
// pod's IDE stand-in, guarded by a per-forward token and closed when the
// workstation stops), Open → terminal (pod exec into the workstation's
// container), the namespace idle policy (flag, clear, stop with the reason
// recorded), and a clone into another connected cluster (a second kubeconfig
// context on the same test bed: the only second cluster the test bed has).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createCore, type Core } from '../../electron/core/core.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { IdleWatcher } from '../../electron/core/workstations/ws-idle-watcher.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { TerminalEvent } from '../../shared/contract/terminals.ts';
import type { Workstation, WorkstationSpec } from '../../shared/model/workstation.ts';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually as poll } from '../support/testbed-info.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'ws-open';
const NS_FAR = 'ws-open-far';
let info: TestbedInfo;
let core: Core;
let admin: Kube;
let id: string;
let siteB: string;
let viewerId: string;
let dataDir: string;
let pool: string;

const eventually: typeof poll = (what, fn, ms = 60_000, every = 400) => poll(what, fn, ms, every);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(name: string, ns: string, extra: Partial<WorkstationSpec> = {}): WorkstationSpec {
  return { name, namespace: ns, image: 'registry.local/jupyter/scipy:2024.1', gpu: { kind: 'full', count: 1 }, cpu: '1', memory: '2Gi', volumeSize: '5Gi', nodePool: pool, ...extra };
}

const inState = (cluster: string, ns: string, name: string, state: Workstation['state']) =>
  eventually(`${ns}/${name} ${state}`, async () => {
    const w = await core.workstations.get(cluster, ns, name);
    return w.state === state ? w : undefined;
  });

async function wipe(ns: string): Promise<void> {
  for (const p of ['/apis/kubeflow.org/v1/namespaces/NS/notebooks', '/apis/apps/v1/namespaces/NS/statefulsets', '/apis/snapshot.storage.k8s.io/v1/namespaces/NS/volumesnapshots', '/api/v1/namespaces/NS/persistentvolumeclaims']) {
    await admin.request('DELETE', p.replace('NS', ns)).catch(() => undefined);
  }
  const contents = await admin.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>('/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents').catch(() => ({ items: [] }));
  for (const c of contents.items) if (c.metadata.labels?.['tessera.dev/copy-in'] === ns) await admin.delete(`/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${c.metadata.name}`).catch(() => undefined);
}

/** GET through the loopback forward with node:http (so the Host header can be set). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  for (const ns of [NS, NS_FAR]) {
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch((err) => {
      if ((err as { status?: number }).status !== 409) throw err;
    });
    await wipe(ns);
  }
  await admin.patch(`/api/v1/namespaces/${NS}`, { metadata: { annotations: { 'tessera.dev/ws-idle-gpu-below': null, 'tessera.dev/ws-idle-after': null, 'tessera.dev/ws-idle-action': null } } });
  for (const ns of [NS, NS_FAR]) await eventually(`${ns} empty`, async () => (await admin.get(`/api/v1/namespaces/${ns}/pods`)).items.length === 0 && (await admin.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)).items.length === 0, 90_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ws-open-'));
  // "site-b": the same API server under another context name, as a second connected cluster.
  const siteBFile = path.join(dataDir, 'site-b.kubeconfig');
  fs.writeFileSync(siteBFile, fs.readFileSync(info.kubeconfigs.admin, 'utf8').replace(/\badmin@/g, 'site-b@'));
  core = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer, siteBFile], dataDir, workstations: { forwardWatchMs: 500 } });
  const byPrefix = (p: string) => core.clusters.list().find((c) => c.context.startsWith(p))!.id;
  id = byPrefix('admin@');
  siteB = byPrefix('site-b@');
  viewerId = byPrefix('viewer@');
  await core.clusters.connect(id);
  const offers = await core.workstations.offers(id);
  pool = offers.find((o) => o.kind === 'full' && !/MIG/.test(o.pool) && o.free >= 3)!.pool;
});

after(async () => {
  try {
    for (const ns of [NS, NS_FAR]) await wipe(ns);
  } finally {
    await core?.dispose();
    admin?.close();
  }
});

test('Open → IDE: a token-guarded loopback forward through pods/portforward reaches the IDE, and closes when the workstation stops', async () => {
  await core.workstations.create(id, spec('ide-one', NS));
  const w = await inState(id, NS, 'ide-one', 'running');
  const f = await core.methods['ws.open']({ id, namespace: NS, name: 'ide-one' });
  assert.equal(f.opened, false, 'the headless host has no browser to open');
  assert.equal(f.remotePort, 8888);
  assert.equal(f.pod, w.pod);
  const m = /^http:\/\/127\.0\.0\.1:(\d+)\/notebook\/ws-open\/ide-one\/\?tessera_token=([A-Za-z0-9_-]{20,})$/.exec(f.url);
  assert.ok(m, f.url);
  assert.equal(Number(m[1]), f.localPort);
  const base = `http://127.0.0.1:${f.localPort}/notebook/ws-open/ide-one/`;

  // Anyone else on the machine: no token, a wrong one, or another Host name.
  assert.equal((await get(base)).status, 403);
  assert.equal((await get(`${base}?tessera_token=nope`)).status, 403);
  assert.equal((await get(f.url, { host: `evil.example:${f.localPort}` })).status, 421);

  // The browser that was given the URL: the token becomes a cookie, then real bytes from the pod.
  const first = await get(f.url);
  assert.equal(first.status, 302);
  assert.equal(first.headers.location, '/notebook/ws-open/ide-one/');
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, new RegExp(`^tessera_fwd_${f.localPort}=${m[2]}; HttpOnly; SameSite=Strict; Path=/`));
  const cookie = setCookie.split(';')[0]!;
  const page = await get(base, { cookie });
  assert.equal(page.status, 200);
  assert.match(page.body, /JupyterLab/);
  assert.match(page.body, /<p id="pod">ws-open\/ide-one-0<\/p>/);
  const status = JSON.parse((await get(`${base}api/status`, { cookie })).body);
  assert.equal(status.pod, 'ws-open/ide-one-0');
  // Outside NB_PREFIX the notebook image answers 404, as a Kubeflow image does: the path came from the pod.
  assert.equal((await get(`http://127.0.0.1:${f.localPort}/`, { cookie })).status, 404);

  // A kernel channel: a WebSocket upgrade through the same forward.
  const sock = new WebSocket(`ws://127.0.0.1:${f.localPort}/notebook/ws-open/ide-one/api/kernels/k1/channels`, { headers: { cookie } });
  const echo = await new Promise<string>((resolve, reject) => {
    sock.on('open', () => sock.send('hello'));
    sock.on('message', (d) => resolve(String(d)));
    sock.on('error', reject);
  });
  sock.close();
  assert.equal(echo, 'ws-open/ide-one-0: hello');
  const refused = new WebSocket(`ws://127.0.0.1:${f.localPort}/notebook/ws-open/ide-one/api/kernels/k1/channels`);
  await assert.rejects(new Promise((resolve, reject) => (refused.on('open', resolve), refused.on('error', reject))), /403/);

  // It went through the kubelet's port-forward, not the pod proxy.
  const fleetLog = fs.readFileSync(path.join(info.stateDir, 'logs', 'fleet.log'), 'utf8');
  assert.match(fleetLog, /port-forward ws-open\/ide-one-0 8888 \(v4\.channel\.k8s\.io\)/);
  const listed = await core.methods['ws.forwards']({});
  assert.equal(listed.length, 1);
  assert.ok(listed[0]!.requests >= 4, `requests counted: ${listed[0]!.requests}`);
  // Opening again reuses the forward.
  const again = await core.methods['ws.open']({ id, namespace: NS, name: 'ide-one' });
  assert.equal(again.reused, true);
  assert.equal(again.localPort, f.localPort);

  await core.workstations.stop(id, NS, 'ide-one');
  assert.deepEqual(await core.methods['ws.forwards']({}), [], 'a stop closes its forwards');
  await assert.rejects(get(base, { cookie }), /ECONNREFUSED/);
  // The close is recorded once its listener and API server pool are gone.
  const audit = await eventually('close recorded', async () => {
    const entries = (await core.audit!.query({ action: 'workstation', limit: 200 })).entries;
    return entries.some((e) => e.action === 'workstation.close-ide' && /stopped/.test(String((e.params as { reason?: string }).reason))) ? entries : undefined;
  }, 10_000);
  assert.ok(audit.some((e) => e.action === 'workstation.open' && e.outcome === 'succeeded' && (e.params as { localPort?: number }).localPort === f.localPort));
  assert.ok(!JSON.stringify(audit).includes(m[2]!), 'the token is never written to the audit trail');
});

test('Open → IDE is refused with the reason: stopped workstation, no portforward right; a forward whose pod goes closes itself', async () => {
  await inState(id, NS, 'ide-one', 'stopped');
  await assert.rejects(core.methods['ws.open']({ id, namespace: NS, name: 'ide-one' }), (err: TesseraError) => err.code === 'CONFLICT' && /is stopped; its IDE can be opened once it runs/.test(err.message));
  await core.workstations.start(id, NS, 'ide-one');
  await inState(id, NS, 'ide-one', 'running');
  await core.clusters.connect(viewerId);
  await assert.rejects(core.methods['ws.open']({ id: viewerId, namespace: NS, name: 'ide-one' }), (err: TesseraError) => err.code === 'FORBIDDEN' && /portforward/.test(err.message));
  const f = await core.methods['ws.open']({ id, namespace: NS, name: 'ide-one' });
  // Stopped behind Tessera's back (kubectl): the pod goes and the forward follows.
  await admin.patch(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/ide-one`, { metadata: { annotations: { 'kubeflow-resource-stopped': new Date().toISOString() } } });
  await eventually('forward closed', async () => (await core.methods['ws.forwards']({})).length === 0);
  await assert.rejects(get(`http://127.0.0.1:${f.localPort}/`), /ECONNREFUSED/);
  await admin.patch(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/ide-one`, { metadata: { annotations: { 'kubeflow-resource-stopped': null } } });
  await inState(id, NS, 'ide-one', 'running');
});

test('Open → terminal: a pod exec shell in the workstation container, with the existing terminals', async () => {
  const w = await core.workstations.get(id, NS, 'ide-one');
  const t = await core.methods['terminals.open']({ kind: 'pod', clusterId: id, namespace: NS, pod: w.pod!, container: 'workstation', shell: 'auto' });
  assert.match(t.banner, /ws-open\/ide-one-0/);
  let text = '';
  const off = core.terminals.output(t.id, (e: TerminalEvent) => {
    if (e.type === 'data') text += Buffer.from(e.data, 'base64').toString('utf8');
  });
  await core.methods['terminals.input']({ id: t.id, data: 'echo ws-$((20+22))\n' });
  await eventually('shell output', () => text.includes('ws-42'), 15_000, 200);
  off();
  await core.methods['terminals.close']({ id: t.id });
});

test('tessera ws open prints the forward as JSON, serves it until Ctrl-C, and closes it', async () => {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), 'ws', 'open', 'ide-one', '-n', NS, '--json', '--kubeconfig', info.kubeconfigs.admin], { cwd: root, env: { ...process.env, KUBECONFIG: '', TESSERA_DATA_DIR: dataDir } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => p.on('close', (code) => resolve(code ?? -1)));
  const line = await eventually('the forward line', () => (stdout.includes('\n') ? stdout.split('\n')[0] : undefined), 60_000, 200);
  const f = JSON.parse(line) as { url: string; localPort: number; pod: string };
  assert.equal(f.pod, 'ide-one-0');
  const first = await get(f.url);
  assert.equal(first.status, 302);
  const page = await get(`http://127.0.0.1:${f.localPort}/notebook/ws-open/ide-one/`, { cookie: String(first.headers['set-cookie']).split(';')[0]! });
  assert.match(page.body, /ws-open\/ide-one-0/);
  p.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /forward closed \(SIGINT\)/);
  await assert.rejects(get(f.url), /ECONNREFUSED/);
});

test('idle policy: flagged after the namespace threshold, cleared when busy, stopped with the reason when the policy says stop', async () => {
  const watcher = new IdleWatcher({ service: core.workstations, clock: systemClock, connectedIds: () => [id], kube: (c) => core.clusters.connection(c).kubeConfig() });
  const key = `${id}/${NS}/ide-one`;
  await admin.patch(`/api/v1/namespaces/${NS}`, { metadata: { annotations: { 'tessera.dev/ws-idle-gpu-below': '5', 'tessera.dev/ws-idle-after': '3s', 'tessera.dev/ws-idle-action': 'flag' } } });
  // Busy GPU: known activity, nothing marked.
  const busy = await eventually('activity reported', async () => {
    const p = await watcher.pass();
    return p.unknown.includes(key) ? undefined : p;
  });
  assert.ok(!busy.marked.includes(key), JSON.stringify(busy));
  assert.equal((await core.workstations.get(id, NS, 'ide-one')).idle, undefined);

  // The user walks away: the GPU goes quiet.
  await admin.patch(`/api/v1/namespaces/${NS}/pods/ide-one-0`, { metadata: { annotations: { 'tessera.dev/sim-idle': 'true' } } });
  await eventually('marked idle', async () => (await watcher.pass()).marked.includes(key));
  const fresh = await core.workstations.get(id, NS, 'ide-one');
  assert.equal(fresh.idle?.flagged, false);
  assert.equal(fresh.idle?.policy.afterSeconds, 3);
  assert.equal(fresh.idle?.policy.source, 'namespace');
  const pod = await admin.get(`/api/v1/namespaces/${NS}/pods/ide-one-0`);
  assert.equal(pod.metadata.annotations['tessera.dev/gpu-idle-since'], fresh.idle!.since, 'the mark is on the pod, where every console sees it');
  await sleep(3500);
  const listed = (await core.workstations.list(id)).find((x) => x.name === 'ide-one')!;
  assert.equal(listed.idle?.flagged, true, 'flagged in the list after 3 s');
  const flagOnly = await watcher.pass();
  assert.deepEqual(flagOnly.stopped, [], 'action flag never stops');

  // Busy again: the mark goes.
  await admin.patch(`/api/v1/namespaces/${NS}/pods/ide-one-0`, { metadata: { annotations: { 'tessera.dev/sim-idle': 'false' } } });
  await eventually('cleared', async () => (await watcher.pass()).cleared.includes(key));
  assert.equal((await core.workstations.get(id, NS, 'ide-one')).idle, undefined);

  // Quiet again under a stop policy: stopped, with why.
  await admin.patch(`/api/v1/namespaces/${NS}/pods/ide-one-0`, { metadata: { annotations: { 'tessera.dev/sim-idle': 'true' } } });
  await admin.patch(`/api/v1/namespaces/${NS}`, { metadata: { annotations: { 'tessera.dev/ws-idle-action': 'stop' } } });
  await eventually('marked idle again', async () => (await watcher.pass()).marked.includes(key));
  await sleep(3500);
  const stopPass = await watcher.pass();
  assert.deepEqual(stopPass.stopped, [key], JSON.stringify(stopPass));
  const stopped = await inState(id, NS, 'ide-one', 'stopped');
  assert.match(stopped.stoppedReason ?? '', /^idle: GPU activity below 5% for \d+s .* the idle policy of namespace ws-open stops workstations after 3s$/);
  const nb = await admin.get(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/ide-one`);
  assert.equal(nb.metadata.annotations['tessera.dev/stopped-reason'], stopped.stoppedReason);
  const entries = (await core.audit!.query({ action: 'workstation.idle-stop', limit: 10 })).entries;
  assert.ok(entries.some((e) => e.outcome === 'succeeded' && /idle: GPU activity below 5%/.test(String((e.params as { reason?: string }).reason))));

  // A start clears the reason; the new pod starts with no idle mark.
  await admin.patch(`/api/v1/namespaces/${NS}`, { metadata: { annotations: { 'tessera.dev/ws-idle-action': 'flag' } } });
  await core.workstations.start(id, NS, 'ide-one');
  const back = await inState(id, NS, 'ide-one', 'running');
  assert.equal(back.stoppedReason, undefined);
  assert.equal(back.idle, undefined);
  assert.equal((await admin.get(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/ide-one`)).metadata.annotations['tessera.dev/stopped-reason'], undefined);
});

test('clone into another connected cluster: offered where it has the same CSI driver, pre-provisioned there, running', async () => {
  await core.workstations.snapshot(id, NS, 'ide-one', 'ide-one-snap');
  await eventually('snapshot ready', async () => (await core.workstations.snapshots(id, NS)).find((s) => s.name === 'ide-one-snap' && s.readyToUse));
  // Not connected yet: not offered, and a clone there is refused.
  assert.deepEqual((await core.methods['ws.cloneTargets']({ id, namespace: NS, snapshot: 'ide-one-snap' })).map((t) => t.clusterId).includes(siteB), false);
  await assert.rejects(core.methods['ws.clone']({ id, namespace: NS, snapshot: 'ide-one-snap', target: { namespace: NS_FAR, name: 'far-copy' }, targetCluster: siteB }), (err: TesseraError) => err.code === 'INVALID_REQUEST' && /is not connected/.test(err.message));
  await core.clusters.connect(siteB);
  const targets = await core.methods['ws.cloneTargets']({ id, namespace: NS, snapshot: 'ide-one-snap' });
  const b = targets.find((t) => t.clusterId === siteB);
  assert.deepEqual(b, { clusterId: siteB, ok: true, snapshotClass: 'tessera-sim-snapshots', storageClass: 'tessera-sim' });

  const far = await core.methods['ws.clone']({ id, namespace: NS, snapshot: 'ide-one-snap', target: { namespace: NS_FAR, name: 'far-copy' }, targetCluster: siteB });
  assert.equal(far.clusterId, siteB);
  assert.equal(far.namespace, NS_FAR);
  const claim = await admin.get(`/api/v1/namespaces/${NS_FAR}/persistentvolumeclaims/far-copy-home`);
  assert.equal(claim.spec.dataSource.kind, 'VolumeSnapshot');
  const copy = await admin.get(`/apis/snapshot.storage.k8s.io/v1/namespaces/${NS_FAR}/volumesnapshots/${claim.spec.dataSource.name}`);
  const content = await admin.get(`/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${copy.status.boundVolumeSnapshotContentName}`);
  assert.equal(content.metadata.annotations['tessera.dev/copied-from-cluster'], id);
  assert.equal(content.spec.deletionPolicy, 'Retain');
  const srcSnap = await admin.get(`/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots/ide-one-snap`);
  const srcContent = await admin.get(`/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${srcSnap.status.boundVolumeSnapshotContentName}`);
  assert.equal(content.spec.source.snapshotHandle, srcContent.status.snapshotHandle, 'the same snapshot handle, pre-provisioned');
  await inState(siteB, NS_FAR, 'far-copy', 'running');
  const entries = (await core.audit!.query({ action: 'workstation.clone', limit: 20 })).entries;
  assert.ok(entries.some((e) => e.outcome === 'succeeded' && e.cluster === siteB && (e.params as { fromCluster?: string }).fromCluster === id));
});

test('tessera ws clone --to-context clones into the other context\'s cluster; an unknown context is refused', async () => {
  // One kubeconfig with both contexts, as an admin's would have.
  const merged = path.join(dataDir, 'two-sites.kubeconfig');
  const text = fs.readFileSync(info.kubeconfigs.admin, 'utf8');
  fs.writeFileSync(merged, text.replace(/contexts:\n  - name: admin@tessera-testbed\n    context:\n      cluster: tessera-testbed\n      user: admin\n/, (m) => `${m}  - name: site-b@tessera-testbed\n    context:\n      cluster: tessera-testbed\n      user: admin\n`));
  assert.match(fs.readFileSync(merged, 'utf8'), /site-b@tessera-testbed/);
  const cli = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), ...args, '--kubeconfig', merged], { cwd: root, env: { ...process.env, KUBECONFIG: '', TESSERA_DATA_DIR: dataDir } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
    });
  const bad = await cli('ws', 'clone', 'ide-one-snap', '-n', NS, '--to', `${NS_FAR}/far-cli`, '--to-context', 'nowhere');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /context "nowhere" is not in the kubeconfig/);
  const r = await cli('ws', 'clone', 'ide-one-snap', '-n', NS, '--to', `${NS_FAR}/far-cli`, '--to-context', 'site-b@tessera-testbed', '--json');
  assert.equal(r.status, 0, r.stderr);
  const w = JSON.parse(r.stdout) as Workstation;
  assert.match(w.clusterId, /site-b@tessera-testbed$/);
  assert.equal(w.namespace, NS_FAR);
  assert.equal((await admin.get(`/api/v1/namespaces/${NS_FAR}/persistentvolumeclaims/far-cli-home`)).spec.dataSource.kind, 'VolumeSnapshot');
});
