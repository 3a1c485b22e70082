// Driver rollouts through the GPU Operator executor on the real test bed: the
// API server enforces cordons, evictions and PodDisruptionBudgets, the
// ConfigMap's resourceVersion and the Lease; the simulated upgrade controller
// walks nvidia.com/gpu-driver-upgrade-state as the operator does.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { RolloutService } from '../../electron/core/rollouts/rollout-service.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';
import { UPGRADE_MS_ANNOTATION } from '../testbed/fleet/driver-upgrade.ts';
import { injectFault, sharedTestbed, testbedClient, testbedFleet, type Kube, type TestbedInfo } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let info: TestbedInfo;
let admin: Kube;
let core: Core;
let svc: RolloutService;
let cluster: string;
let dataDir: string;
let cliDataDir: string;
/** Operator-managed GPU nodes, handed out so every test has nodes no other test touched. */
let pool: string[] = [];
/** A driver version no node runs yet, new per run so a reused test bed still has work to do. */
const TARGET = `58${Math.floor(Math.random() * 10)}.${10 + Math.floor(Math.random() * 89)}.05`;
/** For tests that reuse nodes an earlier test moved to TARGET. */
const TARGET_B = TARGET.replace(/\.05$/, '.06');
const TARGET_C = TARGET.replace(/\.05$/, '.07');

/** Nodes for one test, in rotation: every test leaves its nodes healthy (it asserts so), so later tests may reuse them. */
const take = (n: number) => {
  assert.ok(pool.length >= n, `enough GPU nodes (${pool.length} < ${n})`);
  const picked = pool.splice(0, n);
  pool.push(...picked);
  return picked;
};

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function service(identity?: string, onEvent?: (rollout: string, line: string) => void): RolloutService {
  const conn = core.clusters.connection(cluster);
  return new RolloutService({
    ...(onEvent ? { onEvent } : {}),
    clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) },
    cluster: () => ({ kubeConfig: () => conn.kubeConfig(), canI: (r) => conn.canI(r), userName: conn.rc.userName }),
    audit: (input) => core.audit!.record(input),
    timing: { controlPollMs: 300, drainRetryMs: 500, gateSettleMs: 15_000, gatePollMs: 300 },
    pollMs: 250,
    ...(identity ? { identity } : {}),
  });
}

async function finished(id: string, s = svc, timeoutMs = 120_000): Promise<RolloutState> {
  const p = s.drivingPromise(id);
  assert.ok(p, 'this console drives the rollout');
  return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`rollout ${id} did not end in ${timeoutMs} ms`)), timeoutMs).unref())]);
}

const nodeObj = (name: string) => admin.get<{ spec?: { unschedulable?: boolean }; metadata: { labels: Record<string, string> } }>(`/api/v1/nodes/${name}`);
const versionOf = async (name: string) => (await nodeObj(name)).metadata.labels['nvidia.com/cuda.driver-version.full'];

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-'));
  cliDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-cli-'));
  core = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
  cluster = core.clusters.list()[0]!.id;
  await core.clusters.connect(cluster);
  svc = service();
  const specs = testbedFleet(info).filter((s) => s.gpu && s.gpu.labels === 'both');
  const ready: string[] = [];
  for (const s of specs) {
    const n = await admin.get<{ spec?: { unschedulable?: boolean }; status?: { conditions?: { type: string; status: string }[] } }>(`/api/v1/nodes/${s.name}`);
    if (!n.spec?.unschedulable && !(await versionOf(s.name).then((v) => v === TARGET)) && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.push(s.name);
  }
  pool = ready;
});

after(async () => {
  await svc?.settle();
  await core?.dispose();
  admin?.close();
});

