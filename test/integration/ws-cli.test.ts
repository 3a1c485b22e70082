// `tessera ws` against the real test bed: create with --wait and --json, list,
// stop, snapshot --wait, clone, delete keeping then removing the volume, and
// usage errors that change nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'ws-cli';
const NS2 = 'ws-cli-b';
let info: TestbedInfo;
let admin: Kube;
let dataDir: string;

function tessera(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), ...args, '--kubeconfig', info.kubeconfigs.admin], { cwd: root, env: { ...process.env, KUBECONFIG: '', TESSERA_DATA_DIR: dataDir } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

async function wipe(ns: string): Promise<void> {
  for (const p of [`/apis/kubeflow.org/v1/namespaces/${ns}/notebooks`, `/apis/snapshot.storage.k8s.io/v1/namespaces/${ns}/volumesnapshots`, `/api/v1/namespaces/${ns}/persistentvolumeclaims`]) await admin.request('DELETE', p).catch(() => undefined);
  await admin.request('DELETE', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents', undefined, { query: { labelSelector: `tessera.dev/copy-in=${ns}` } }).catch(() => undefined);
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ws-cli-'));
  for (const ns of [NS, NS2]) {
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    await wipe(ns);
  }
  // A previous run's claims stay Terminating until their pods are gone.
  for (const ns of [NS, NS2]) {
    for (let i = 0; i < 180; i++) {
      if ((await admin.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)).items.length === 0 && (await admin.get(`/api/v1/namespaces/${ns}/pods`)).items.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
});

after(async () => {
  for (const ns of [NS, NS2]) await wipe(ns);
  admin?.close();
});

test('usage errors exit 2 and create nothing', async () => {
  const r = await tessera('ws', 'create', 'x', '-n', NS, '--image', 'a/b:1', '--gpu', '1', '--mig', '1g.10gb');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--gpu and --mig are exclusive/);
  const bad = await tessera('ws', 'create', 'Bad_Name', '-n', NS, '--image', 'a/b:1');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /spec\.name: must be a lowercase DNS label/);
  assert.equal((await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims`)).items.length, 0);
});

test('create --wait, list, stop, snapshot --wait, clone, delete', async () => {
  const c = await tessera('ws', 'create', 'cli-one', '-n', NS, '--image', 'registry.local/code-server:4', '--gpu', '1', '--cpu', '1', '--memory', '2Gi', '--volume', '3Gi', '--env', 'EDITOR=vim', '--wait', '--json');
  assert.equal(c.status, 0, c.stderr);
  const w = JSON.parse(c.stdout);
  assert.equal(w.state, 'running');
  assert.equal(w.gpuLabel, '1× GPU');
  assert.deepEqual(w.spec.env, [{ name: 'EDITOR', value: 'vim' }]);
  assert.match(c.stderr, /cli-one: running/, 'progress on stderr');

  const l = await tessera('ws', 'list');
  assert.equal(l.status, 0);
  assert.match(l.stdout, /ws-cli\s+cli-one\s+running\s+1× GPU/);

  const s = await tessera('ws', 'stop', 'cli-one', '-n', NS, '--wait', '--json');
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).state, 'stopped');

  const snap = await tessera('ws', 'snapshot', 'cli-one', '-n', NS, '--snapshot', 'cli-one-s1', '--wait', '--json');
  assert.equal(snap.status, 0, snap.stderr);
  const sj = JSON.parse(snap.stdout);
  assert.equal(sj.readyToUse, true);
  assert.equal(sj.restoreSize, '3Gi');

  const cl = await tessera('ws', 'clone', 'cli-one-s1', '-n', NS, '--to', `${NS2}/cli-two`, '--wait', '--json');
  assert.equal(cl.status, 0, cl.stderr);
  assert.equal(JSON.parse(cl.stdout).state, 'running');

  const cross = await tessera('ws', 'clone', 'cli-one', '-n', NS, '--to', `${NS2}/cli-three`, '--pvc-clone');
  assert.equal(cross.status, 1);
  assert.match(cross.stderr, /a volume clone stays in its namespace \(ws-cli\)/);

  const d1 = await tessera('ws', 'delete', 'cli-one', '-n', NS);
  assert.equal(d1.status, 0, d1.stderr);
  assert.match(d1.stdout, /kept PersistentVolumeClaim ws-cli\/cli-one-home \(use --delete-volume/);
  assert.equal((await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/cli-one-home`)).metadata.name, 'cli-one-home');
  const d2 = await tessera('ws', 'delete', 'cli-two', '-n', NS2, '--delete-volume', '--json');
  assert.equal(d2.status, 0, d2.stderr);
  assert.ok(JSON.parse(d2.stdout).deleted.some((x: { kind: string; name: string }) => x.kind === 'PersistentVolumeClaim' && x.name === 'cli-two-home'));
  const missing = await tessera('ws', 'stop', 'cli-one', '-n', NS);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no workstation named cli-one in namespace ws-cli/);
});
