import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MetricsSnapshot } from '../../shared/model/metrics.ts';
import type { NodeRow, NodesDelta } from '../../shared/model/node.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { MetricsService } from '../../electron/core/metrics/metrics-service.ts';
import { NodeService } from '../../electron/core/nodes/node-service.ts';
import { churnPods, createGpuPods, fleetTruth, injectFault, sharedTestbed, testbedClient, type FleetTruth, type TestbedInfo } from '../testbed/index.ts';
import { eventually } from '../support/testbed-info.ts';

let info: TestbedInfo;
let clusters: ClusterService;
let nodes: NodeService;
let id: string;
const rows = new Map<string, NodeRow>();
let status: NodesDelta['status'] = 'syncing';
let off: () => void;

before(async () => {
  info = await sharedTestbed();
  clusters = new ClusterService({ clock: systemClock, kubeconfigFiles: [info.kubeconfigs.admin] });
  await clusters.load();
  id = clusters.list()[0]!.id;
  await clusters.connect(id);
  nodes = new NodeService(clusters, systemClock);
  off = nodes.watch(id, (d) => {
    if (d.reset) {
      rows.clear();
      for (const r of d.reset) rows.set(r.name, r);
    }
    for (const r of d.upsert) rows.set(r.name, r);
    for (const n of d.remove) rows.delete(n);
    status = d.status;
  });
  await eventually('inventory live', () => status === 'live' && rows.size > 0, 60_000);
});

after(() => {
  off?.();
  nodes?.stopAll();
  clusters?.disconnectAll();
});

const holderKey = (h: { namespace: string; pod?: string; name?: string }) => `${h.namespace}/${h.pod ?? h.name}`;

/** Differences between the derived model and the simulator's truth, as readable lines (empty when they agree). */
function compare(truth: FleetTruth): string[] {
  const diffs: string[] = [];
  for (const [name, t] of Object.entries(truth.nodes)) {
    const r = rows.get(name);
    if (!r?.gpu) {
      diffs.push(`${name}: missing or without GPUs in the model`);
      continue;
    }
    if (r.gpu.migInvalid) continue;
    if (r.gpu.count !== t.gpus.length) diffs.push(`${name}: ${r.gpu.count} GPUs, truth ${t.gpus.length}`);
    const profiles = (list: string[]) => list.sort().join(',');
    const modelMig = r.gpu.devices.flatMap((d) => d.slots.map((s) => s.profile));
    const truthMig = t.gpus.flatMap((g) => g.migDevices.map((m) => m.profile));
    if (profiles(modelMig) !== profiles(truthMig)) diffs.push(`${name}: MIG instances ${profiles(modelMig)} vs truth ${profiles(truthMig)}`);
    const held = (keys: string[]) => keys.sort().join(',');
    const modelHolders = r.gpu.devices.flatMap((d) => [...(d.holder ? [holderKey(d.holder)] : []), ...d.slots.filter((s) => s.holder).map((s) => holderKey(s.holder!))]);
    const truthHolders = t.gpus.flatMap((g) => [...(g.holder ? [holderKey(g.holder)] : []), ...g.migDevices.filter((m) => m.holder).map((m) => holderKey(m.holder!))]);
    if (held(modelHolders) !== held(truthHolders)) diffs.push(`${name}: holders [${held(modelHolders)}] vs truth [${held(truthHolders)}]`);
  }
  return diffs;
}

