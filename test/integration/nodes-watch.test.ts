import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NodeRow, NodesDelta } from '../../shared/model/node.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { NodeService } from '../../electron/core/nodes/node-service.ts';
import { injectFault, sharedTestbed, testbedClient, type TestbedInfo } from '../testbed/index.ts';
import { eventually } from '../support/testbed-info.ts';

let info: TestbedInfo;
let clusters: ClusterService;
let nodes: NodeService;
const ID = 'cli/' as string;
let clusterId: string;

/** Applies deltas the way the renderer store does, and records stream statuses. */
function follower() {
  const rows = new Map<string, NodeRow>();
  const statuses: NodesDelta['status'][] = [];
  let deltas = 0;
  return {
    rows,
    statuses,
    get deltas() {
      return deltas;
    },
    apply(d: NodesDelta) {
      deltas++;
      if (d.reset) {
        rows.clear();
        for (const r of d.reset) rows.set(r.name, r);
      }
      for (const r of d.upsert) rows.set(r.name, r);
      for (const n of d.remove) rows.delete(n);
      if (statuses.at(-1) !== d.status) statuses.push(d.status);
    },
  };
}

before(async () => {
  info = await sharedTestbed();
  clusters = new ClusterService({ clock: systemClock, kubeconfigFiles: [info.kubeconfigs.admin] });
  await clusters.load();
  clusterId = clusters.list()[0]!.id;
  assert.ok(clusterId.startsWith(ID));
  await clusters.connect(clusterId);
  nodes = new NodeService(clusters, systemClock);
});

after(() => {
  nodes?.stopAll();
  clusters?.disconnectAll();
});

test('one listing shows GPU nodes with model, count, driver and readiness from both label generations', async () => {
  const rows = await nodes.list(clusterId);
  assert.equal(rows.length, info.nodes);
  const gpu = rows.filter((r) => r.gpu);
  assert.ok(gpu.length > 0 && gpu.length < rows.length, 'a mix of GPU and CPU-only nodes');
  assert.ok(gpu.every((r) => r.gpu!.model !== 'unknown' && r.gpu!.driverVersion), 'every GPU node has a model and a driver version');
  const generations = new Set(gpu.map((r) => r.gpu!.labelGeneration));
  assert.ok(generations.has('deprecated') || generations.has('both'), `label generations seen: ${[...generations]}`);
  assert.ok(rows.some((r) => r.gpu?.migInvalid), 'the fleet has a MIG-INVALID node');
  assert.ok(new Set(gpu.map((r) => r.gpu!.driverVersion)).size > 1, 'several driver versions');
});

test('the watch delivers a reset, then live allocation changes as GPU pods come and go', async () => {
  const f = follower();
  const off = nodes.watch(clusterId, (d) => f.apply(d));
  try {
    await eventually('initial reset', () => f.rows.size === info.nodes && f.statuses.at(-1) === 'live');
    const kube = testbedClient(info);
    const pod = `alloc-${Date.now()}`;
    await kube.create('/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod },
      spec: { containers: [{ name: 'c', image: 'registry.local/cuda:12', resources: { limits: { 'nvidia.com/gpu': '2' } } }] },
    });
    const nodeName = await eventually('pod scheduled', async () => (await kube.get(`/api/v1/namespaces/default/pods/${pod}`)).spec?.nodeName as string | undefined);
    const before = (await nodes.list(clusterId)).find((r) => r.name === nodeName)!.gpu!.allocated;
    assert.ok(before >= 2);
    await eventually('allocation shown on the watched row', () => f.rows.get(nodeName)?.gpu?.allocated === before);
    await kube.delete(`/api/v1/namespaces/default/pods/${pod}`);
    await eventually('allocation released after deletion', () => f.rows.get(nodeName)?.gpu?.allocated === before - 2);
  } finally {
    off();
  }
});

test('a node going NotReady shows up in the stream', async () => {
  const f = follower();
  const off = nodes.watch(clusterId, (d) => f.apply(d));
  try {
    await eventually('initial reset', () => f.rows.size === info.nodes);
    const target = [...f.rows.values()].find((r) => r.gpu && r.ready === 'True')!.name;
    await injectFault(info.stateDir, 'node-notready', [target]);
    await eventually(`${target} not ready`, () => f.rows.get(target)?.ready !== 'True', 60_000);
    await injectFault(info.stateDir, 'node-ready', [target]);
    await eventually(`${target} ready again`, () => f.rows.get(target)?.ready === 'True', 60_000);
  } finally {
    off();
  }
});

test('the watch survives an API server restart and keeps delivering changes', async () => {
  const f = follower();
  const off = nodes.watch(clusterId, (d) => f.apply(d));
  try {
    await eventually('initial reset', () => f.rows.size === info.nodes && f.statuses.at(-1) === 'live');
    await injectFault(info.stateDir, 'apiserver-restart');
    await eventually('stream reported the interruption', () => f.statuses.includes('reconnecting'), 60_000);
    await eventually('stream live again', () => f.statuses.at(-1) === 'live', 90_000);
    const kube = testbedClient(info);
    const pod = `after-restart-${Date.now()}`;
    await kube.create('/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod },
      spec: { containers: [{ name: 'c', image: 'registry.local/cuda:12', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
    });
    const nodeName = await eventually('pod scheduled', async () => (await kube.get(`/api/v1/namespaces/default/pods/${pod}`)).spec?.nodeName as string | undefined, 60_000);
    const expected = (await nodes.list(clusterId)).find((r) => r.name === nodeName)!.gpu!.allocated;
    await eventually('a change after the restart reached the stream', () => f.rows.get(nodeName)?.gpu?.allocated === expected, 60_000);
    await kube.delete(`/api/v1/namespaces/default/pods/${pod}`);
  } finally {
    off();
  }
});
