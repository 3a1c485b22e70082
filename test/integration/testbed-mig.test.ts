// The test bed's GPU Operator MIG manager against the real API server: the
// ClusterPolicy and its ConfigMap, the nvidia.com/mig.config.state walk with
// paused operands, allocatable/labels/truth after success, and the failures
// (unknown config, the mig-fail fault, GPUs in use) that keep the old layout.
// Run with TESSERA_TESTBED_STATE=/tmp/tb-<you> to use your own test bed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  clusterPolicyPath,
  DEFAULT_MIG_CONFIG,
  fleetTruth,
  GPU_OPERATOR_NAMESPACE,
  injectFault,
  MIG_CONFIG_KEY,
  MIG_CONFIG_LABEL,
  MIG_PAUSED,
  MIG_STATE_LABEL,
  sharedTestbed,
  testbedClient,
  testbedFleet,
  type Kube,
  type NodeSpec,
  type NodeTruth,
  type TestbedInfo,
} from '../testbed/index.ts';
import { eventually as waitFor } from '../support/testbed-info.ts';

let info: TestbedInfo;
let admin: Kube;
let node: NodeSpec;
let gpus: number;
const suffix = Date.now().toString(36);
const ns = `tb-mig-${suffix}`;
const customCm = `tessera-mig-${suffix}`;
/** Every value nvidia.com/mig.config.state and gpu.deploy.device-plugin took on the node, in order. */
const seen: Array<{ state?: string; devicePlugin?: string }> = [];
let watch: ReturnType<Kube['watch']> | undefined;


const nodeTruth = (): NodeTruth => {
  const t = fleetTruth(info.stateDir)?.nodes[node.name];
  assert.ok(t, `truth for ${node.name}`);
  return t;
};
const getNode = () => admin.get<any>(`/api/v1/nodes/${node.name}`);
const layoutOf = (t: NodeTruth) => t.gpus.map((g) => `${g.mig}:${g.migDevices.map((d) => `${d.profile}@${d.placement.start}=${d.uuid}`).join(',')}`);

/**
 * Sets the label and waits for the manager's verdict, returning the states seen since.
 * The state must move: a failed → failed change leaves nothing to observe (as on real nodes).
 */
async function applyConfig(config: string, want: 'success' | 'failed') {
  const from = seen.length;
  await admin.patch(`/api/v1/nodes/${node.name}`, { metadata: { labels: { [MIG_CONFIG_LABEL]: config } } });
  await waitFor(`${node.name} ${config} → ${want}`, () => {
    const states = seen.slice(from).map((s) => s.state);
    return states.includes(want) && states.at(-1) === want;
  });
  return seen.slice(from);
}

async function allocatable(key: string, value: string) {
  return waitFor(`${node.name} allocatable ${key}=${value}`, async () => (await getNode()).status.allocatable[key] === value && (await getNode()));
}

async function setPolicyConfig(name: string) {
  await admin.patch(clusterPolicyPath(), { spec: { migManager: { config: { name } } } });
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info, 'admin');
  // An A100-80GB node without MIG: the test turns MIG on and back off.
  const candidates = testbedFleet(info).filter((s) => s.gpu?.model === 'a100_80' && !s.gpu.mig && !s.unschedulable);
  assert.ok(candidates.length > 0, 'an A100-80GB node without MIG in the fleet');
  const t0 = fleetTruth(info.stateDir);
  const busy = (s: NodeSpec) => t0?.nodes[s.name]?.gpus.filter((g) => g.holder || g.migDevices.some((d) => d.holder)).length ?? 0;
  node = candidates.sort((a, b) => busy(a) - busy(b))[0]!;
  gpus = node.gpu!.count;
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // What a console's drain does first: no new pods, then the GPU pods go.
  await admin.patch(`/api/v1/nodes/${node.name}`, { spec: { unschedulable: true } });
  const holders = new Set(nodeTruth().gpus.flatMap((g) => [g.holder, ...g.migDevices.map((d) => d.holder)]).flatMap((h) => (h ? [`${h.namespace}/${h.pod}`] : [])));
  for (const h of holders) {
    const [pns, pod] = h.split('/');
    await admin.delete(`/api/v1/namespaces/${pns}/pods/${pod}`).catch(() => {});
  }
  await waitFor(`${node.name} free of GPU pods`, () => nodeTruth().gpus.every((g) => !g.holder && g.migDevices.every((d) => !d.holder)));
  const n = await getNode();
  seen.push({ state: n.metadata.labels[MIG_STATE_LABEL], devicePlugin: n.metadata.labels['nvidia.com/gpu.deploy.device-plugin'] });
  watch = admin.watch('/api/v1/nodes', { fieldSelector: `metadata.name=${node.name}`, resourceVersion: n.metadata.resourceVersion }, (e) => {
    const l = e.object?.metadata?.labels ?? {};
    const last = seen.at(-1)!;
    const now = { state: l[MIG_STATE_LABEL], devicePlugin: l['nvidia.com/gpu.deploy.device-plugin'] };
    if (last.state !== now.state || last.devicePlugin !== now.devicePlugin) seen.push(now);
  });
  // A run cut short earlier may have left the node elsewhere.
  if (n.metadata.labels[MIG_CONFIG_LABEL] !== 'all-disabled' || n.metadata.labels[MIG_STATE_LABEL] !== 'success') {
    await setPolicyConfig(DEFAULT_MIG_CONFIG);
    await applyConfig('all-disabled', 'success');
  }
});