test('plan: stages, evictions, skipped nodes; bad requests are refused and change nothing', async () => {
  const nodes = pool.slice(0, 4);
  const existing = (await svc.list(cluster).catch(() => [])).length;
  const plan = await svc.plan({ id: cluster, targets: { nodes }, driverVersion: TARGET, executor: { kind: 'gpu-operator' }, canary: 1, stages: [{ count: 1 }] });
  assert.deepEqual(plan.stages.map((s) => s.nodes.length), [1, 1, 2]);
  assert.deepEqual(plan.stages.flatMap((s) => s.nodes).sort(), [...nodes].sort());
  assert.ok(plan.nodes.every((n) => n.currentVersion && n.currentVersion !== TARGET));
  const current = plan.nodes[0]!.currentVersion!;
  const same = await svc.plan({ id: cluster, targets: { nodes: [nodes[0]!] }, driverVersion: current, executor: { kind: 'gpu-operator' } });
  assert.deepEqual(same.skipped.map((s) => s.reason), ['at-target']);
  await assert.rejects(svc.plan({ id: cluster, targets: { nodes: ['no-such-node'] }, driverVersion: TARGET, executor: { kind: 'gpu-operator' } }), /no such node.*no-such-node/);
  await assert.rejects(svc.start({ id: cluster, targets: { nodes }, driverVersion: '580; reboot', executor: { kind: 'gpu-operator' } }), /not a driver version/);
  assert.equal((await svc.list(cluster).catch(() => [])).length, existing, 'a refused request created no rollout');
});

test('clean multi-stage rollout: every node upgraded once, uncordoned, audited', async () => {
  const nodes = take(4);
  const versions = await Promise.all(nodes.map(versionOf));
  const skipBefore = await Promise.all(nodes.map(async (n) => (await nodeObj(n)).metadata.labels['nvidia.com/gpu-driver-upgrade.skip']));
  const started = await svc.start({ id: cluster, name: 'clean', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'gpu-operator' }, canary: 1, stages: [{ count: 1 }], maxUnavailable: 2, leaseSeconds: 10 });
  const seen: string[] = [];
  let liveLines = 0;
  const readsBefore = svc.api(cluster).wholeReads;
  const unwatch = svc.watch(
    cluster,
    started.id,
    (snap) => {
      seen.push(`${snap.phase}/${snap.currentStage}`);
      liveLines = Math.max(liveLines, snap.nodes.reduce((k, n) => k + n.upgrade.log.length, 0));
    },
    300,
  );
  const done = await finished(started.id);
  // This console drives it, so the watch is fed from the driver's memory: no whole reads of the rollout while it ran.
  assert.equal(svc.api(cluster).wholeReads - readsBefore, 0, 'the watch of a rollout driven here read nothing from the cluster');
  assert.ok(liveLines > 0, 'the watch carried the nodes\' log lines');
  await waitFor('the watch to see the end', async () => seen.at(-1) === `succeeded/3`, 10_000);
  unwatch();
  assert.ok(seen.includes('running/1') || seen.includes('running/2'), `watch saw progress: ${seen.join(' ')}`);
  assert.equal(done.phase, 'succeeded', done.reason);
  for (const [i, n] of nodes.entries()) {
    const obj = await nodeObj(n);
    assert.equal(obj.metadata.labels['nvidia.com/cuda.driver-version.full'], TARGET, `${n} upgraded`);
    assert.ok(!obj.spec?.unschedulable, `${n} uncordoned`);
    // The hold Tessera added is lifted; a skip label someone set before the rollout stays.
    assert.equal(obj.metadata.labels['nvidia.com/gpu-driver-upgrade.skip'], skipBefore[i], `${n}: skip label as before the rollout`);
  }
  const stored = await svc.status(cluster, started.id);
  assert.deepEqual(stored.nodes.map((n) => n.before?.version), versions, 'previous versions recorded');
  assert.ok(stored.nodes.every((n) => n.upgrade.step === 'done' && n.upgrade.drains === 1));
  assert.ok(stored.nodes.every((n) => n.upgrade.gates?.every((g) => g.ok)));
  const stageOrder = stored.history.filter((h) => h.kind === 'stage' && /done/.test(h.message)).map((h) => h.stage);
  assert.deepEqual(stageOrder, [0, 1, 2]);
  // The canary finished before stage 1 began.
  const canaryDone = Date.parse(stored.nodes.find((n) => n.stage === 0)!.upgrade.finishedAt!);
  assert.ok(stored.nodes.filter((n) => n.stage > 0).every((n) => Date.parse(n.upgrade.startedAt!) >= canaryDone));
  const audit = await core.audit!.query({ action: 'rollout', limit: 1000 } as never);
  const actions = new Set(audit.entries.map((e) => e.action));
  for (const a of ['rollout.create', 'rollout.start', 'rollout.stage', 'rollout.node.cordon', 'rollout.node.drain', 'rollout.node.install', 'rollout.node.verify', 'rollout.node.uncordon', 'rollout.finish']) assert.ok(actions.has(a), `audit has ${a}`);
  assert.equal((await svc.list(cluster)).find((r) => r.id === started.id)?.phase, 'succeeded');
});

