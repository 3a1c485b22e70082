// Rollout state at fleet scale, on the real API server: a 2000-node rollout is
// stored as a head plus node shards, a step on one node writes the head and one
// shard, another console's decision on the head is kept when the driver writes
// next, and a damaged layout is reported by name.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { RolloutApi } from '../../electron/core/rollouts/rollout-api.ts';
import { mergeLogs, readLogs, RolloutLogs } from '../../electron/core/rollouts/rollout-logs.ts';
import { objectName, ROLLOUT_NAMESPACE } from '../../electron/core/rollouts/rollout-names.ts';
import { SHARD_NODES } from '../../electron/core/rollouts/rollout-shards.ts';
import { RolloutService } from '../../electron/core/rollouts/rollout-service.ts';
import { createRollout, listRollouts, MAX_NODE_HISTORY, readRollout, RolloutStore } from '../../electron/core/rollouts/rollout-store.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';
import { eventually } from '../support/testbed-info.ts';
import { fleetState } from '../support/rollout-state.ts';
import { sharedTestbed, testbedClient, type Kube } from '../testbed/index.ts';

const N = 2000;
const CM = `/api/v1/namespaces/${ROLLOUT_NAMESPACE}/configmaps`;
const id = `scale-${Date.now().toString(36).slice(-6)}`;
let core: Core;
let cluster: string;
let admin: Kube;
let api: RolloutApi;
let dataDir: string;

type Cm = { metadata: { name: string }; data?: Record<string, string> };
const objects = async () => (await admin.get<{ items: Cm[] }>(`${CM}?labelSelector=${encodeURIComponent(`tessera.dev/rollout=${id}`)}`)).items;

before(async () => {
  const info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rollout-store-'));
  core = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
  cluster = core.clusters.list()[0]!.id;
  await core.clusters.connect(cluster);
  const conn = core.clusters.connection(cluster);
  api = new RolloutApi(() => conn.kubeConfig());
});

