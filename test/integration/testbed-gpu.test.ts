// The GPU side of the test bed: mixed models and MIG layouts, the device truth,
// dcgm-exporter through the real API server's proxy, GPU faults, workloads.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migModelFor, profileOf } from '../../shared/gpu/mig-geometry.ts';
import {
  churnPods,
  createGpuPods,
  dcgmPodName,
  fleetTruth,
  injectFault,
  sharedTestbed,
  SIM_ANNOTATIONS,
  testbedClient,
  testbedFleet,
  type FleetTruth,
  type Kube,
  type TestbedInfo,
} from '../testbed/index.ts';
import { eventually as waitFor } from '../support/testbed-info.ts';

let info: TestbedInfo;
let admin: Kube;
const ns = `tb-gpu-${Date.now().toString(36)}`;
const benchNs = `${ns}-bench`;


const truth = (): FleetTruth => {
  const t = fleetTruth(info.stateDir);
  assert.ok(t, 'fleet-truth.json exists');
  return t;
};

const metricsPath = (node: string) => `/api/v1/namespaces/gpu-operator/pods/${dcgmPodName(node)}:9400/proxy/metrics`;

async function scrape(node: string): Promise<string> {
  const r = await admin.raw('GET', metricsPath(node));
  assert.equal(r.status, 200, `scrape of ${node} through the API server: ${r.text.slice(0, 200)}`);
  return r.text;
}

/** Value of the first series of `metric` whose label set contains every `labels` pair. */
function value(body: string, metric: string, labels: Record<string, string>): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

function gpuPod(name: string, resource: string, count = 1, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      containers: [{ name: 'cuda', image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04', resources: { limits: { [resource]: String(count) } } }],
    },
  };
}

async function runningPod(body: ReturnType<typeof gpuPod>) {
  await admin.create(`/api/v1/namespaces/${ns}/pods`, body);
  return waitFor(`${body.metadata.name} Running`, async () => {
    const p = await admin.get(`/api/v1/namespaces/${ns}/pods/${body.metadata.name}`);
    return p.status?.phase === 'Running' && p;
  });
}

/** Where the truth says a pod's devices are. */
function held(pod: string) {
  const out: Array<{ node: string; gpu: number; uuid: string; profile?: string; giId?: number }> = [];
  for (const [node, n] of Object.entries(truth().nodes)) {
    for (const g of n.gpus) {
      if (g.holder?.pod === pod && g.holder.namespace === ns) out.push({ node, gpu: g.index, uuid: g.uuid });
      for (const m of g.migDevices) if (m.holder?.pod === pod && m.holder.namespace === ns) out.push({ node, gpu: g.index, uuid: m.uuid, profile: m.profile, giId: m.giId });
    }
  }
  return out;
}