test('a canary failure halts the rollout and rolls the canary back', async () => {
  const nodes = take(3);
  const versions = await Promise.all(nodes.map(versionOf));
  await injectFault(info.stateDir, 'upgrade-fail', [nodes[0]!]);
  try {
    const started = await svc.start({ id: cluster, name: 'canary-fail', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'gpu-operator' }, canary: 1, stallTimeoutSeconds: 60 });
    const done = await finished(started.id);
    assert.equal(done.phase, 'rolled-back', done.reason);
    const canary = done.nodes.find((n) => n.name === nodes[0])!;
    assert.equal(canary.upgrade.step, 'failed');
    assert.match(canary.upgrade.error ?? '', /upgrade-failed/);
    assert.equal(canary.rollback?.step, 'done', canary.rollback?.error);
    assert.deepEqual(done.nodes.filter((n) => n.name !== nodes[0]).map((n) => n.upgrade.step), ['pending', 'pending'], 'no node after the canary started');
    for (const [i, n] of nodes.entries()) {
      assert.equal(await versionOf(n), versions[i], `${n} at its recorded version`);
      assert.ok(!(await nodeObj(n)).spec?.unschedulable, `${n} not left cordoned`);
    }
  } finally {
    await injectFault(info.stateDir, 'rollout-clear', [nodes[0]!]);
  }
});

test('a failure in stage 3 rolls back stages 3, 2 and 1, newest first, to the recorded versions', async () => {
  const nodes = take(4);
  const versions = await Promise.all(nodes.map(versionOf));
  const started = await svc.start({ id: cluster, name: 'stage3', targets: { nodes }, driverVersion: TARGET, executor: { kind: 'gpu-operator' }, canary: 1, stages: [{ count: 1 }], maxUnavailable: 1 });
  const plan = started.plan;
  const failing = plan.stages[2]!.nodes[1]!;
  await injectFault(info.stateDir, 'upgrade-fail', [failing]);
  try {
    // Once the node's upgrade has failed, the broken driver package is "fixed" so its rollback can load the old driver again
    // (the fault fails every driver pod restart on the node until cleared, old version included).
    await waitFor('the stage-3 failure', async () => (await svc.status(cluster, started.id)).nodes.find((n) => n.name === failing)?.upgrade.step === 'failed', 90_000);
    await injectFault(info.stateDir, 'rollout-clear', [failing]);
    const done = await finished(started.id);
    assert.equal(done.phase, 'rolled-back', done.reason);
    const rb = done.history.filter((h) => h.kind === 'rollback' && h.stage !== undefined).map((h) => h.stage);
    assert.deepEqual(rb, [2, 1, 0], 'stages rolled back newest first');
    const finishedAt = (stage: number) => Math.max(...done.nodes.filter((n) => n.stage === stage && n.rollback).map((n) => Date.parse(n.rollback!.finishedAt!)));
    const startedAt = (stage: number) => Math.min(...done.nodes.filter((n) => n.stage === stage && n.rollback).map((n) => Date.parse(n.rollback!.startedAt!)));
    assert.ok(finishedAt(2) <= startedAt(1) && finishedAt(1) <= startedAt(0), 'each stage finished rolling back before the older one began');
    assert.ok(done.nodes.every((n) => n.rollback?.step === 'done'), JSON.stringify(done.nodes.map((n) => [n.name, n.rollback?.step, n.rollback?.error])));
    assert.equal(done.nodes.find((n) => n.name === failing)!.upgrade.failedAt, 'upgrading');
    assert.equal(done.nodes.find((n) => n.name === failing)!.stage, 2);
    for (const [i, n] of nodes.entries()) {
      assert.equal(await versionOf(n), versions[i], `${n} back at ${versions[i]}`);
      assert.ok(!(await nodeObj(n)).spec?.unschedulable, `${n} uncordoned`);
    }
  } finally {
    await injectFault(info.stateDir, 'rollout-clear', [failing]);
  }
});