after(async () => {
  try {
    await setPolicyConfig(DEFAULT_MIG_CONFIG).catch(() => {});
    await injectFault(info.stateDir, 'mig-clear', [node.name]).catch(() => {});
    await admin.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
    await waitFor('test pods gone', () => nodeTruth().gpus.every((g) => g.migDevices.every((d) => d.holder?.namespace !== ns)));
    // Back to the catalog's layout, so other tests on this test bed see the fleet they expect.
    await applyConfig('all-disabled', 'success').catch(() => {});
    await allocatable('nvidia.com/gpu', String(gpus)).catch(() => {});
    await waitFor('dcgm-exporter pod back', async () => (await admin.get<any>(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods/nvidia-dcgm-exporter-${node.name}`)).status?.phase === 'Running').catch(() => {});
    await admin.patch(`/api/v1/nodes/${node.name}`, { spec: { unschedulable: null } }).catch(() => {});
    await admin.delete(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/configmaps/${customCm}`).catch(() => {});
  } finally {
    watch?.close();
    admin?.close();
  }
});

test('the GPU Operator objects exist: CRDs, ClusterPolicy pointing at default-mig-parted-config, the ConfigMap', async () => {
  const cp = await admin.get<any>(clusterPolicyPath());
  assert.equal(cp.spec.migManager.enabled, true);
  assert.equal(cp.spec.migManager.config.name, DEFAULT_MIG_CONFIG);
  assert.match(cp.spec.driver.version, /^\d+\.\d+\.\d+$/);
  assert.equal(cp.spec.driver.upgradePolicy.autoUpgrade, true);
  assert.equal(typeof cp.spec.driver.upgradePolicy.maxParallelUpgrades, 'number');
  assert.equal(cp.spec.driver.upgradePolicy.drain.enable, false);
  assert.equal(cp.status.state, 'ready');
  const drivers = await admin.get<any>('/apis/nvidia.com/v1alpha1/nvidiadrivers');
  assert.ok(Array.isArray(drivers.items), 'the NVIDIADriver CRD is served');
  const cm = await admin.get<any>(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/configmaps/${DEFAULT_MIG_CONFIG}`);
  const text: string = cm.data[MIG_CONFIG_KEY];
  assert.match(text, /^version: v1\n/);
  for (const name of ['all-disabled', 'all-enabled', 'all-1g.10gb', 'all-2g.20gb', 'all-3g.40gb', 'all-balanced', 'all-1g.6gb']) assert.match(text, new RegExp(`\\n  ${name.replace(/\./g, '\\.')}:\\n`), name);
  assert.match(text, /0x20B210DE/, 'device-filter with the A100-SXM4-80GB PCI ID');
});

test('all-1g.10gb on an A100-80GB node: pending with paused operands, then success, 7 instances per GPU in allocatable, labels and truth', async () => {
  const before = nodeTruth();
  assert.ok(before.gpus.every((g) => !g.mig));
  const walk = await applyConfig('all-1g.10gb', 'success');
  const states = walk.map((s) => s.state);
  assert.ok(states.indexOf('pending') >= 0 && states.indexOf('pending') < states.lastIndexOf('success'), `pending before success: ${JSON.stringify(walk)}`);
  assert.ok(walk.some((s) => s.state === 'pending' && s.devicePlugin === MIG_PAUSED), `device plugin paused while pending: ${JSON.stringify(walk)}`);
  assert.equal(walk.at(-1)?.devicePlugin, 'true', 'deploy labels restored at success');

  const n = await allocatable('nvidia.com/mig-1g.10gb', String(7 * gpus));
  assert.equal(n.status.allocatable['nvidia.com/gpu'], '0', 'whole GPUs are gone (kept at 0, as the kubelet does)');
  const labels = n.metadata.labels;
  assert.equal(labels['nvidia.com/mig.strategy'], 'mixed');
  assert.equal(labels['nvidia.com/mig-1g.10gb.count'], String(7 * gpus));
  assert.equal(labels['nvidia.com/gpu.count'], String(gpus));
  for (const o of ['device-plugin', 'gpu-feature-discovery', 'dcgm-exporter', 'dcgm']) assert.equal(labels[`nvidia.com/gpu.deploy.${o}`], 'true', o);

  const t = await waitFor('truth updated', () => nodeTruth().gpus.every((g) => g.mig && g.migDevices.length === 7) && nodeTruth());
  assert.equal(t.migStrategy, 'mixed');
  assert.deepEqual(t.resources, { 'nvidia.com/mig-1g.10gb': 7 * gpus });
  for (const g of t.gpus) {
    assert.deepEqual(g.migDevices.map((d) => d.placement.start).sort(), [0, 1, 2, 3, 4, 5, 6]);
    assert.ok(g.migDevices.every((d) => d.profile === '1g.10gb' && /^MIG-[0-9a-f-]{36}$/.test(d.uuid)));
  }
  assert.equal(new Set(t.gpus.flatMap((g) => g.migDevices.map((d) => d.uuid))).size, 7 * gpus, 'every MIG device has its own UUID');
  // The exporter comes back once its deploy label is true again.
  await waitFor('dcgm-exporter pod Running again', async () => {
    const p = await admin.get<any>(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods/nvidia-dcgm-exporter-${node.name}`);
    return p.status?.phase === 'Running';
  });
});

