// MIG layouts applied through the GPU Operator's MIG manager on the real test
// bed: a custom config saved into Tessera's own ConfigMap (the operator's
// default one untouched), the ClusterPolicy pointed at it only when agreed,
// state followed to success with allocatable updated, a failed apply with a
// return to the previous config, a refusal because GPU pods run, a drain, the
// parallelism limit and RBAC.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import type { MigApplyJob } from '../../shared/model/mig.ts';
import { injectFault, sharedTestbed, testbedClient, testbedFleet, type Kube, type TestbedInfo } from '../testbed/index.ts';

let info: TestbedInfo;
let core: Core;
let admin: Kube;
let id: string;
let dataDir: string;
const CUSTOM = 'tessera-test-3g-2g-1g';
let originalPolicyConfig: string | undefined;
const originalLabels = new Map<string, string | undefined>();

interface RawNode {
  metadata: { labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string> };
}

const node = (name: string) => admin.get<RawNode>(`/api/v1/nodes/${name}`);

async function gpuPods(name: string): Promise<number> {
  const list = await admin.get<{ items: { spec: { containers: { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[] } }[] }>('/api/v1/pods', {
    fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed`,
  });
  return list.items.filter((p) => p.spec.containers.some((c) => Object.keys({ ...c.resources?.limits, ...c.resources?.requests }).some((k) => k.startsWith('nvidia.com/')))).length;
}

/** The GPU pods on a node, by uid: a StatefulSet's replacement keeps the evicted pod's name. */
async function gpuPodIds(name: string): Promise<string[]> {
  const list = await admin.get<{ items: { metadata: { namespace: string; name: string; uid: string }; spec: { containers: { resources?: { limits?: Record<string, string> } }[] } }[] }>('/api/v1/pods', {
    fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed`,
  });
  return list.items.filter((p) => p.spec.containers.some((c) => Object.keys(c.resources?.limits ?? {}).some((k) => k.startsWith('nvidia.com/'))))
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}/${p.metadata.uid}`);
}

/** MIG nodes of one model and strategy, split by whether GPU pods run on them. */
async function migNodes(model: 'a100_80' | 'h100', strategy: 'single' | 'mixed'): Promise<{ free: string[]; busy: string[] }> {
  const names = testbedFleet(info).filter((s) => s.gpu?.model === model && s.gpu.mig?.strategy === strategy).map((s) => s.name);
  const free: string[] = [];
  const busy: string[] = [];
  for (const n of names) ((await gpuPods(n)) ? busy : free).push(n);
  return { free, busy };
}

async function finished(applyId: string): Promise<MigApplyJob> {
  return core.mig.wait(applyId);
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-mig-'));
  core = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
  id = core.clusters.list()[0]!.id;
  await core.clusters.connect(id);
  const policy = await admin.get<{ items: { spec?: { migManager?: { config?: { name?: string } } } }[] }>('/apis/nvidia.com/v1/clusterpolicies');
  originalPolicyConfig = policy.items[0]?.spec?.migManager?.config?.name;
  // A run stopped half-way may have left the policy on our ConfigMap.
  await admin.patch('/apis/nvidia.com/v1/clusterpolicies/cluster-policy', { spec: { migManager: { config: { name: 'default-mig-parted-config' } } } });
  originalPolicyConfig = 'default-mig-parted-config';
  for (const s of testbedFleet(info).filter((x) => x.gpu?.mig)) originalLabels.set(s.name, (await node(s.name)).metadata.labels?.['nvidia.com/mig.config']);
});

after(async () => {
  // Leave the shared test bed as we found it: the policy pointer, then every node's config.
  // GPU pods may have come back onto changed nodes, so the way back drains them too.
  try {
    if (originalPolicyConfig) await admin.patch('/apis/nvidia.com/v1/clusterpolicies/cluster-policy', { spec: { migManager: { config: { name: originalPolicyConfig } } } });
    const back = new Map<string, string[]>();
    for (const [name, cfg] of originalLabels) {
      const now = (await node(name)).metadata.labels ?? {};
      if (cfg && now['nvidia.com/mig.config'] !== cfg) back.set(cfg, [...(back.get(cfg) ?? []), name]);
    }
    for (const [config, nodes] of back) {
      const job = await core.mig.wait((await core.mig.apply({ id, nodes, config, maxParallel: 4, drain: true, pointPolicy: false, timeoutS: 120 })).applyId);
      if (job.state !== 'succeeded') console.error(`restoring ${config} on ${nodes.join(', ')}: ${JSON.stringify(job.nodes.map((n) => [n.node, n.step, n.message]))}`);
    }
  } finally {
    await core?.dispose();
    admin?.close();
  }
});

test('configs come from the ConfigMap the ClusterPolicy names', async () => {
  const set = await core.mig.configs(id);
  assert.equal(set.active.name, 'default-mig-parted-config');
  assert.equal(set.own.name, 'tessera-mig-parted-config');
  for (const name of ['all-disabled', 'all-1g.10gb', 'all-balanced']) assert.ok(set.configs[name], `${name} is offered`);
  assert.deepEqual(set.problems, []);
});

test('a custom layout is saved into our ConfigMap; applying it needs consent to repoint the ClusterPolicy, then reaches success', async () => {
  const defaultBefore = await admin.get<{ data: Record<string, string> }>('/api/v1/namespaces/gpu-operator/configmaps/default-mig-parted-config');
  const set = await core.mig.saveConfig(id, CUSTOM, [{ devices: 'all', enabled: true, counts: { '3g.40gb': 1, '2g.20gb': 1, '1g.10gb': 1 } }]);
  assert.ok(set.custom.includes(CUSTOM));
  const { free, busy } = await migNodes('h100', 'mixed');
  const target = [...busy, ...free][0]!;
  assert.ok(target, 'an H100 node with the mixed strategy');
  const podsBefore = await gpuPods(target);
  const idsBefore = await gpuPodIds(target);

  const check = await core.mig.check(id, [target], CUSTOM);
  assert.equal(check.needsPolicyChange, true);
  assert.equal(check.nodes[0]!.pods.length, podsBefore);
  await assert.rejects(core.mig.apply({ id, nodes: [target], config: CUSTOM, maxParallel: 1, drain: true, pointPolicy: false }), /point the ClusterPolicy/);
  assert.equal((await node(target)).metadata.labels?.['nvidia.com/mig.config'], originalLabels.get(target), 'a refused apply changes nothing');

  // Drain first: the node's GPU pods are evicted, the node cordoned meanwhile and uncordoned after.
  const job = await finished((await core.mig.apply({ id, nodes: [target], config: CUSTOM, maxParallel: 1, drain: true, pointPolicy: true, timeoutS: 90 })).applyId);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.nodes));
  const idsAfter = await gpuPodIds(target);
  assert.ok(idsBefore.every((n) => !idsAfter.includes(n)), `every GPU pod that ran there was evicted (their controllers may start new ones): still there ${idsBefore.filter((n) => idsAfter.includes(n)).join(', ')}`);
  const after = await node(target);
  assert.notEqual(after.spec?.unschedulable, true, 'uncordoned after the drain');
  assert.equal(after.metadata.labels?.['nvidia.com/mig.config'], CUSTOM);
  assert.equal(after.metadata.labels?.['nvidia.com/mig.config.state'], 'success');
  const gpus = Number(after.metadata.labels?.['nvidia.com/gpu.count'] ?? 8);
  const alloc = after.status?.allocatable ?? {};
  assert.equal(alloc['nvidia.com/mig-3g.40gb'], String(gpus));
  assert.equal(alloc['nvidia.com/mig-2g.20gb'], String(gpus));
  assert.equal(alloc['nvidia.com/mig-1g.10gb'], String(gpus));
  const policy = await admin.get<{ items: { spec: { migManager: { config: { name: string } } } }[] }>('/apis/nvidia.com/v1/clusterpolicies');
  assert.equal(policy.items[0]!.spec.migManager.config.name, 'tessera-mig-parted-config');
  const defaultAfter = await admin.get<{ data: Record<string, string> }>('/api/v1/namespaces/gpu-operator/configmaps/default-mig-parted-config');
  assert.deepEqual(defaultAfter.data, defaultBefore.data, "the operator's default ConfigMap is never edited");
  // Our ConfigMap keeps every default config, so the MIG manager loses none by reading it.
  const ours = await core.mig.configs(id);
  assert.equal(ours.active.name, 'tessera-mig-parted-config');
  assert.ok(ours.configs['all-balanced'] && ours.configs[CUSTOM]);
  const audit = await core.audit!.query({ limit: 50 });
  assert.ok(audit.entries.some((e) => e.action === 'mig.apply.node' && e.outcome === 'succeeded' && e.targets?.[0]?.name === target));
  assert.ok(audit.entries.some((e) => e.action === 'mig.policy.point'));
  assert.ok(audit.entries.some((e) => e.action === 'mig.config.save'));
});

test('a failed apply keeps the layout, shows the state, and the node returns to its previous config', async () => {
  const { free } = await migNodes('a100_80', 'single');
  const target = free[free.length - 1]!;
  const before = (await node(target)).metadata.labels?.['nvidia.com/mig.config'];
  await injectFault(info.stateDir, 'mig-fail', [target]);
  try {
    const job = await finished((await core.mig.apply({ id, nodes: [target], config: 'all-3g.40gb', maxParallel: 1, drain: false, pointPolicy: false, timeoutS: 60 })).applyId);
    assert.equal(job.state, 'failed');
    const n = job.nodes[0]!;
    assert.equal(n.step, 'failed');
    assert.match(n.message ?? '', /failed/);
    assert.equal(n.previousConfig, before);
    assert.equal((await node(target)).metadata.labels?.['nvidia.com/mig.config.state'], 'failed');
    await injectFault(info.stateDir, 'mig-clear', [target]);
    const back = await finished((await core.mig.revert(job.applyId)).applyId);
    assert.equal(back.state, 'succeeded', JSON.stringify(back.nodes));
    const labels = (await node(target)).metadata.labels ?? {};
    assert.equal(labels['nvidia.com/mig.config'], before);
    assert.equal(labels['nvidia.com/mig.config.state'], 'success');
  } finally {
    await injectFault(info.stateDir, 'mig-clear', [target]).catch(() => undefined);
  }
});

test('a mixed layout on a node with the single strategy is refused before anything changes', async () => {
  const { free } = await migNodes('a100_80', 'single');
  const check = await core.mig.check(id, [free[0]!], CUSTOM);
  assert.match(check.nodes[0]!.problems.join(' '), /single MIG strategy.*MIG-INVALID/);
  const job = await finished((await core.mig.apply({ id, nodes: [free[0]!], config: CUSTOM, maxParallel: 1, drain: false, pointPolicy: true })).applyId);
  assert.equal(job.nodes[0]!.step, 'refused');
  assert.equal((await node(free[0]!)).metadata.labels?.['nvidia.com/mig.config'], originalLabels.get(free[0]!));
});

test('an apply on a node where GPU pods run is refused with the pods named, and changes nothing', async () => {
  const { busy } = await migNodes('a100_80', 'single');
  assert.ok(busy.length >= 1, 'an A100-80GB node with GPU pods');
  const target = busy[0]!;
  const check = await core.mig.check(id, [target], 'all-1g.10gb');
  assert.ok(check.nodes[0]!.pods.length > 0);
  const job = await finished((await core.mig.apply({ id, nodes: [target], config: 'all-1g.10gb', maxParallel: 1, drain: false, pointPolicy: false })).applyId);
  const n = job.nodes[0]!;
  if (n.step === 'skipped') return; // already at that config: nothing to refuse
  assert.equal(n.step, 'refused');
  assert.ok(n.pods && n.pods.length > 0);
  assert.match(n.message ?? '', new RegExp(n.pods![0]!.name));
  assert.equal((await node(target)).metadata.labels?.['nvidia.com/mig.config'], originalLabels.get(target));
});

test('never more nodes at once than allowed', async () => {
  const { free, busy } = await migNodes('a100_80', 'single');
  const targets = [...free, ...busy].slice(0, 3);
  assert.ok(targets.length >= 2, 'at least two A100 MIG nodes');
  let maxActive = 0;
  const job0 = await core.mig.apply({ id, nodes: targets, config: 'all-2g.20gb', maxParallel: 1, drain: true, pointPolicy: false, timeoutS: 90 });
  const off = core.mig.watch(id, (jobs) => {
    const j = jobs.find((x) => x.applyId === job0.applyId);
    const active = j?.nodes.filter((n) => ['draining', 'labelled', 'pending', 'rebooting', 'waiting-allocatable'].includes(n.step)).length ?? 0;
    maxActive = Math.max(maxActive, active);
  });
  const job = await finished(job0.applyId);
  off();
  assert.equal(job.state, 'succeeded', JSON.stringify(job.nodes));
  assert.equal(maxActive, 1);
});

test('a viewer is refused before anything changes, with the missing permission named', async () => {
  const viewerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-mig-viewer-'));
  const viewer = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.viewer], dataDir: viewerDir });
  try {
    const vid = viewer.clusters.list()[0]!.id;
    await viewer.clusters.connect(vid);
    const { free } = await migNodes('a100_80', 'single');
    await assert.rejects(viewer.mig.apply({ id: vid, nodes: [free[0]!], config: 'all-1g.10gb', maxParallel: 1, drain: false, pointPolicy: false }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'FORBIDDEN');
      assert.match(err.message, /patch nodes/);
      return true;
    });
  } finally {
    viewer.dispose();
  }
});