test('a new XID after the upgrade fails the xid gate (the node\'s dcgm-exporter through the API server) and the node is rolled back', async () => {
  const [node] = take(1) as [string];
  const version = await versionOf(node);
  const target = TARGET.replace(/\.05$/, '.09');
  await injectFault(info.stateDir, 'gpu-clear', [node]);
  // A longer driver reload on this node, so the XID surely lands between the recorded reading and the gates.
  await admin.patch(`/api/v1/nodes/${node}`, { metadata: { annotations: { [UPGRADE_MS_ANNOTATION]: '6000' } } });
  let injected: Promise<string> | undefined;
  const s = service(undefined, (_id, line) => {
    // Right after the phase recorded each GPU's last XID (with the drain), the GPU raises XID 79 (fallen off the bus).
    if (!injected && line.includes(`${node}: upgrade: drain`)) injected = injectFault(info.stateDir, 'gpu-xid', [node, '0', '79']);
  });
  try {
    const started = await s.start({ id: cluster, name: 'xid', targets: { nodes: [node] }, driverVersion: target, executor: { kind: 'gpu-operator' }, canary: 1 });
    const done = await finished(started.id, s);
    assert.ok(injected, 'the XID was injected');
    await injected;
    assert.equal(done.phase, 'rolled-back', done.reason);
    const n = done.nodes[0]!;
    assert.deepEqual(n.upgrade.xidsBefore, { 0: 0, ...Object.fromEntries(Object.keys(n.upgrade.xidsBefore ?? {}).filter((k) => k !== '0').map((k) => [k, 0])) }, 'no XID on any GPU when the upgrade began');
    assert.equal(n.upgrade.step, 'failed');
    assert.equal(n.upgrade.failedAt, 'verifying');
    const gate = n.upgrade.gates?.find((g) => g.gate === 'xid');
    assert.equal(gate?.ok, false, JSON.stringify(gate));
    assert.match(gate!.detail, /XID 79 on GPU 0 \(none before\) \(dcgm-exporter gpu-operator\/nvidia-dcgm-exporter-/);
    assert.match(n.upgrade.error ?? '', /health gates failed on .*xid: XID 79 on GPU 0/);
    // The rollback compares with the XID present when it began: XID 79 is not new to it, so it passes and says why.
    assert.equal(n.rollback?.step, 'done', n.rollback?.error);
    assert.match(n.rollback?.gates?.find((g) => g.gate === 'xid')?.detail ?? '', /XID 79 on GPU 0 as before/);
    assert.equal(await versionOf(node), version, 'back on its recorded driver');
    assert.ok(!(await nodeObj(node)).spec?.unschedulable, 'not left cordoned');
  } finally {
    await injectFault(info.stateDir, 'gpu-clear', [node]);
    await admin.patch(`/api/v1/nodes/${node}`, { metadata: { annotations: { [UPGRADE_MS_ANNOTATION]: null } } });
  }
});

test('a PodDisruptionBudget that blocks a drain is shown in the plan and reported by name', async () => {
  let node: string | undefined;
  for (const candidate of [...pool]) {
    try {
      await injectFault(info.stateDir, 'pdb-block', [candidate]);
      node = candidate;
      pool.splice(pool.indexOf(candidate), 1);
      pool.push(candidate);
      break;
    } catch {
      // No free GPU there for the blocking pod: try the next node.
    }
  }
  assert.ok(node, 'a node could take the PDB-blocked pod');
  try {
    const plan = await svc.plan({ id: cluster, targets: { nodes: [node!] }, driverVersion: TARGET, executor: { kind: 'gpu-operator' } });
    assert.ok(plan.blockingPdbs.some((b) => b.name === `pdb-block-${node}` && b.nodes.includes(node!)), JSON.stringify(plan.blockingPdbs));
    const version = await versionOf(node!);
    const started = await svc.start({ id: cluster, name: 'pdb', targets: { nodes: [node!] }, driverVersion: TARGET, executor: { kind: 'gpu-operator' }, drainTimeoutSeconds: 3, autoRollback: false });
    const done = await finished(started.id);
    assert.equal(done.phase, 'failed');
    const n = done.nodes[0]!;
    assert.equal(n.upgrade.failedAt, 'draining');
    assert.match(n.upgrade.error ?? '', new RegExp(`PodDisruptionBudget tessera-faults/pdb-block-${node}.*pods tessera-faults/pdb-block-${node}-`));
    assert.equal(await versionOf(node!), version, 'driver untouched');
    assert.ok(!(await nodeObj(node!)).spec?.unschedulable, 'uncordoned again: nothing was changed on it');
  } finally {
    await injectFault(info.stateDir, 'rollout-clear', [node!]);
  }
});

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), 'rollout', ...args, '--kubeconfig', info.kubeconfigs.admin], {
    cwd: root,
    // Its own data folder: the audit trail's writer lock belongs to one process (this test's core holds dataDir's).
    env: { ...process.env, TESSERA_DATA_DIR: cliDataDir, KUBECONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test('a console killed mid-stage: a second console is refused while its lease is fresh, then takes over and finishes without repeating steps', async () => {
  const nodes = take(3);
  const child = cli(['start', '--name', 'killed', '--nodes', nodes.join(','), '--version', TARGET, '--canary', '1', '--lease', '6', '--json']);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const id = await waitFor('the CLI to start a rollout', async () => /rollout (\S+) started/.exec(err)?.[1], 60_000);
    // Mid-stage: the canary is done and a stage-1 node is being upgraded by the operator.
    const mid = await waitFor('a node mid-upgrade', async () => {
      const s = await svc.status(cluster, id);
      return s.nodes.find((n) => n.stage === 1 && n.upgrade.step === 'upgrading') ? s : undefined;
    }, 90_000);
    assert.ok(mid.holder?.fresh, 'the CLI holds a fresh lease');
    const second = service('second-console');
    await assert.rejects(second.resume(cluster, id), (e: Error & { code?: string }) => e.code === 'CONFLICT' && /being driven by another console/.test(e.message));
    child.kill('SIGKILL');
    await exited;
    const before = await svc.status(cluster, id);
    const inFlight = before.nodes.filter((n) => n.upgrade.step !== 'pending' && n.upgrade.step !== 'done').map((n) => n.name);
    assert.ok(inFlight.length >= 1, 'killed with a node in flight');
    // Refused until the dead console's lease expires, then the takeover works.
    await assert.rejects(second.resume(cluster, id), /being driven by another console/);
    await waitFor('the lease to expire', async () => !(await svc.status(cluster, id)).holder?.fresh, 20_000);
    await second.resume(cluster, id);
    const done = await finished(id, second);
    assert.equal(done.phase, 'succeeded', done.reason);
    for (const n of done.nodes) {
      assert.equal(n.upgrade.drains, 1, `${n.name} drained exactly once`);
      assert.equal(done.history.filter((h) => h.node === n.name && /^upgrade: drain$/.test(h.message)).length, 1, `${n.name}: one drain recorded`);
    }
    for (const n of nodes) {
      assert.ok(!(await nodeObj(n)).spec?.unschedulable, `${n} not left cordoned`);
      assert.equal(await versionOf(n), TARGET);
    }
    assert.ok(done.history.some((h) => h.kind === 'lease' && /second-console/.test(h.message)), 'the takeover is in the history');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('RBAC: a user who may not patch nodes or evict pods is refused before anything changes, with the missing permissions named', async () => {
  const viewerCore = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [info.kubeconfigs.viewer] });
  try {
    const id = viewerCore.clusters.list()[0]!.id;
    await viewerCore.clusters.connect(id);
    const conn = viewerCore.clusters.connection(id);
    const viewer = new RolloutService({ clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) }, cluster: () => ({ kubeConfig: () => conn.kubeConfig(), canI: (r) => conn.canI(r) }) });
    const count = (await svc.list(cluster)).length;
    const nodes = take(1);
    await assert.rejects(viewer.start({ id, targets: { nodes }, driverVersion: TARGET, executor: { kind: 'gpu-operator' } }), (e: Error & { code?: string; details?: { missing?: string[] } }) => {
      assert.equal(e.code, 'FORBIDDEN');
      assert.ok(e.details?.missing?.includes('patch nodes'), JSON.stringify(e.details));
      assert.ok(e.details?.missing?.includes('create pods/eviction'));
      assert.match(e.message, /may not patch nodes/);
      return true;
    });
    assert.equal((await svc.list(cluster)).length, count, 'no rollout recorded');
    assert.equal((await nodeObj(nodes[0]!)).spec?.unschedulable, undefined, 'node untouched');
  } finally {
    viewerCore.dispose();
  }
});

