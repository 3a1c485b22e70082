// Driver rollouts through the SSH executor: the Kubernetes test bed enforces
// cordons and evictions and holds the rollout's state, while real sshd hosts
// (test/sshbed) mapped to the nodes run the site recipe's install and the
// nvidia-smi stand-in reports the installed version. The test bed cannot link
// an SSH install to the node's driver labels, so the driver-version gate reads
// the executor's own verify.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { RECIPES_FILE } from '../../electron/core/rollouts/executors/ssh-recipes.ts';
import { nodeFacts, type RawNode } from '../../electron/core/rollouts/node-facts.ts';
import { RolloutService } from '../../electron/core/rollouts/rollout-service.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';
import { defaultGpus, sshBedUnavailable, startSshBed, type SshBed, type SshdHost } from '../sshbed/index.ts';
import { sharedTestbed, testbedClient, testbedFleet, type Kube } from '../testbed/index.ts';

const TARGET = `57${Math.floor(Math.random() * 10)}.${10 + Math.floor(Math.random() * 89)}.01`;

describe('driver rollouts over SSH', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let core: Core;
  let admin: Kube;
  let cluster: string;
  let svc: RolloutService;
  let dataDir: string;
  /** Node name -> its SSH host and the driver version the node was on. */
  const mapped = new Map<string, { host: SshdHost; version: string }>();
  let onLine: (line: string) => void = () => {};

  const nodeObj = (name: string) => admin.get<RawNode>(`/api/v1/nodes/${name}`);
  const smiVersion = (h: SshdHost) => h.nvidiaSmi('--query-gpu=driver_version', '--format=csv,noheader').stdout;

  async function finished(id: string, timeoutMs = 120_000): Promise<RolloutState> {
    const p = svc.drivingPromise(id);
    assert.ok(p, 'this console drives the rollout');
    return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`rollout ${id} did not end in ${timeoutMs} ms`)), timeoutMs).unref())]);
  }

  before(async () => {
    const info = await sharedTestbed();
    admin = testbedClient(info);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-ssh-'));
    const home = path.join(dataDir, 'home');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(dataDir, RECIPES_FILE), JSON.stringify({ pools: { '*': { install: 'driver.install.sim', verify: 'driver.version' } } }));
    core = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [info.kubeconfigs.admin], dataDir, hosts: { userKnownHostsFiles: [], home } });
    cluster = core.clusters.list()[0]!.id;
    await core.clusters.connect(cluster);

    // Three healthy GPU nodes with a known driver; each gets an sshd host whose GPUs run that same driver.
    const picked: { name: string; version: string }[] = [];
    for (const s of testbedFleet(info).filter((x) => x.gpu)) {
      const f = nodeFacts(await nodeObj(s.name));
      if (f.version && f.ready && !f.cordoned && (f.upgradeState ?? 'upgrade-done') === 'upgrade-done' && picked.length < 3) picked.push({ name: s.name, version: f.version });
    }
    assert.equal(picked.length, 3, 'three healthy GPU nodes with a driver version label');
    bed = await startSshBed({ count: 3, host: (i) => ({ gpus: defaultGpus(`ssh-${i}`).map((g) => ({ ...g, driver: picked[i]!.version })) }) });
    const hosts = core.hosts!;
    await hosts.store.upsertMany(
      picked.map((p, i) => ({
        input: { name: p.name, address: bed.hosts[i]!.address, port: bed.hosts[i]!.port, user: os.userInfo().username, identityFile: bed.clientKey.privatePath },
        source: { kind: 'kubernetes' as const, cluster, node: p.name },
        key: `kubernetes:${cluster}:${p.name}`,
      })),
    );
    for (const h of (await hosts.store.list()).hosts) {
      const first = await hosts.test(h.id);
      if (!first.ok && first.unknownKey) await hosts.trust({ ...first.unknownKey, accept: true });
      const second = await hosts.test(h.id);
      assert.ok(second.ok, `host ${h.name} answers: ${JSON.stringify({ first, second })}`);
    }
    picked.forEach((p, i) => mapped.set(p.name, { host: bed.hosts[i]!, version: p.version }));

    svc = new RolloutService({
      clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) },
      cluster: () => {
        const conn = core.clusters.connection(cluster);
        return { kubeConfig: () => conn.kubeConfig(), canI: (r) => conn.canI(r), userName: conn.rc.userName };
      },
      audit: (input) => core.audit!.record(input),
      timing: { controlPollMs: 300, drainRetryMs: 500, gateSettleMs: 5_000, gatePollMs: 300 },
      pollMs: 250,
      hosts,
      dataDir,
      onEvent: (_id, line) => onLine(line),
    });
  });

  after(async () => {
    await svc?.settle();
    core?.dispose();
    admin?.close();
    await bed?.stop();
  });

  test('clean 2-stage SSH rollout: hosts report the target, nodes cordoned, drained and uncordoned, commands kept', async () => {
    const nodes = [...mapped.keys()];
    const started = await svc.start({ id: cluster, name: 'ssh-clean', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'ssh' }, canary: 1, maxUnavailable: 2, leaseSeconds: 10 });
    assert.deepEqual(started.plan.stages.map((s) => s.nodes.length), [1, 2]);
    const done = await finished(started.id);
    assert.equal(done.phase, 'succeeded', done.reason);
    const status = await svc.status(cluster, started.id);
    for (const [name, { host }] of mapped) {
      assert.deepEqual(smiVersion(host).trim().split('\n'), [TARGET, TARGET], `${name}'s host reports ${TARGET}`);
      const n = status.nodes.find((x) => x.name === name)!;
      assert.equal(n.upgrade.step, 'done');
      const gate = n.upgrade.gates?.find((g) => g.gate === 'driver-version');
      assert.ok(gate?.ok && /executor's own verify \(not the node label\)/.test(gate.detail), JSON.stringify(gate));
      const log = n.upgrade.log.join('\n');
      assert.match(log, /\[driver\.install\.sim\] /, 'the install command is in the node log');
      assert.match(log, new RegExp(`Installation of the NVIDIA .*version: ${TARGET.replace(/\./g, '\\.')}`), 'with its output');
      assert.equal((await nodeObj(name)).spec?.unschedulable, undefined, `${name} is uncordoned`);
      assert.ok(status.history.some((h) => h.node === name && /cordon/.test(h.message)), `${name} was cordoned`);
      assert.ok(status.history.some((h) => h.node === name && /drain/.test(h.message)), `${name} was drained`);
    }
    const audit = await core.audit!.query({ limit: 200 });
    assert.ok(audit.entries.some((e) => e.action === 'rollout.node.install' && e.outcome === 'succeeded'), 'installs are audited');
  });

  test('a failing install on the canary halts the rollout and rolls the canary back to its recorded version', async () => {
    const nodes = [...mapped.keys()];
    const from = new Map([...mapped].map(([n, m]) => [n, smiVersion(m.host).trim().split('\n')[0]!]));
    const next = TARGET.replace(/\.01$/, '.02');
    const plan = await svc.plan({ id: cluster, targets: { nodes }, driverVersion: next, executor: { kind: 'ssh' }, canary: 1 });
    const canary = plan.stages[0]!.nodes[0]!;
    const canaryHost = mapped.get(canary)!.host;
    canaryHost.failDriverInstall(true);
    // The admin fixes the host as soon as the failure is reported, so the rollback's reinstall can succeed.
    onLine = (line) => {
      if (line.includes(`upgrade of ${canary} failed`)) canaryHost.failDriverInstall(false);
    };
    try {
      const started = await svc.start({ id: cluster, name: 'ssh-canary-fail', targets: { nodes }, driverVersion: next, executor: { kind: 'ssh' }, canary: 1, maxUnavailable: 2, leaseSeconds: 10 });
      const done = await finished(started.id);
      assert.equal(done.phase, 'rolled-back', done.reason);
      const status = await svc.status(cluster, started.id);
      const c = status.nodes.find((n) => n.name === canary)!;
      assert.equal(c.upgrade.step, 'failed');
      assert.match(c.upgrade.error ?? '', /driver\.install\.sim .* failed on .*Building kernel modules/s, 'the failure carries the installer output');
      // The rollback returns to the version recorded before the upgrade (the node's label), through the install recipe.
      const recorded = mapped.get(canary)!.version;
      assert.equal(c.rollback?.toVersion, recorded);
      assert.equal(c.rollback?.step, 'done', c.rollback?.error);
      assert.match(c.rollback!.log.join('\n'), new RegExp(`\\[driver\\.install\\.sim\\] ${recorded.replace(/\./g, '\\.')}`), 'the rollback reinstalled the recorded version');
      assert.equal(smiVersion(canaryHost).trim().split('\n')[0], recorded);
      assert.equal((await nodeObj(canary)).spec?.unschedulable, undefined, 'the canary is uncordoned after its rollback');
      for (const n of nodes.filter((x) => x !== canary)) {
        assert.equal(status.nodes.find((x) => x.name === n)!.upgrade.step, 'pending', `${n} was never started`);
        assert.equal(smiVersion(mapped.get(n)!.host).trim().split('\n')[0], from.get(n), `${n}'s host is untouched`);
      }
    } finally {
      canaryHost.failDriverInstall(false);
      onLine = () => {};
    }
  });

  test('an SSH rollout without a recipe file is refused before anything changes', async () => {
    const file = path.join(dataDir, RECIPES_FILE);
    const text = fs.readFileSync(file, 'utf8');
    fs.rmSync(file);
    try {
      const before = (await svc.list(cluster)).length;
      await assert.rejects(svc.start({ id: cluster, targets: { nodes: [...mapped.keys()] }, driverVersion: '999.1.1', executor: { kind: 'ssh' } }), /rollout-recipes\.json/);
      assert.equal((await svc.list(cluster)).length, before);
    } finally {
      fs.writeFileSync(file, text);
    }
  });
});
