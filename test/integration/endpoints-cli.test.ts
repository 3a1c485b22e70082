// `tessera endpoints` against the real test bed: usage errors that change
// nothing, create --dry-run and --wait --json, list, a real request and a
// load test, canary → promote, canary → rollback, a viewer refused with the
// permission named, and delete that asks for --yes and keeps model storage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Endpoint, LoadTestResult, TestResult } from '../../shared/model/endpoints.ts';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually } from '../support/testbed-info.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'inference';
const NAME = 'epcli-iris';
let info: TestbedInfo;
let admin: Kube;
let dataDir: string;

function tessera(args: string[], who: 'admin' | 'viewer' = 'admin'): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), ...args, '--kubeconfig', info.kubeconfigs[who]], { cwd: root, env: { ...process.env, KUBECONFIG: '', TESSERA_DATA_DIR: dataDir } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

const isvc = `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/${NAME}`;
const listed = async (): Promise<Endpoint | undefined> => {
  const r = await tessera(['endpoints', 'list', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Endpoint[]).find((e) => e.name === NAME);
};

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ep-cli-'));
  await admin.request('DELETE', isvc).catch(() => undefined);
  await eventually('no previous endpoint', async () => admin.get(isvc).then(() => false, () => true), 60_000, 500);
});

after(async () => {
  await admin.request('DELETE', isvc).catch(() => undefined);
  admin?.close();
});

test('usage errors exit 2 and create nothing', async () => {
  const r = await tessera(['endpoints', 'create', NAME, '-n', NS, '--format', 'sklearn', '--storage', 'pvc://models/iris', '--gpu', '1', '--mig', '1g.10gb']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--gpu and --mig are exclusive/);
  const c = await tessera(['endpoints', 'canary', NAME, '-n', NS, '--storage', 'pvc://models/x']);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /needs --percent/);
  await assert.rejects(admin.get(isvc), (err: { status?: number }) => err.status === 404);
});

test('create: --dry-run shows the YAML and the server\'s verdict; a viewer is refused with the permission named', async () => {
  const args = ['endpoints', 'create', NAME, '-n', NS, '--format', 'sklearn', '--storage', 'pvc://models/iris', '--gpu', '1', '--mode', 'Serverless'];
  const dry = await tessera([...args, '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /kind: InferenceService/);
  assert.match(dry.stdout, /ok: the API server accepts it \(dry run\)/);
  const viewer = await tessera(args, 'viewer');
  assert.equal(viewer.status, 1);
  assert.match(viewer.stderr, /may not create inferenceservices\.serving\.kserve\.io in namespace inference/);
  await assert.rejects(admin.get(isvc), (err: { status?: number }) => err.status === 404);
});

test('create --wait --json, list, a real request and a load test', async () => {
  const r = await tessera(['endpoints', 'create', NAME, '-n', NS, '--format', 'sklearn', '--storage', 'pvc://models/iris', '--gpu', '1', '--mode', 'Serverless', '--wait', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const e = JSON.parse(r.stdout) as Endpoint;
  assert.equal(e.state, 'ready');
  assert.deepEqual(e.gpusHeld, [{ resource: 'nvidia.com/gpu', count: 1 }]);
  const table = await tessera(['endpoints', 'list']);
  assert.match(table.stdout, new RegExp(`${NAME}\\s+Serverless\\s+ready\\s+True`));
  const t = await tessera(['endpoints', 'test', NAME, '-n', NS, '--json']);
  assert.equal(t.status, 0, t.stderr);
  const tr = JSON.parse(t.stdout) as TestResult;
  assert.equal(tr.protocol, 'v1');
  assert.deepEqual(JSON.parse(tr.body), { predictions: [3, 7] });
  const v2 = await tessera(['endpoints', 'test', NAME, '-n', NS, '--protocol', 'v2']);
  assert.match(v2.stdout, /→ 200 in/);
  assert.match(v2.stdout, /"data":\[2,4,6,8\]/);
  const load = await tessera(['endpoints', 'test', NAME, '-n', NS, '--requests', '60', '--concurrency', '6', '--json']);
  assert.equal(load.status, 0, load.stderr);
  const lr = JSON.parse(load.stdout) as LoadTestResult;
  assert.equal(lr.completed, 60);
  assert.equal(lr.succeeded, 60);
  assert.ok(lr.latencyMs.p99 >= lr.latencyMs.p50 && lr.latencyMs.p50 > 0);
  const probe = await tessera(['endpoints', 'test', NAME, '-n', NS, '--probe']);
  assert.equal(probe.status, 0, probe.stdout);
  assert.match(probe.stdout, /v1 model ready/);
});

test('canary → promote, canary → rollback', async () => {
  const first = (await listed())!.latestReadyRevision!;
  const c = await tessera(['endpoints', 'canary', NAME, '-n', NS, '--storage', 'pvc://models/iris-v2', '--percent', '10', '--json']);
  assert.equal(c.status, 0, c.stderr);
  assert.equal((JSON.parse(c.stdout) as Endpoint).canaryTrafficPercent, 10);
  const split = await eventually('canary ready at 10%', async () => {
    const e = await listed();
    return e && e.latestReadyRevision !== first && e.traffic.some((t) => t.latest && t.percent === 10) ? e : undefined;
  }, 90_000, 1000);
  const p = await tessera(['endpoints', 'promote', NAME, '-n', NS]);
  assert.equal(p.status, 0, p.stderr);
  await eventually('promoted', async () => {
    const e = await listed();
    return e && e.traffic.length === 1 && e.traffic[0]!.revision === split.latestReadyRevision && e.traffic[0]!.percent === 100;
  }, 90_000, 1000);
  const c2 = await tessera(['endpoints', 'canary', NAME, '-n', NS, '--storage', 'pvc://models/iris-v3', '--percent', '20']);
  assert.equal(c2.status, 0, c2.stderr);
  await eventually('second canary split', async () => (await listed())?.traffic.some((t) => t.latest && t.percent === 20), 90_000, 1000);
  const rb = await tessera(['endpoints', 'rollback', NAME, '-n', NS, '--json']);
  assert.equal(rb.status, 0, rb.stderr);
  const back = await eventually('rolled back', async () => {
    const e = await listed();
    return e && e.traffic.filter((t) => t.percent > 0).every((t) => t.revision === split.latestReadyRevision) ? e : undefined;
  }, 90_000, 1000);
  assert.equal(back.canaryTrafficPercent, 0);
});

test('delete asks for --yes, says what goes, keeps the model storage', async () => {
  const ask = await tessera(['endpoints', 'delete', NAME, '-n', NS]);
  assert.equal(ask.status, 1);
  assert.match(ask.stdout, /Model storage stays: PVC models/);
  assert.match(ask.stdout, /Nothing was deleted/);
  await admin.get(isvc);
  const r = await tessera(['endpoints', 'delete', NAME, '-n', NS, '--yes', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { keeps: { name: string }[] }).keeps.map((k) => k.name), ['models']);
  await eventually('gone', async () => admin.get(isvc).then(() => false, () => true), 60_000, 500);
  await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/models`);
  // Each CLI run appended to the same audit trail.
  const auditDir = path.join(dataDir, 'audit');
  const trail = fs.readdirSync(auditDir).map((f) => fs.readFileSync(path.join(auditDir, f), 'utf8')).join('\n');
  for (const a of ['endpoint.create', 'endpoint.canary', 'endpoint.promote', 'endpoint.rollback', 'endpoint.delete', 'endpoint.loadtest']) assert.ok(trail.includes(`"action":"${a}"`), `audit has ${a}`);
});
