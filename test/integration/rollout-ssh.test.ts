// Driver rollouts through the SSH executor: the Kubernetes test bed enforces
// cordons and evictions and holds the rollout's state, while real sshd hosts
// (test/sshbed) mapped to the nodes run the site recipe's install and the
// nvidia-smi stand-in reports the installed version. The test bed cannot link
// an SSH install to the node's driver labels, so the driver-version gate reads
// the executor's own verify. The site recipe reboots: the hosts' installs
// only take effect after a reboot (nvidia-smi reports a version mismatch until
// then), and `systemctl reboot` on them cuts every connection and keeps the
// port closed for a moment (or for good, with the no-return fault).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCore, type Core } from '../../electron/core/core.ts';
import { loadRecipes, RECIPES_FILE } from '../../electron/core/rollouts/executors/ssh-recipes.ts';
import { SshExecutor } from '../../electron/core/rollouts/executors/ssh-executor.ts';
import { nodeFacts, type RawNode } from '../../electron/core/rollouts/node-facts.ts';
import { RolloutService } from '../../electron/core/rollouts/rollout-service.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';
import { defaultGpus, sshBedUnavailable, startSshBed, type SshBed, type SshdHost } from '../sshbed/index.ts';
import { eventually } from '../support/testbed-info.ts';
import { sharedTestbed, testbedClient, testbedFleet, type Kube, type TestbedInfo } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Install, reboot (the new driver loads), verify. */
const REBOOT_RECIPE = { pools: { '*': { install: 'driver.install.sim', reboot: true, verify: 'driver.version' } } };
const REBOOT_MS = 800;

const TARGET = `57${Math.floor(Math.random() * 10)}.${10 + Math.floor(Math.random() * 89)}.01`;