after(async () => {
  for (const o of await objects().catch(() => [])) await admin.request('DELETE', `${CM}/${o.metadata.name}`).catch(() => undefined);
  await core?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test(`a ${N}-node rollout is stored as a head and node shards, each well below 1 MiB, and reads back whole`, async () => {
  const state = fleetState(N, id);
  assert.ok(JSON.stringify(state).length > 1024 * 1024, 'in one object it would exceed the ConfigMap limit');
  await createRollout(api, state);
  const objs = await objects();
  assert.equal(objs.length, 2 + N / SHARD_NODES, 'the head, the plan lists and the node shards');
  const largest = Math.max(...objs.map((o) => JSON.stringify(o.data).length));
  assert.ok(largest < 512 * 1024, `largest object ${largest} bytes`);
  // The head is rewritten at every step: it names no node, so it stays small at any fleet size.
  const head = JSON.stringify(objs.find((o) => o.metadata.name === objectName(id))!.data).length;
  assert.ok(head < 24 * 1024, `head ${head} bytes`);
  const { state: back } = await readRollout(api, id);
  assert.equal(back.nodes.length, N);
  assert.deepEqual(back.nodes.map((n) => n.name), state.nodes.map((n) => n.name), 'node order is kept across shards');
  assert.deepEqual(back.plan.nodes[N - 1], state.plan.nodes[N - 1]);
  assert.deepEqual(back.nodes[777]!.upgrade.gates, state.nodes[777]!.upgrade.gates);
  const listed = (await listRollouts(api)).find((r) => r.state.id === id)!;
  assert.deepEqual(listed.counts, { total: N, done: N - Math.ceil(N / 7), failed: Math.ceil(N / 7), rolledBack: Math.ceil(N / 7) });
  assert.deepEqual(listed.state.nodes, [], 'a list reads heads only');
});

test('a step on one node writes the head and its shard; another console\'s decision on the head survives the next write', async () => {
  const driver = await RolloutStore.open(api, id);
  const other = await RolloutStore.open(api, id);
  const before = api.requests;
  await driver.update((s) => {
    s.nodes[1234]!.upgrade.step = 'draining';
    s.history.push({ at: new Date().toISOString(), kind: 'node', node: s.nodes[1234]!.name, message: 'draining' });
  });
  assert.equal(api.requests - before, 2, 'one PUT of the head, one of the shard that holds node 1234');
  await other.update((s) => (s.control.pause = true));
  const mid = api.requests;
  await driver.update((s) => (s.nodes[5]!.upgrade.step = 'cordoning'));
  // The head conflicted (the other console's pause): re-read, applied again, written; then shard 0.
  assert.equal(api.requests - mid, 4);
  const { state } = await readRollout(api, id);
  assert.equal(state.control.pause, true, 'the pause another console wrote is kept');
  assert.equal(state.nodes[1234]!.upgrade.step, 'draining');
  assert.equal(state.nodes[5]!.upgrade.step, 'cordoning');
  assert.equal(state.history.filter((h) => h.kind === 'node').length, MAX_NODE_HISTORY, 'node steps in the history stay capped');
  assert.equal(state.history.at(-1)!.message, 'draining');
});

test('node logs are sharded like the nodes: each shard written when it changed, all merged on read', async () => {
  const { state } = await readRollout(api, id);
  const logs = new RolloutLogs(api, id, state.nodes.map((n) => n.name), { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) }, 60_000);
  const long = 'x'.repeat(1000);
  for (const i of [0, 1, 1999]) for (let l = 0; l < 40; l++) logs.append(state.nodes[i]!.name, 'upgrade', `${i} line ${l} ${long}`);
  await logs.close();
  const names = (await objects()).map((o) => o.metadata.name).filter((n) => n.includes('-logs-')).sort();
  assert.deepEqual(names, [`${objectName(id)}-logs-0`, `${objectName(id)}-logs-${N / SHARD_NODES - 1}`]);
  const merged = mergeLogs(structuredClone(state), (await readLogs(api, id)).logs);
  assert.equal(merged.nodes[1999]!.upgrade.log.length, 16, 'the last 16 lines per node are kept');
  assert.match(merged.nodes[1999]!.upgrade.log.at(-1)!, /^1999 line 39 x+…$/);
  assert.ok(merged.nodes[1999]!.upgrade.log.at(-1)!.length <= 240);
  assert.deepEqual(merged.nodes[2]!.upgrade.log, []);
});

test('a watch of a rollout nobody drives reads it whole once, then only its head\'s version and the lease until it changes', async () => {
  const conn = core.clusters.connection(cluster);
  const svc = new RolloutService({ clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) }, cluster: () => ({ kubeConfig: () => conn.kubeConfig(), canI: (r) => conn.canI(r), userName: conn.rc.userName }) });
  const seen: RolloutState[] = [];
  const stop = svc.watch(cluster, id, (s) => seen.push(s), 100);
  try {
    await eventually('the first full read', async () => seen.length === 1);
    assert.equal(seen[0]!.nodes.length, N);
    const before = svc.api(cluster).requests;
    await new Promise((r) => setTimeout(r, 1500));
    const quiet = svc.api(cluster).requests - before;
    assert.equal(seen.length, 1, 'nothing changed, nothing emitted');
    assert.ok(quiet > 0 && quiet % 2 === 0 && quiet <= 2 * 16, `two small reads a tick while nothing changes (${quiet} requests in 1.5 s)`);
    // Another console's decision moves the head: the next tick reads the rollout again and emits it.
    const other = await RolloutStore.open(api, id);
    await other.update((s) => (s.control.approvedStages = [2]));
    await eventually('the change to be seen', async () => seen.length === 2, 5000, 100);
    assert.deepEqual(seen[1]!.control.approvedStages, [2]);
  } finally {
    stop();
  }
});

test('a rollout whose plan object was deleted by hand is reported, not read as a plan without skipped nodes', async () => {
  const plan = `${CM}/${objectName(id)}-plan`;
  const saved = await admin.get<Cm & { metadata: { labels: Record<string, string> } }>(plan);
  await admin.request('DELETE', plan);
  try {
    await assert.rejects(readRollout(api, id), (err: TesseraError) => err.code === 'API_ERROR' && /missing its plan.*changed or deleted by hand/.test(err.message));
  } finally {
    await admin.request('POST', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: saved.metadata.name, labels: saved.metadata.labels }, data: saved.data });
  }
  assert.equal((await readRollout(api, id)).state.nodes.length, N);
});

test('a rollout whose shard was deleted by hand is reported by name, not read as fewer nodes', async () => {
  await admin.request('DELETE', `${CM}/${objectName(id)}-nodes-3`);
  await assert.rejects(readRollout(api, id), (err: TesseraError) => err.code === 'API_ERROR' && /missing node shard\(s\) 3.*changed or deleted by hand/.test(err.message));
});