test('approval between stages, pause and resume: nothing starts without approval, a pause lets nodes in flight finish', async () => {
  const nodes = take(3);
  const started = await svc.start({ id: cluster, name: 'approve', targets: { nodes }, driverVersion: TARGET_B, executor: { kind: 'gpu-operator' }, canary: 1, stages: [{ count: 1 }], pause: { kind: 'approval' } });
  await waitFor('stage 1 to wait for approval', async () => (await svc.status(cluster, started.id)).phase === 'waiting-approval');
  await new Promise((r) => setTimeout(r, 1500));
  let s = await svc.status(cluster, started.id);
  assert.equal(s.phase, 'waiting-approval');
  assert.deepEqual(s.nodes.filter((n) => n.stage > 0).map((n) => n.upgrade.step), ['pending', 'pending'], 'no node of stage 1 started');
  await assert.rejects(svc.approve(cluster, started.id, 9), /has no stage 9/);
  // Its nodes are not free for another rollout until it ends, and the refusal names the node and the rollout.
  const listed = (await svc.list(cluster)).length;
  await assert.rejects(
    svc.start({ id: cluster, name: 'overlap', targets: { nodes: [nodes[2]!] }, driverVersion: TARGET_C, executor: { kind: 'gpu-operator' } }),
    (err: Error) => err.message.includes(`${nodes[2]} (in ${started.id}, waiting-approval)`) && /has not finished/.test(err.message),
  );
  assert.equal((await svc.list(cluster)).length, listed, 'the refused rollout was not recorded');
  // A second console approves; the driving one acts on it.
  await service('approver').approve(cluster, started.id, 1);
  await waitFor('stage 1 to run', async () => (await svc.status(cluster, started.id)).nodes.some((n) => n.stage === 1 && n.upgrade.step !== 'pending'));
  await svc.pause(cluster, started.id);
  s = await finished(started.id);
  assert.equal(s.phase, 'paused', s.reason);
  assert.ok(s.nodes.every((n) => n.upgrade.step === 'done' || n.upgrade.step === 'pending'), 'paused between nodes, none half-way');
  assert.ok(!(await svc.status(cluster, started.id)).holder?.fresh, 'the lease was given back at the pause');
  await svc.resume(cluster, started.id);
  // The last stage needs its own approval: resuming does not skip it.
  await waitFor('stage 2 to wait for approval', async () => (await svc.status(cluster, started.id)).phase === 'waiting-approval');
  assert.ok((await svc.status(cluster, started.id)).nodes.filter((n) => n.stage === 2).every((n) => n.upgrade.step === 'pending'));
  await svc.approve(cluster, started.id, 2);
  const final = await finished(started.id);
  assert.equal(final.phase, 'succeeded', final.reason);
  assert.ok(final.nodes.every((n) => n.upgrade.drains === 1));
  const decisions = (await core.audit!.query({ action: 'rollout', limit: 1000 } as never)).entries.map((e) => e.action);
  for (const a of ['rollout.approve', 'rollout.pause', 'rollout.resume']) assert.ok(decisions.includes(a), `audit has ${a}`);
});