before(async () => {
  info = await sharedTestbed();
  if (!fleetTruth(info.stateDir)) {
    throw new Error(`the test bed in ${info.stateDir} predates the GPU fleet (no fleet-truth.json): stop it (npm run testbed -- down) and let the tests start a new one`);
  }
  admin = testbedClient(info, 'admin');
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await waitFor('default service account', () => admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`));
});

after(async () => {
  for (const n of [ns, benchNs]) await admin?.delete(`/api/v1/namespaces/${n}`).catch(() => {});
  admin?.close();
});

test('A30 nodes are in the fleet with MIG in both strategies, next to A100-40GB, A100-80GB, H100, L40S', async () => {
  const { items } = await admin.get<{ items: any[] }>('/api/v1/nodes');
  const products = new Set(items.map((n) => n.metadata.labels['nvidia.com/gpu.product']).filter(Boolean));
  for (const p of ['NVIDIA-A100-SXM4-40GB', 'NVIDIA-A100-SXM4-80GB', 'NVIDIA-H100-80GB-HBM3', 'NVIDIA-L40S', 'NVIDIA-A30', 'NVIDIA-A30-MIG-1g.6gb']) {
    assert.ok(products.has(p), `a node with product ${p}`);
  }
  const mixed = items.find((n) => n.metadata.labels['nvidia.com/gpu.product'] === 'NVIDIA-A30');
  assert.equal(mixed.metadata.labels['nvidia.com/mig.strategy'], 'mixed');
  assert.equal(mixed.status.allocatable['nvidia.com/mig-1g.6gb'], '8');
  assert.equal(mixed.status.allocatable['nvidia.com/mig-2g.12gb'], '4');
  assert.equal(mixed.metadata.labels['nvidia.com/mig-2g.12gb.count'], '4');
  const single = items.find((n) => n.metadata.labels['nvidia.com/gpu.product'] === 'NVIDIA-A30-MIG-1g.6gb');
  assert.equal(single.metadata.labels['nvidia.com/mig.strategy'], 'single');
  assert.equal(single.status.allocatable['nvidia.com/gpu'], '16');
  assert.equal(single.metadata.labels['nvidia.com/gpu.memory'], '5952');
});

test('fleetTruth matches allocatable and labels on every node, and every MIG layout is a real placement', async () => {
  const t = truth();
  const { items } = await admin.get<{ items: any[] }>('/api/v1/nodes');
  let migGpus = 0;
  for (const node of items) {
    const labels = node.metadata.labels as Record<string, string>;
    const nt = t.nodes[node.metadata.name];
    const deviceKeys = Object.keys(node.status.allocatable).filter((k) => k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-'));
    if (!labels['nvidia.com/gpu.product']) {
      assert.equal(nt, undefined, `${node.metadata.name} is CPU-only`);
      continue;
    }
    assert.ok(nt, `truth for ${node.metadata.name}`);
    // After a MIG change the kubelet keeps resources whose device plugin went away, at 0.
    const live = deviceKeys.filter((k) => Number(node.status.allocatable[k]) > 0 || k in nt.resources);
    const advertised = Object.fromEntries(live.map((k) => [k, Number(node.status.allocatable[k])]));
    assert.deepEqual(nt.resources, advertised, `${node.metadata.name}: allocatable vs devices`);
    // gpu.count counts physical GPUs, except in the single strategy (MIG devices) and MIG-INVALID (0).
    if (nt.migStrategy !== 'single') assert.equal(nt.gpus.length, Number(labels['nvidia.com/gpu.count']), `${node.metadata.name}: gpu.count`);
    for (const [k, v] of Object.entries(labels)) {
      const m = /^nvidia\.com\/mig-(.+)\.count$/.exec(k);
      if (m) assert.equal(nt.resources[`nvidia.com/mig-${m[1]}`], Number(v), `${node.metadata.name}: ${k}`);
    }
    if (nt.migStrategy === 'single' && !labels['nvidia.com/gpu.product'].endsWith('-MIG-INVALID')) {
      assert.equal(nt.resources['nvidia.com/gpu'], Number(labels['nvidia.com/gpu.count']));
    }
    const model = migModelFor(nt.product);
    for (const g of nt.gpus) {
      assert.match(g.uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(g.pciBusId, /^00000000:[0-9A-F]{2}:00\.0$/);
      if (!g.mig || g.migDevices.length === 0) continue;
      migGpus++;
      assert.ok(model, `MIG geometry for ${nt.product}`);
      const used = new Array<boolean>(model.memorySlices).fill(false);
      let compute = 0;
      for (const m of g.migDevices) {
        const p = profileOf(model, m.profile);
        assert.ok(p, `${m.profile} exists on ${model.key}`);
        assert.ok(p.starts.includes(m.placement.start), `${node.metadata.name} GPU ${g.index}: ${m.profile} may not start at ${m.placement.start}`);
        assert.equal(m.placement.size, p.memorySlices);
        for (let s = m.placement.start; s < m.placement.start + m.placement.size; s++) {
          assert.ok(!used[s], `${node.metadata.name} GPU ${g.index}: memory slice ${s} taken twice`);
          used[s] = true;
        }
        compute += p.computeSlices;
        assert.match(m.uuid, /^MIG-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }
      assert.ok(compute <= model.computeSlices, `${node.metadata.name} GPU ${g.index}: ${compute} compute slices`);
      assert.equal(new Set(g.migDevices.map((m) => m.giId)).size, g.migDevices.length, 'GI ids unique per GPU');
    }
  }
  assert.ok(migGpus > 0);
});

test('a pod asking for nvidia.com/mig-1g.10gb holds a concrete MIG device; its metrics come through the API server proxy with its pod label', async () => {
  const pod = await runningPod(gpuPod('mig-user', 'nvidia.com/mig-1g.10gb'));
  const [dev] = await waitFor('device in fleetTruth', () => {
    const h = held('mig-user');
    return h.length === 1 && h;
  });
  assert.equal(dev!.node, pod.spec.nodeName);
  assert.equal(dev!.profile, '1g.10gb');
  assert.match(dev!.uuid, /^MIG-/);

  const body = await scrape(dev!.node);
  assert.match(body, /^# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature \(in C\)\.$/m);
  assert.match(body, /^# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge$/m);
  assert.match(body, /^DCGM_FI_DEV_FB_USED\{gpu="\d+",UUID="GPU-[0-9a-f-]+",pci_bus_id="[0-9A-F:.]+",device="nvidia\d+",modelName="NVIDIA [^"]+",Hostname="[^"]+",DCGM_FI_DRIVER_VERSION="\d+\.\d+\.\d+"\} \d+$/m);
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^DCGM_FI_[A-Z_]+\{([a-zA-Z_]+="[^"]*",?)+\} -?\d+(\.\d+)?$/, line);
  }
  const mine = { GPU_I_PROFILE: '1g.10gb', GPU_I_ID: String(dev!.giId), gpu: String(dev!.gpu), pod: 'mig-user', namespace: ns, container: 'cuda' };
  const active = value(body, 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', mine);
  assert.ok(active !== undefined && active >= 0.35 && active <= 1, `busy MIG device, GR_ENGINE_ACTIVE ${active}`);
  assert.ok((value(body, 'DCGM_FI_DEV_FB_USED', mine) ?? 0) > 1000, 'the pod uses framebuffer memory');
  assert.equal(value(body, 'DCGM_FI_DEV_GPU_UTIL', { GPU_I_ID: String(dev!.giId) }), undefined, 'no GPU_UTIL for MIG devices');

  // The same through the Service, which the API server resolves to one exporter pod's IP.
  const svc = await admin.raw('GET', '/api/v1/namespaces/gpu-operator/services/nvidia-dcgm-exporter:gpu-metrics/proxy/metrics');
  assert.equal(svc.status, 200);
  assert.match(svc.text, /^DCGM_FI_DEV_XID_ERRORS\{/m);

  await admin.delete(`/api/v1/namespaces/${ns}/pods/mig-user`);
  await waitFor('device released', () => held('mig-user').length === 0);
});

test('a full-GPU pod holds distinct GPUs; an idle pod shows near-zero utilisation', async () => {
  const busy = await runningPod(gpuPod('trainer', 'nvidia.com/gpu', 2));
  const idle = await runningPod(gpuPod('sleeper', 'nvidia.com/gpu', 1, { [SIM_ANNOTATIONS.idle]: 'true' }));
  const devs = await waitFor('trainer devices', () => {
    const h = held('trainer');
    return h.length === 2 && h;
  });
  assert.equal(new Set(devs.map((d) => d.uuid)).size, 2);
  const [sleeping] = await waitFor('sleeper device', () => {
    const h = held('sleeper');
    return h.length === 1 && h;
  });
  for (const [pod, dev, range] of [
    [busy, devs[0]!, [40, 95]],
    [idle, sleeping!, [0, 2]],
  ] as const) {
    const body = await scrape(dev.node);
    const labels = { UUID: dev.uuid, pod: pod.metadata.name };
    if (dev.profile) continue; // landed on a MIG-single node: no GPU_UTIL there
    const util = value(body, 'DCGM_FI_DEV_GPU_UTIL', labels);
    assert.ok(util !== undefined && util >= range[0] && util <= range[1], `${pod.metadata.name}: GPU_UTIL ${util}`);
  }
  for (const name of ['trainer', 'sleeper']) await admin.delete(`/api/v1/namespaces/${ns}/pods/${name}`);
});

test('gpu-xid raises the XID series and the temperature; gpu-clear resets it', async () => {
  // A GPU nobody holds: its temperature follows load, and pods come and go while other tests run.
  const [node, idle] = Object.entries(truth().nodes)
    .filter(([, n]) => n.product === 'NVIDIA-H100-80GB-HBM3' && !n.migStrategy)
    .map(([name, n]) => [name, n.gpus.find((g) => g.index > 0 && g.index !== 2 && !g.holder)] as const)
    .find(([, g]) => g !== undefined)!;
  const gpu = { gpu: String(idle!.index) };
  const before = await scrape(node);
  assert.equal(value(before, 'DCGM_FI_DEV_XID_ERRORS', gpu), 0);
  const temp0 = value(before, 'DCGM_FI_DEV_GPU_TEMP', gpu)!;
  try {
    await injectFault(info.stateDir, 'gpu-xid', [node, gpu.gpu, '48']);
    const afterXid = await scrape(node);
    assert.equal(value(afterXid, 'DCGM_FI_DEV_XID_ERRORS', gpu), 48);
    assert.equal(value(afterXid, 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', gpu), 1, 'XID 48 is a double-bit ECC error');
    assert.equal(value(afterXid, 'DCGM_FI_DEV_XID_ERRORS', { gpu: '0' }), 0, 'other GPUs unaffected');
    assert.ok(value(afterXid, 'DCGM_FI_DEV_GPU_TEMP', gpu)! >= temp0 + 5, 'temperature up');
    await injectFault(info.stateDir, 'gpu-hot', [node, '2']);
    assert.ok(value(await scrape(node), 'DCGM_FI_DEV_GPU_TEMP', { gpu: '2' })! >= 90);
  } finally {
    await injectFault(info.stateDir, 'gpu-clear', [node]);
  }
  assert.equal(value(await scrape(node), 'DCGM_FI_DEV_XID_ERRORS', gpu), 0);
});

test('exporter-down: the scrape through the API server fails; exporter-up brings it back', async () => {
  const node = Object.keys(truth().nodes)[0]!;
  try {
    await injectFault(info.stateDir, 'exporter-down', [node]);
    const r = await admin.raw('GET', metricsPath(node));
    assert.equal(r.status, 503);
    await injectFault(info.stateDir, 'exporter-down', [node, '--close']);
    const closed = await admin.raw('GET', metricsPath(node));
    assert.ok(closed.status >= 500, `dropped connection gives ${closed.status}`);
  } finally {
    await injectFault(info.stateDir, 'exporter-up', [node]);
  }
  await scrape(node);
});

test('scrapes carry the quirks of real exporters on some nodes', async () => {
  const fleet = testbedFleet(info);
  const flavored = (pred: (q: NonNullable<(typeof fleet)[number]['gpu']>['exporter']) => boolean, mig?: boolean) =>
    fleet.find((s) => s.gpu && pred(s.gpu.exporter) && (mig === undefined || Boolean(s.gpu.mig && Object.keys(s.gpu.mig.perGpu).length) === mig));
  const glitchy = flavored((e) => e.quirks.includes('non-numeric-value'))!;
  assert.match(await scrape(glitchy.name), /^DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION\{[^}]+\} ERROR - FAILED TO CONVERT TO STRING$/m);
  const legacyMig = flavored((e) => e.labels === 'legacy', true)!;
  const old = await scrape(legacyMig.name);
  assert.match(old, /GPU_I_PROFILE="1g\.10gb",gpu_instance_id="\d+"/);
  assert.doesNotMatch(old, /GPU_I_ID=|modelName=|pci_bus_id=/);
  assert.match(old, /^$/m, 'blank lines between families');
  const v4 = flavored((e) => e.labels === 'v4')!;
  assert.match(await scrape(v4.name), /hostname="[^"]+",DCGM_FI_DRIVER_VERSION="[^"]+",err_code="0",err_msg="No Error"[^}]*\} 0$/m);
  const noProf = flavored((e) => e.quirks.includes('no-profiling'))!;
  assert.doesNotMatch(await scrape(noProf.name), /DCGM_FI_PROF_GR_ENGINE_ACTIVE/);
});

test('workloads: controller-owned GPU pods in several namespaces, some idle, two that nothing fits', async (t) => {
  const nsList = ['ml-research', 'inference', 'team-a', 'batch'];
  const pods: any[] = [];
  for (const n of nsList) pods.push(...(await admin.get<{ items: any[] }>(`/api/v1/namespaces/${n}/pods`, { labelSelector: 'tessera.dev/workload' })).items);
  if (pods.length === 0) {
    t.skip('test bed started without workloads');
    return;
  }
  assert.deepEqual(new Set(pods.map((p) => p.metadata.namespace)), new Set(nsList));
  assert.ok(pods.every((p) => p.metadata.ownerReferences?.[0]?.controller), 'every workload pod has a controller');
  assert.deepEqual(new Set(pods.map((p) => p.metadata.ownerReferences[0].kind)), new Set(['ReplicaSet', 'StatefulSet', 'Job']));
  const limits = (p: any) => Object.keys(p.spec.containers[0].resources.limits);
  assert.ok(pods.some((p) => limits(p).includes('nvidia.com/gpu')) && pods.some((p) => limits(p).some((k: string) => k.startsWith('nvidia.com/mig-'))));
  const pending = pods.filter((p) => p.status.phase === 'Pending');
  assert.equal(pending.length, 2, pending.map((p) => p.metadata.name).join(', '));
  assert.ok(pending.every((p) => !p.spec.nodeName));
  assert.ok(pods.some((p) => p.metadata.annotations?.[SIM_ANNOTATIONS.idle] === 'true' && p.status.phase === 'Running'));
  const t2 = truth();
  let total = 0;
  let holding = 0;
  for (const n of Object.values(t2.nodes)) {
    for (const g of n.gpus) {
      const units = g.mig ? g.migDevices : [g];
      total += units.length;
      holding += units.filter((u) => u.holder).length;
    }
  }
  assert.ok(holding / total >= 0.35 && holding / total <= 0.65, `fill ${holding}/${total}`);
});

test('createGpuPods and churnPods: owned by PyTorchJobs, running, and replaced in a burst', async () => {
  const made = await createGpuPods(info, { count: 24, namespaces: [benchNs], podsPerJob: 8 });
  assert.equal(made.created, 24, made.firstError);
  assert.equal(made.placed, 24);
  const running = async () => (await admin.get<{ items: any[] }>(`/api/v1/namespaces/${benchNs}/pods`)).items.filter((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  await waitFor('bench pods Running', async () => (await running()).length === 24, 60_000);
  const owners = new Set((await running()).map((p) => `${p.metadata.ownerReferences[0].kind}/${p.metadata.ownerReferences[0].name}`));
  assert.equal(owners.size, 3);
  assert.ok([...owners].every((o) => o.startsWith('PyTorchJob/')));
  const churn = await churnPods(info, 8, { namespaces: [benchNs] });
  assert.equal(churn.deleted, 8);
  assert.equal(churn.created, 8);
  await waitFor('replacements Running', async () => (await running()).length === 24, 60_000);
});