test('an unknown config fails at once and keeps the layout', async () => {
  const layout = layoutOf(nodeTruth());
  const walk = await applyConfig('single', 'failed');
  assert.ok(!walk.some((s) => s.state === 'pending'), `validation fails before pending: ${JSON.stringify(walk)}`);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(layoutOf(nodeTruth()), layout);
  assert.equal((await getNode()).status.allocatable['nvidia.com/mig-1g.10gb'], String(7 * gpus));
});

test('mig-fail: the apply goes pending then failed, operands come back, the old layout stays; mig-clear lets it through', async () => {
  const layout = layoutOf(nodeTruth());
  await injectFault(info.stateDir, 'mig-fail', [node.name]);
  const walk = await applyConfig('all-balanced', 'failed');
  assert.ok(walk.some((s) => s.state === 'pending'), JSON.stringify(walk));
  assert.equal(walk.at(-1)?.devicePlugin, 'true');
  assert.deepEqual(layoutOf(nodeTruth()), layout);
  const n = await getNode();
  assert.equal(n.status.allocatable['nvidia.com/mig-1g.10gb'], String(7 * gpus));
  assert.ok(!Number(n.status.allocatable['nvidia.com/mig-3g.40gb'] ?? 0), 'no 3g.40gb instances');

  await assert.rejects(injectFault(info.stateDir, 'mig-fail', ['cpu-0007']), /no MIG-capable GPUs/);
  await injectFault(info.stateDir, 'mig-clear', [node.name]);
  // The manager acts on a change of the label, so the next apply names another config.
  await applyConfig('all-3g.40gb', 'success');
  const after = await allocatable('nvidia.com/mig-3g.40gb', String(2 * gpus));
  assert.equal(after.status.allocatable['nvidia.com/mig-1g.10gb'], '0');
  assert.deepEqual(nodeTruth().gpus[0]!.migDevices.map((d) => `${d.profile}@${d.placement.start}`), ['3g.40gb@0', '3g.40gb@4']);
});