test('abort stops after the node in flight; rollback on demand then returns the upgraded nodes', async () => {
  const nodes = take(3);
  const versions = await Promise.all(nodes.map(versionOf));
  const started = await svc.start({ id: cluster, name: 'abort', targets: { nodes }, driverVersion: TARGET_C, executor: { kind: 'gpu-operator' }, canary: 1, stages: [{ count: 1 }] });
  await waitFor('stage 1 to start', async () => (await svc.status(cluster, started.id)).nodes.some((n) => n.stage === 1 && n.upgrade.step !== 'pending'));
  await svc.abort(cluster, started.id);
  let s = await finished(started.id);
  assert.equal(s.phase, 'aborted');
  assert.ok(s.nodes.filter((n) => n.stage === 2).every((n) => n.upgrade.step === 'pending'), 'stage 2 never started');
  await assert.rejects(svc.resume(cluster, started.id), /it is aborted/);
  await svc.rollback(cluster, started.id);
  s = await finished(started.id);
  assert.equal(s.phase, 'rolled-back', s.reason);
  for (const [i, n] of nodes.entries()) {
    assert.equal(await versionOf(n), versions[i]);
    assert.ok(!(await nodeObj(n)).spec?.unschedulable);
  }
});

test('NVIDIADriver pools: the pool\'s own NVIDIADriver gets the version, its nodes walk to it, the ClusterPolicy stays as it was; rollback on demand goes the same way', async () => {
  // Two nodes on one version, put in a pool of their own that an NVIDIADriver selects. Nodes the operator already
  // holds out of an upgrade (upgrade-required) are taken first, so the ones later tests need stay as they are.
  const cp = (await admin.get<{ items: { metadata: { name: string }; spec: { driver: { version: string } } }[] }>('/apis/nvidia.com/v1/clusterpolicies')).items[0]!;
  const groups = new Map<string, { held: string[]; all: string[] }>();
  for (const n of pool) {
    const o = await nodeObj(n);
    const g = groups.get(o.metadata.labels['nvidia.com/cuda.driver-version.full'] ?? '') ?? { held: [], all: [] };
    groups.set(o.metadata.labels['nvidia.com/cuda.driver-version.full'] ?? '', g);
    g.all.push(n);
    if (o.metadata.labels['nvidia.com/gpu-driver-upgrade-state'] === 'upgrade-required') g.held.push(n);
  }
  const pick = [...groups].find(([, g]) => g.held.length >= 2) ?? [...groups].find(([, g]) => g.all.length >= 2)!;
  const from = pick[0];
  const nodes = (pick[1].held.length >= 2 ? pick[1].held : pick[1].all).slice(-2);
  const cr = `pool-${Date.now().toString(36).slice(-5)}`;
  const POOL = 'tessera.dev/test-driver-pool';
  await admin.create('/apis/nvidia.com/v1alpha1/nvidiadrivers', {
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'NVIDIADriver',
    metadata: { name: cr },
    spec: { driverType: 'gpu', repository: 'nvcr.io/nvidia', image: 'driver', version: from, nodeSelector: { [POOL]: cr }, upgradePolicy: { autoUpgrade: true, maxParallelUpgrades: 0, podDeletion: { force: true, timeoutSeconds: 60 } } },
  });
  const skipBefore = await Promise.all(nodes.map(async (n) => (await nodeObj(n)).metadata.labels['nvidia.com/gpu-driver-upgrade.skip'] ?? null));
  for (const n of nodes) await admin.patch(`/api/v1/nodes/${n}`, { metadata: { labels: { [POOL]: cr } } });
  try {
    await waitFor('the operator to label the pool\'s nodes with their owner', async () => (await Promise.all(nodes.map(nodeObj))).every((o) => o.metadata.labels['nvidia.com/gpu-operator.driver.owner'] === cr));

    const plan = await svc.plan({ id: cluster, targets: { selector: `${POOL}=${cr}` }, driverVersion: TARGET_C, executor: { kind: 'gpu-operator' }, canary: 1 });
    assert.deepEqual(plan.nodes.map((n) => [n.name, n.driverOwner]).sort(), nodes.map((n) => [n, cr]).sort(), 'the plan names each node\'s NVIDIADriver');
    const started = await svc.start({ id: cluster, name: 'nvidiadriver', targets: { selector: `${POOL}=${cr}` }, driverVersion: TARGET_C, executor: { kind: 'gpu-operator' }, canary: 1, leaseSeconds: 10 });
    const done = await finished(started.id);
    assert.equal(done.phase, 'succeeded', done.reason);
    for (const n of nodes) assert.equal(await versionOf(n), TARGET_C, `${n} runs the new driver`);
    const after = await admin.get<{ spec: { version: string } }>(`/apis/nvidia.com/v1alpha1/nvidiadrivers/${cr}`);
    assert.equal(after.spec.version, TARGET_C, 'the version was set on the pool\'s NVIDIADriver');
    const cpAfter = await admin.get<{ spec: { driver: { version: string } } }>(`/apis/nvidia.com/v1/clusterpolicies/${cp.metadata.name}`);
    assert.equal(cpAfter.spec.driver.version, cp.spec.driver.version, 'the ClusterPolicy was not touched');
    const stored = await svc.status(cluster, started.id);
    const logs = stored.nodes.flatMap((n) => n.upgrade.log);
    assert.ok(logs.some((l) => l.includes(`NVIDIADriver/${cr}: driver version ${from} -> ${TARGET_C}`)), `the log names the object that carried the version:\n${logs.join('\n')}`);
    // Nodes outside the pool that the ClusterPolicy drives were never held back or moved.
    for (const n of pool.filter((x) => !nodes.includes(x)).slice(0, 3)) assert.notEqual((await nodeObj(n)).metadata.labels['nvidia.com/gpu-operator.driver.owner'], cr);

    await svc.rollback(cluster, started.id);
    const back = await finished(started.id);
    assert.equal(back.phase, 'rolled-back', back.reason);
    for (const n of nodes) assert.equal(await versionOf(n), from, `${n} is back on ${from}`);
    assert.equal((await admin.get<{ spec: { version: string } }>(`/apis/nvidia.com/v1alpha1/nvidiadrivers/${cr}`)).spec.version, from, 'through the same NVIDIADriver');
  } finally {
    // Back to the ClusterPolicy, settled, so later tests on this test bed find the nodes as the operator left them.
    await admin.request('DELETE', `/apis/nvidia.com/v1alpha1/nvidiadrivers/${cr}`).catch(() => undefined);
    for (const [i, n] of nodes.entries()) await admin.patch(`/api/v1/nodes/${n}`, { metadata: { labels: { [POOL]: null, 'nvidia.com/gpu-driver-upgrade.skip': skipBefore[i] } } });
    // An unheld node walks to the policy's version; a held one (skip label) rests in upgrade-required, as under the real operator.
    const settled = (o: Awaited<ReturnType<typeof nodeObj>>) => {
      const state = o.metadata.labels['nvidia.com/gpu-driver-upgrade-state'] ?? '';
      const ok = o.metadata.labels['nvidia.com/gpu-driver-upgrade.skip'] === 'true' ? ['', 'upgrade-done', 'upgrade-required'] : ['', 'upgrade-done'];
      return !o.spec?.unschedulable && !o.metadata.labels['nvidia.com/gpu-operator.driver.owner'] && ok.includes(state);
    };
    await waitFor('the pool\'s nodes to settle under the ClusterPolicy', async () => (await Promise.all(nodes.map(nodeObj))).every(settled));
  }
});