describe('driver rollouts over SSH', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let core: Core;
  let admin: Kube;
  let cluster: string;
  let svc: RolloutService;
  let dataDir: string;
  let info: TestbedInfo;
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
    info = await sharedTestbed();
    admin = testbedClient(info);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-ssh-'));
    const home = path.join(dataDir, 'home');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(dataDir, RECIPES_FILE), JSON.stringify(REBOOT_RECIPE));
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
    bed = await startSshBed({ count: 3, host: (i) => ({ rebootMs: REBOOT_MS, gpus: defaultGpus(`ssh-${i}`).map((g) => ({ ...g, driver: picked[i]!.version })) }) });
    for (const h of bed.hosts) h.setInstallNeedsReboot(true);
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
    await core?.dispose();
    admin?.close();
    await bed?.stop();
  });

  test('a node with no SSH host is named in the plan, and the rollout is refused before anything changes', async () => {
    const unmapped = testbedFleet(info).find((x) => x.gpu && !mapped.has(x.name))!.name;
    const nodes = [[...mapped.keys()][0]!, unmapped];
    const plan = await svc.plan({ id: cluster, targets: { nodes }, driverVersion: TARGET, executor: { kind: 'ssh' } });
    assert.equal(plan.blockers?.length, 1, 'only the unmapped node blocks');
    assert.match(plan.blockers![0]!, new RegExp(`^no SSH host for node ${unmapped}: import the cluster's nodes \\(Hosts page, or tessera ssh import-nodes\\)`));
    const before = (await svc.list(cluster)).length;
    const cordoned = (await nodeObj(nodes[0]!)).spec?.unschedulable;
    await assert.rejects(
      svc.start({ id: cluster, name: 'ssh-unmapped', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'ssh' } }),
      (err: Error & { code?: string }) => err.code === 'INVALID_REQUEST' && err.message.includes(`no SSH host for node ${unmapped}`) && err.message.includes('Hosts page'),
    );
    assert.equal((await svc.list(cluster)).length, before, 'no rollout recorded');
    assert.equal((await nodeObj(nodes[0]!)).spec?.unschedulable, cordoned, 'nothing was cordoned');
  });

  test('clean 2-stage SSH rollout with a reboot: the new driver loads at the reboot, hosts report the target, nodes cordoned, drained and uncordoned, commands kept', async () => {
    const nodes = [...mapped.keys()];
    const rebootsBefore = new Map(nodes.map((n) => [n, mapped.get(n)!.host.reboots]));
    const started = await svc.start({ id: cluster, name: 'ssh-clean', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'ssh' }, canary: 1, maxUnavailable: 2, leaseSeconds: 10 });
    assert.deepEqual(started.plan.stages.map((s) => s.nodes.length), [1, 2]);
    const done = await finished(started.id);
    assert.equal(done.phase, 'succeeded', done.reason);
    const status = await svc.status(cluster, started.id);
    for (const [name, { host }] of mapped) {
      assert.deepEqual(smiVersion(host).trim().split('\n'), [TARGET, TARGET], `${name}'s host reports ${TARGET}`);
      assert.equal(host.reboots, rebootsBefore.get(name)! + 1, `${name}'s host rebooted once`);
      assert.equal(host.pendingDriver(), undefined, 'nothing left pending for a later boot');
      const n = status.nodes.find((x) => x.name === name)!;
      assert.equal(n.upgrade.step, 'done');
      const gate = n.upgrade.gates?.find((g) => g.gate === 'driver-version');
      assert.ok(gate?.ok && /executor's own verify \(not the node label\)/.test(gate.detail), JSON.stringify(gate));
      const log = n.upgrade.log.join('\n');
      assert.match(log, /\[host\.reboot\]/, 'the reboot command is in the node log');
      assert.match(log, /answers again after \d+ s \(booted /, 'and the host coming back from a new boot');
      const xid = n.upgrade.gates?.find((g) => g.gate === 'xid');
      assert.ok(xid?.ok && /no new XID on 2 GPU\(s\) \(kernel log of .* \(gpu\.xids\.journal\)\); the host rebooted since/.test(xid.detail), `the xid gate read the host's kernel log: ${JSON.stringify(xid)}`);
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
      // The node log keeps the last lines only; the audit trail has every install with its version.
      const installs = (await core.audit!.query({ limit: 300 })).entries.filter((e) => e.action === 'rollout.node.install' && (e.params as { rollout?: string }).rollout === started.id);
      assert.deepEqual(installs.map((e) => [e.targets[0]!.name, (e.params as { phase?: string }).phase, (e.params as { version?: string }).version]), [[canary, 'rollback', recorded]], 'the rollback reinstalled the recorded version');
      assert.match(c.rollback!.log.join('\n'), /answers again after \d+ s/, 'and rebooted to load it');
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

  test('an XID the new driver raises after the reboot fails the xid gate (the host\'s kernel log) and the node is rolled back', async () => {
    const name = [...mapped.keys()][1]!;
    const { host } = mapped.get(name)!;
    host.armDriverXid(true);
    try {
      const started = await svc.start({ id: cluster, name: 'ssh-xid', targets: { nodes: [name] }, driverVersion: TARGET.replace(/\.01$/, '.03'), executor: { kind: 'ssh' }, canary: 0, leaseSeconds: 10 });
      const done = await finished(started.id);
      assert.equal(done.phase, 'rolled-back', done.reason);
      const n = (await svc.status(cluster, started.id)).nodes[0]!;
      assert.equal(n.upgrade.step, 'failed');
      assert.match(n.upgrade.error ?? '', /health gates failed on .*xid: XID 119 on GPU 0 \(none before\) \(kernel log of .*\); the host rebooted since/, 'the gate names the XID, the GPU and where it was read');
      assert.deepEqual(n.upgrade.gates?.filter((g) => !g.ok).map((g) => g.gate), ['xid'], 'the other gates passed: the driver itself is the target');
      assert.equal(n.rollback?.step, 'done', n.rollback?.error);
      assert.ok(n.rollback?.gates?.find((g) => g.gate === 'xid')?.ok, 'the rollback\'s reboot starts a clean log: its gate passes');
      // The version recorded before the upgrade is the node's label, as in every rollback.
      const recorded = mapped.get(name)!.version;
      assert.equal(n.rollback?.toVersion, recorded);
      assert.deepEqual(smiVersion(host).trim().split('\n'), [recorded, recorded], 'the host runs its recorded driver again');
    } finally {
      host.armDriverXid(false);
    }
  });

  test('a failure in stage 3 rolls back stages 3, 2 and 1, newest first, to their recorded versions', async () => {
    const nodes = [...mapped.keys()];
    const next = TARGET.replace(/\.01$/, '.03');
    const req = { id: cluster, name: 'ssh-stage3-fail', targets: { nodes }, driverVersion: next, executor: { kind: 'ssh' as const }, canary: 1, stages: [{ count: 1 }, { count: 1 }], maxUnavailable: 1, leaseSeconds: 10 };
    const plan = await svc.plan(req);
    assert.deepEqual(plan.stages.map((s) => s.nodes.length), [1, 1, 1]);
    const order = plan.stages.map((s) => s.nodes[0]!);
    const last = mapped.get(order[2]!)!.host;
    last.failDriverInstall(true);
    onLine = (line) => {
      if (line.includes(`upgrade of ${order[2]} failed`)) last.failDriverInstall(false);
    };
    try {
      const started = await svc.start(req);
      const done = await finished(started.id);
      assert.equal(done.phase, 'rolled-back', done.reason);
      const status = await svc.status(cluster, started.id);
      // The stages, newest first, in the history...
      const stages = status.history.filter((h) => h.kind === 'rollback' && /^rolling back stage/.test(h.message)).map((h) => h.stage);
      assert.deepEqual(stages, [2, 1, 0]);
      // ...and the reinstalls in the audit trail, in that order.
      const audit = (await core.audit!.query({ limit: 500 })).entries.filter((e) => e.action === 'rollout.node.install' && (e.params as { rollout?: string; phase?: string }).rollout === started.id && (e.params as { phase?: string }).phase === 'rollback');
      assert.deepEqual(audit.sort((a, b) => a.seq - b.seq).map((e) => e.targets[0]!.name), [order[2], order[1], order[0]]);
      for (const name of order) {
        const n = status.nodes.find((x) => x.name === name)!;
        const recorded = mapped.get(name)!.version;
        assert.equal(n.rollback?.toVersion, recorded);
        assert.equal(n.rollback?.step, 'done', n.rollback?.error);
        assert.deepEqual(smiVersion(mapped.get(name)!.host).trim().split('\n'), [recorded, recorded], `${name}'s host is back on ${recorded}`);
        assert.equal((await nodeObj(name)).spec?.unschedulable, undefined, `${name} is uncordoned`);
      }
      assert.match(status.nodes.find((x) => x.name === order[2])!.upgrade.error ?? '', /Building kernel modules/);
    } finally {
      last.failDriverInstall(false);
      onLine = () => {};
    }
  });

  test('a console killed mid-reboot: a second console takes over after the lease and finishes without draining twice', async () => {
    const nodes = [...mapped.keys()];
    const next = TARGET.replace(/\.01$/, '.05');
    // The CLI gets its own data folder (the audit trail's writer lock belongs to this process) with the same hosts,
    // trusted keys and recipes.
    const cliData = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-ssh-cli-'));
    for (const f of ['hosts.json', 'ssh', RECIPES_FILE]) fs.cpSync(path.join(dataDir, f), path.join(cliData, f), { recursive: true });
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), 'rollout', 'start', '--name', 'ssh-killed', '--executor', 'ssh', '--nodes', nodes.join(','), '--version', next, '--canary', '1', '--lease', '6', '--json', '--kubeconfig', info.kubeconfigs.admin],
      { cwd: root, env: { ...process.env, TESSERA_DATA_DIR: cliData, KUBECONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const id = await eventually('the CLI to start a rollout', () => /rollout (\S+) started/.exec(err)?.[1], 60_000);
      // Killed while the canary's host is down for its reboot.
      const canary = await eventually('a host rebooting', () => [...mapped].find(([, m]) => m.host.down)?.[0], 60_000, 50);
      child.kill('SIGKILL');
      await exited;
      const mid = await svc.status(cluster, id);
      assert.equal(mid.nodes.find((n) => n.name === canary)!.upgrade.step, 'upgrading', 'killed with the canary mid-upgrade');
      await eventually('the dead console\'s lease to expire', async () => !(await svc.status(cluster, id)).holder?.fresh, 20_000);
      await svc.resume(cluster, id);
      const done = await finished(id);
      assert.equal(done.phase, 'succeeded', done.reason);
      for (const n of done.nodes) {
        assert.equal(n.upgrade.drains, 1, `${n.name} drained exactly once`);
        assert.deepEqual(smiVersion(mapped.get(n.name)!.host).trim().split('\n'), [next, next]);
        assert.equal((await nodeObj(n.name)).spec?.unschedulable, undefined, `${n.name} not left cordoned`);
      }
      assert.ok(done.history.some((h) => h.kind === 'lease' && h.message.includes(svc.identity)), 'the takeover is in the history');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(cliData, { recursive: true, force: true });
    }
  });

  test('a host without journalctl (the real H100 host captured for this project has none) has its XIDs read from dmesg', async () => {
    const [node, { host }] = [...mapped][0]!;
    const ex = new SshExecutor({ hosts: core.hosts!, api: svc.api(cluster), cluster, recipes: loadRecipes(dataDir), clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) } });
    const fromJournal = await ex.readXids(node);
    assert.match(fromJournal!.source, /\(gpu\.xids\.journal\)$/);
    host.lackTool('journalctl');
    try {
      host.logXid(79, 1);
      const r = await ex.readXids(node);
      assert.match(r!.source, /\(gpu\.xids\.dmesg\)$/);
      assert.equal(r!.byGpu['1'], 79, 'the XID logged on GPU 1 is read from the timestamped ring buffer');
      assert.equal(r!.byGpu['0'], fromJournal!.byGpu['0']);
      // Remembered for the drive: the gates poll, and each poll does not try journalctl first again.
      host.lackTool('journalctl', false);
      assert.match((await ex.readXids(node))!.source, /\(gpu\.xids\.dmesg\)$/);
    } finally {
      host.lackTool('journalctl', false);
    }
  });

  test('a host that never comes back from its reboot fails its node with a clear message, and the rollback per policy reports the host it cannot reach', async () => {
    const nodes = [...mapped.keys()];
    const next = TARGET.replace(/\.01$/, '.04');
    const req = { id: cluster, name: 'ssh-no-return', targets: { nodes }, driverVersion: next, executor: { kind: 'ssh' as const }, canary: 1, maxUnavailable: 2, upgradeTimeoutSeconds: 10, leaseSeconds: 10 };
    const plan = await svc.plan(req);
    const [canary, lost] = [plan.stages[0]!.nodes[0]!, plan.stages[1]!.nodes[0]!];
    const lostHost = mapped.get(lost)!.host;
    await lostHost.setNoReturn(true);
    try {
      const started = await svc.start(req);
      const done = await finished(started.id);
      // Stage 2 failed beyond its policy (0 tolerated): the rollback returns the canary, and cannot reach the lost host.
      assert.equal(done.phase, 'rollback-failed', done.reason);
      assert.ok(lostHost.down, 'the host is still down');
      const status = await svc.status(cluster, started.id);
      const l = status.nodes.find((n) => n.name === lost)!;
      assert.equal(l.upgrade.step, 'failed');
      assert.equal(l.upgrade.failedAt, 'upgrading');
      assert.match(l.upgrade.error ?? '', /did not come back within 10 s after its reboot/);
      assert.ok(status.history.some((h) => h.kind === 'failure' && h.node === lost && /did not come back/.test(h.message)), 'reported in the history');
      assert.equal(l.rollback?.step, 'failed', 'its rollback is attempted and fails');
      assert.match(done.reason ?? '', new RegExp(`rollback failed on .*${lost} \\(driver\\.install\\.sim .* failed on ${lost}: cannot reach`));
      const c = status.nodes.find((n) => n.name === canary)!;
      assert.equal(c.rollback?.step, 'done', c.rollback?.error);
      assert.equal(smiVersion(mapped.get(canary)!.host).trim().split('\n')[0], mapped.get(canary)!.version, 'the canary is back on its recorded version');
      const audit = (await core.audit!.query({ limit: 300 })).entries;
      assert.ok(audit.some((e) => e.action === 'rollout.node.upgrade' && e.outcome === 'failed' && e.targets[0]?.name === lost), 'the failure is audited');
    } finally {
      await lostHost.setNoReturn(false);
      await admin.patch(`/api/v1/nodes/${lost}`, { spec: { unschedulable: null } }).catch(() => undefined);
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
