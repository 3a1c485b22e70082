import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TesseraError } from '../../shared/contract/errors.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { defaultKubeconfigFiles, readMergedKubeconfig } from '../../electron/core/clusters/kubeconfig-files.ts';
import { parseKubeconfig } from '../../electron/core/clusters/kubeconfig-parse.ts';
import { configWarnings, resolveContext } from '../../electron/core/clusters/resolve-context.ts';
import { FakeClock } from '../support/fake-clock.ts';

const A = `apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: c1
  cluster: { server: "https://10.0.0.1:6443", certificate-authority: ca.crt }
- name: shared
  cluster: { server: "https://from-a:6443" }
users:
- name: u1
  user: { token: abc, client-certificate: certs/u1.crt, client-key: /abs/u1.key }
contexts:
- name: alpha
  context: { cluster: c1, user: u1, namespace: team-a }
- name: both
  context: { cluster: shared, user: u1 }
`;
const B = `apiVersion: v1
kind: Config
current-context: beta
clusters:
- name: shared
  cluster: { server: "https://from-b:6443", insecure-skip-tls-verify: true }
- name: c2
  cluster: { server: "https://10.0.0.2:6443", proxy-url: "http://proxy.site:3128" }
users:
- name: u2
  user:
    exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: ./bin/get-token, args: [--x] }
contexts:
- name: beta
  context: { cluster: c2, user: u2 }
- name: both
  context: { cluster: c2, user: u2 }
`;

async function tmpdir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'tessera-kc-'));
}

test('parses clusters, users and contexts and makes paths absolute relative to the file', () => {
  const p = parseKubeconfig(A, '/etc/kube/a.yaml');
  assert.equal(p.currentContext, 'alpha');
  assert.equal(p.clusters.get('c1')?.caFile, '/etc/kube/ca.crt');
  assert.equal(p.users.get('u1')?.certFile, '/etc/kube/certs/u1.crt');
  assert.equal(p.users.get('u1')?.keyFile, '/abs/u1.key');
  assert.equal(p.contexts.get('alpha')?.namespace, 'team-a');
  const b = parseKubeconfig(B, '/home/me/b.yaml');
  assert.equal(b.users.get('u2')?.exec?.command, '/home/me/bin/get-token');
  assert.deepEqual(b.users.get('u2')?.exec?.args, ['--x']);
});

test('merges several files like kubectl: first definition and first current-context win', async () => {
  const dir = await tmpdir();
  await fs.writeFile(path.join(dir, 'a'), A);
  await fs.writeFile(path.join(dir, 'b'), B);
  const m = await readMergedKubeconfig([path.join(dir, 'a'), path.join(dir, 'missing'), path.join(dir, 'b')], { skipMissing: true });
  assert.equal(m.currentContext, 'alpha');
  assert.equal(m.clusters.get('shared')?.server, 'https://from-a:6443');
  assert.equal(m.contexts.get('both')?.cluster, 'shared');
  assert.deepEqual([...m.contexts.keys()].sort(), ['alpha', 'beta', 'both']);
  assert.ok(m.clusters.has('c2'));
});

test('KUBECONFIG is split on the path delimiter; without it ~/.kube/config is used', () => {
  assert.deepEqual(defaultKubeconfigFiles({ KUBECONFIG: `/a${path.delimiter}/b`, HOME: '/h' }), { kind: 'environment', files: ['/a', '/b'] });
  assert.deepEqual(defaultKubeconfigFiles({ HOME: '/h' }), { kind: 'default', files: ['/h/.kube/config'] });
});

test('malformed YAML gives KUBECONFIG_PARSE with the line', () => {
  assert.throws(
    () => parseKubeconfig('apiVersion: v1\nclusters:\n  - name: x\n   cluster: {', '/x/bad.yaml'),
    (e: unknown) => e instanceof TesseraError && e.code === 'KUBECONFIG_PARSE' && /bad\.yaml is not valid YAML at line \d+/.test(e.message),
  );
});