async function agrees(what: string, timeoutMs = 60_000): Promise<void> {
  let last: string[] = [];
  try {
    await eventually(what, () => {
      const truth = fleetTruth(info.stateDir);
      if (!truth || status !== 'live') return false;
      last = compare(truth);
      return last.length === 0;
    }, timeoutMs, 500);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  ${last.slice(0, 8).join('\n  ')}`);
  }
}

test('the derived model matches the fleet: GPUs per node, MIG instances per profile, and which pods hold devices', async () => {
  const truth = await eventually('fleet truth written', () => fleetTruth(info.stateDir), 30_000);
  assert.ok(Object.keys(truth.nodes).length > 0);
  const models = new Set([...rows.values()].map((r) => r.gpu?.model).filter(Boolean));
  for (const m of ['NVIDIA-A100-SXM4-40GB', 'NVIDIA-A100-SXM4-80GB', 'NVIDIA-H100-80GB-HBM3', 'NVIDIA-A30', 'NVIDIA-L40S']) assert.ok(models.has(m), `the fleet has ${m}`);
  await agrees('model equals truth');
  const held = [...rows.values()].reduce((n, r) => n + (r.gpu?.allocated ?? 0), 0);
  assert.ok(held > 0, 'the seeded workloads hold devices');
});

test('it stays right through pod churn', async () => {
  const made = await createGpuPods(info, { count: 30, namespaces: ['churn-a', 'churn-b'] });
  assert.ok(made.created > 0, JSON.stringify(made));
  await agrees('model equals truth with new GPU pods', 90_000);
  const result = await churnPods(info, 20, { namespaces: ['churn-a', 'churn-b'] });
  assert.ok(result.created > 0 && result.deleted > 0, JSON.stringify(result));
  await agrees('model equals truth after churn', 90_000);
});

test('it stays right through relabelling and node deletion', async () => {
  const kube = testbedClient(info);
  const target = [...rows.values()].find((r) => r.gpu && !r.gpu.migInvalid && r.ready === 'True')!;
  await kube.patch(`/api/v1/nodes/${target.name}`, { metadata: { labels: { 'tessera.dev/pool': 'relabelled-pool' } } });
  await eventually('relabel seen', () => rows.get(target.name)?.pool === 'relabelled-pool', 30_000);
  const victim = [...rows.values()].find((r) => r.gpu && r.name !== target.name && !r.gpu.migInvalid)!.name;
  await injectFault(info.stateDir, 'node-delete', [victim]);
  await eventually('deleted node removed', () => !rows.has(victim), 30_000);
  await injectFault(info.stateDir, 'node-ready', [victim]);
  await eventually('node back', () => rows.get(victim)?.gpu !== undefined, 60_000);
});

test('it stays right through an API server restart', async () => {
  await injectFault(info.stateDir, 'apiserver-restart');
  await eventually('live again', () => status === 'live', 90_000);
  await churnPods(info, 10, { namespaces: ['churn-a', 'churn-b'] });
  await agrees('model equals truth after restart', 90_000);
});

test('metrics arrive through the API server proxy, attributed to pods, and an XID marks the GPU as erroring', async () => {
  const metrics = new MetricsService(clusters, systemClock, { intervalMs: 1000 });
  let snap: MetricsSnapshot | undefined;
  const stop = metrics.watch(id, (s) => (snap = s));
  try {
    await eventually('metrics live', () => snap?.status === 'live' && Object.keys(snap.nodes).length > 0, 60_000);
    const truth = fleetTruth(info.stateDir)!;
    const gpuNodes = Object.keys(truth.nodes);
    await eventually('every GPU node reports', () => gpuNodes.every((n) => snap!.nodes[n] || snap!.failures.some((f) => f.node === n)), 60_000);
    const heldWhole = Object.entries(truth.nodes).flatMap(([n, t]) => t.gpus.filter((g) => g.holder).map((g) => ({ node: n, gpu: g })));
    assert.ok(heldWhole.length > 0);
    const sample = heldWhole[0]!;
    const gm = snap!.nodes[sample.node]!.gpus.find((g) => g.index === sample.gpu.index);
    assert.equal(gm?.pod, sample.gpu.holder!.pod, 'dcgm-exporter attributes the GPU to the pod holding it');
    assert.ok((gm?.utilPct ?? -1) >= 0);
    const node = sample.node;
    await injectFault(info.stateDir, 'gpu-xid', [node, String(sample.gpu.index), '79']);
    await eventually('XID seen', () => snap!.nodes[node]?.gpus.find((g) => g.index === sample.gpu.index)?.erroring === true, 30_000);
    assert.equal(snap!.nodes[node]!.gpus.find((g) => g.index === sample.gpu.index)!.xid, 79);
    await injectFault(info.stateDir, 'gpu-clear', [node]);
  } finally {
    stop();
  }
});
