/** hosts.importNodes against the real test bed API server: each node's InternalIP becomes a host, re-import updates, audited. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCore, type Core } from '../../electron/core/core.ts';
import { Router } from '../../electron/host/router.ts';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import type { HostTestResult, ImportResult, SshHost } from '../../shared/model/host.ts';
import type { NodeRow } from '../../shared/model/node.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

describe('import SSH hosts from Kubernetes nodes', () => {
  let info: TestbedInfo;
  let core: Core;
  let router: Router;
  let clusterId: string;

  async function call<T>(method: string, params: unknown): Promise<T> {
    const r = await router.call(method, params);
    if (!r.ok) throw Object.assign(new Error(r.error.message), r.error);
    return r.result as T;
  }

  before(async () => {
    info = await sharedTestbed();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-hosts-nodes-'));
    core = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [info.kubeconfigs.admin], dataDir, hosts: { userKnownHostsFiles: [], home: dataDir, readyTimeoutMs: 5000 } });
    router = new Router(core);
    const list = await call<ClusterSummary[]>('clusters.list', {});
    clusterId = (list.find((c) => c.isCurrent) ?? list[0]!).id;
    await call('clusters.connect', { id: clusterId });
  });
  after(() => core?.dispose());

  test('every node with an InternalIP becomes a host with the cluster\'s user, key, group and node pool', async () => {
    const nodes = await call<NodeRow[]>('nodes.list', { id: clusterId });
    const withIp = nodes.filter((n) => n.internalIP);
    assert.ok(withIp.length > 0, 'the test bed nodes report InternalIP');
    const r = await call<ImportResult>('hosts.importNodes', { id: clusterId, user: 'gpuadmin', identityFile: '/nonexistent/key', group: 'tb' });
    assert.equal(r.added.length, withIp.length, JSON.stringify(r.skipped.slice(0, 3)));
    for (const n of withIp) {
      const h = r.added.find((x) => x.name === n.name)!;
      assert.equal(h.address, n.internalIP);
      assert.equal(h.user, 'gpuadmin');
      assert.equal(h.group, 'tb');
      assert.equal(h.nodePool, n.pool);
      assert.deepEqual(h.source, { kind: 'kubernetes', cluster: clusterId, node: n.name });
    }
    const again = await call<ImportResult>('hosts.importNodes', { id: clusterId, user: 'ops' });
    assert.equal(again.added.length, 0);
    assert.equal(again.updated.length, withIp.length, JSON.stringify(again.skipped.slice(0, 2)));
    const { hosts } = await call<{ hosts: SshHost[] }>('hosts.list', {});
    assert.equal(hosts.length, withIp.length, 'no duplicates');
    assert.ok(hosts.every((h) => h.user === 'ops' && h.group === clusterId.split('/').slice(1).join('/')));
    const audit = await core.audit!.query({ action: 'hosts.import-nodes' });
    assert.equal(audit.entries.length, 2);
    assert.equal(audit.entries[0]!.cluster, clusterId);

    // The nodes are simulated: nothing listens on port 22 there, and the host says so plainly.
    const t = await call<HostTestResult>('hosts.test', { id: hosts[0]!.id });
    assert.equal(t.ok, false);
    if (!t.ok) assert.match(t.error.code, /SSH_UNREACHABLE|SSH_TIMEOUT/);
  });

  test('tessera ssh import-nodes does the same from a terminal, into its own data folder, and refuses a missing user', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const cliData = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-import-nodes-cli-'));
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'ssh', ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, TESSERA_DATA_DIR: cliData } });
    try {
      const usage = run('import-nodes', '--kubeconfig', info.kubeconfigs.admin);
      assert.equal(usage.status, 2, usage.stderr);
      assert.match(usage.stderr, /--user USER/);
      assert.equal(fs.existsSync(path.join(cliData, 'hosts.json')), false, 'nothing written');
      const r = run('import-nodes', '--kubeconfig', info.kubeconfigs.admin, '--user', 'ops', '--identity', '/keys/ops', '--json');
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as ImportResult;
      assert.ok(out.added.length > 0 && out.added.every((h) => h.user === 'ops' && h.identityFile === '/keys/ops' && h.source.kind === 'kubernetes'));
      const again = run('import-nodes', '--kubeconfig', info.kubeconfigs.admin, '--user', 'ops');
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`: added 0, updated ${out.added.length}, skipped \\d+`));
      const listed = spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'ssh', 'hosts', '--json'], { encoding: 'utf8', env: { ...process.env, TESSERA_DATA_DIR: cliData } });
      assert.equal((JSON.parse(listed.stdout) as SshHost[]).length, out.added.length);
    } finally {
      fs.rmSync(cliData, { recursive: true, force: true });
    }
  });

  test('an unknown cluster is refused and nothing is added', async () => {
    const r = await router.call('hosts.importNodes', { id: 'nope/ctx', user: 'ops' });
    assert.equal(r.ok, false);
    const { hosts } = await call<{ hosts: SshHost[] }>('hosts.list', {});
    assert.ok(hosts.every((h) => h.source.kind === 'kubernetes' && h.source.cluster === clusterId));
  });
});