test('structural problems name what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['[1, 2]', /must be a YAML mapping/],
    ['kind: Pod', /kind is "Pod"/],
    ['clusters: {a: 1}', /"clusters" must be a list/],
    ['clusters:\n- cluster: {server: "https://x"}', /clusters\[0\] has no name/],
    ['clusters:\n- name: c\n  cluster: {}', /cluster "c" has no server/],
    ['clusters:\n- name: c\n  cluster: {server: "not a url"}', /invalid server URL/],
    ['contexts:\n- name: x\n  context: {user: u}', /context "x" names no cluster/],
    ['', /the file is empty/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseKubeconfig(text, '/k.yaml'), (e: unknown) => e instanceof TesseraError && e.code === 'KUBECONFIG_INVALID' && re.test(e.message), text);
  }
});

test('unknown contexts and dangling references are specific errors', () => {
  const p = parseKubeconfig(A + '- name: dangling\n  context: { cluster: nope, user: u1 }\n', '/k.yaml');
  assert.throws(() => resolveContext(p, 'gamma'), (e: unknown) => e instanceof TesseraError && e.code === 'CONTEXT_NOT_FOUND' && /known: alpha, both/.test(e.message));
  assert.throws(() => resolveContext(p, 'dangling'), /refers to cluster "nope", which is not defined/);
});

test('a broken import changes nothing; a good one adds its contexts and survives a reload', async () => {
  const dir = await tmpdir();
  const kc = path.join(dir, 'config');
  await fs.writeFile(kc, A);
  const svc = new ClusterService({ clock: new FakeClock(), kubeconfigFiles: [kc], dataDir: path.join(dir, 'data') });
  await svc.load();
  const before = svc.list().map((c) => c.id);
  assert.deepEqual(before.sort(), ['cli/alpha', 'cli/both']);

  await assert.rejects(svc.importKubeconfig('broken.yaml', 'clusters: [\n'), (e: TesseraError) => e.code === 'KUBECONFIG_PARSE');
  await assert.rejects(svc.importKubeconfig('empty.yaml', 'apiVersion: v1\nkind: Config\n'), /defines no contexts/);
  assert.deepEqual(svc.list().map((c) => c.id).sort(), before.sort());
  assert.deepEqual(await fs.readdir(path.join(dir, 'data')).catch(() => []), []);

  const src = await svc.importKubeconfig('Edge Site 7', B);
  assert.equal(src.id, 'import-edge-site-7');
  const ids = svc.list().map((c) => c.id);
  assert.ok(ids.includes('import-edge-site-7/beta'));
  const beta = svc.get('import-edge-site-7/beta');
  assert.equal(beta.authKind, 'exec');
  assert.match(beta.warnings.join(), /proxy/);
  const both = svc.get('import-edge-site-7/both');
  assert.equal(both.server, 'https://10.0.0.2:6443');
  const stat = await fs.stat(src.files[0]!);
  assert.equal(stat.mode & 0o077, 0, 'imported credentials are private to the user');

  const again = new ClusterService({ clock: new FakeClock(), kubeconfigFiles: [kc], dataDir: path.join(dir, 'data') });
  await again.load();
  assert.ok(again.list().some((c) => c.id === 'import-edge-site-7/beta'));
  assert.equal(again.listSources().find((s) => s.id === 'import-edge-site-7')?.label, 'Edge Site 7');
});

test('insecure-skip-tls-verify and plain http are shown as warnings', () => {
  const cfg = parseKubeconfig(B, '/b.yaml');
  assert.match(configWarnings({ cluster: cfg.clusters.get('shared')! }).join(), /TLS verification is off/);
  assert.deepEqual(configWarnings({ cluster: { server: 'https://x', skipTLSVerify: false } }), []);
  assert.match(configWarnings({ cluster: { server: 'http://x', skipTLSVerify: false } }).join(), /unencrypted/);
});

test('a missing kubeconfig named on the command line is a source error, not a crash', async () => {
  const svc = new ClusterService({ clock: new FakeClock(), kubeconfigFiles: ['/definitely/not/here'] });
  await svc.load();
  assert.throws(() => svc.assertLoaded(), (e: TesseraError) => e.code === 'KUBECONFIG_NOT_FOUND' && /not found: \/definitely\/not\/here/.test(e.message));
  assert.deepEqual(svc.list(), []);
});