test('a custom ConfigMap named by the ClusterPolicy is read on the next change; per-GPU entries apply; the default names are then unknown', async () => {
  const custom = [
    'version: v1',
    'mig-configs:',
    '  tessera-split:',
    '    - devices: [0, 1]',
    '      mig-enabled: true',
    '      mig-devices:',
    '        "3g.40gb": 2',
    '    - device-filter: ["0x20B210DE", "0x20B510DE"]',
    '      devices: all',
    '      mig-enabled: true',
    '      mig-devices:',
    '        "2g.20gb": 3',
    '  tessera-ones:',
    '    - devices: all',
    '      mig-enabled: true',
    '      mig-devices:',
    '        "1g.10gb": 7',
    '  tessera-bad:',
    '    - devices: all',
    '      mig-enabled: true',
    '      mig-devices:',
    '        "3g.40gb": 3',
    '',
  ].join('\n');
  await admin.create(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: customCm },
    data: { [MIG_CONFIG_KEY]: custom },
  });
  await setPolicyConfig(customCm);
  await applyConfig('tessera-split', 'success');
  const n = await allocatable('nvidia.com/mig-3g.40gb', '4');
  assert.equal(n.status.allocatable['nvidia.com/mig-2g.20gb'], String(3 * (gpus - 2)));
  assert.equal(n.status.allocatable['nvidia.com/mig-1g.10gb'], '0');
  assert.equal(n.metadata.labels['nvidia.com/mig-3g.40gb.count'], '4');
  assert.equal(n.metadata.labels['nvidia.com/mig-1g.10gb.count'], undefined, 'GFD drops labels of profiles the node no longer has');
  const t = nodeTruth();
  assert.deepEqual(t.gpus[1]!.migDevices.map((d) => `${d.profile}@${d.placement.start}`), ['3g.40gb@0', '3g.40gb@4']);
  assert.deepEqual(t.gpus[2]!.migDevices.map((d) => `${d.profile}@${d.placement.start}`), ['2g.20gb@0', '2g.20gb@2', '2g.20gb@4']);

  // An impossible layout (3 x 3g.40gb) and a name only the default ConfigMap has both fail.
  const layout = layoutOf(nodeTruth());
  await applyConfig('tessera-bad', 'failed');
  // failed → failed shows nothing to wait on (validation fails before pending), so go through a success.
  const again = await applyConfig('tessera-split', 'success');
  assert.ok(!again.some((s) => s.state === 'pending'), 'already applied: no pending');
  await applyConfig('all-1g.10gb', 'failed');
  assert.deepEqual(layoutOf(nodeTruth()), layout);
});

test('a pod holding a MIG device on a GPU the new layout changes makes the apply fail, like nvidia-smi on a GPU in use', async () => {
  await admin.create(`/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'holder', namespace: ns },
    spec: {
      nodeName: node.name,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      containers: [{ name: 'cuda', image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04', resources: { limits: { 'nvidia.com/mig-3g.40gb': '1' } } }],
    },
  });
  await waitFor('holder has its MIG device', () => nodeTruth().gpus.some((g) => g.migDevices.some((d) => d.holder?.pod === 'holder')));
  const layout = layoutOf(nodeTruth());
  const walk = await applyConfig('tessera-ones', 'failed');
  assert.ok(walk.some((s) => s.state === 'pending'), JSON.stringify(walk));
  assert.deepEqual(layoutOf(nodeTruth()), layout);

  await admin.delete(`/api/v1/namespaces/${ns}/pods/holder`);
  await waitFor('device released', () => nodeTruth().gpus.every((g) => g.migDevices.every((d) => !d.holder)));
  // The previous config is still applied: setting it again is an immediate success (recovery path).
  const back = await applyConfig('tessera-split', 'success');
  assert.ok(!back.some((s) => s.state === 'pending'), 'nothing to apply');
  assert.deepEqual(layoutOf(nodeTruth()), layout);
});
