// The test bed itself: a real 1.20 control plane with a simulated GPU fleet.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { injectFault, KubeError, sharedTestbed, SIM_ANNOTATIONS, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { KNATIVE_SERVICE_CRD, KSERVE_CRDS } from '../testbed/kserve/apis.ts';
import { WORKSTATION_CRDS } from '../testbed/workstations/apis.ts';

let info: TestbedInfo;
let admin: Kube;
const ns = `tb-test-${Date.now().toString(36)}`;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ready = (node: any) => node.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
const hasNotReadyTaint = (node: any) => (node.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/not-ready');

function podManifest(name: string, opts: { gpus?: number; annotations?: Record<string, string> } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: opts.annotations ?? {} },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04',
          command: ['sleep', 'infinity'],
          resources: opts.gpus ? { limits: { 'nvidia.com/gpu': String(opts.gpus) } } : {},
        },
      ],
    },
  };
}

async function runningPod(name: string, opts: Parameters<typeof podManifest>[1] = {}) {
  await admin.create(`/api/v1/namespaces/${ns}/pods`, podManifest(name, opts));
  return waitFor(`${name} Running`, async () => {
    const p = await admin.get(`/api/v1/namespaces/${ns}/pods/${name}`);
    return p.status?.phase === 'Running' && p;
  });
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info, 'admin');
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  await admin?.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
  admin?.close();
});

test('nodes carry GFD labels of both generations, MIG variants and GPU allocatable', async () => {
  const { items } = await admin.get<{ items: any[] }>('/api/v1/nodes');
  assert.equal(items.length, info.nodes);
  const labels = (n: any) => n.metadata.labels as Record<string, string>;
  const gpuNodes = items.filter((n) => labels(n)['nvidia.com/gpu.product']);
  assert.ok(gpuNodes.length > 0);

  const h100 = gpuNodes.find((n) => labels(n)['nvidia.com/gpu.product'] === 'NVIDIA-H100-80GB-HBM3' && !n.spec.unschedulable);
  assert.ok(h100, 'an H100 node');
  assert.equal(h100.status.allocatable['nvidia.com/gpu'], '8');
  assert.equal(labels(h100)['nvidia.com/gpu.count'], '8');
  assert.match(labels(h100)['nvidia.com/cuda.driver-version.full'] ?? '', /^\d+\.\d+\.\d+$/);
  assert.ok(labels(h100)['nvidia.com/cuda.driver.major'], 'deprecated generation is still emitted');
  assert.match(h100.status.addresses.find((a: any) => a.type === 'InternalIP').address, /^127\.\d+\.\d+\.\d+$/);
  assert.equal(h100.status.nodeInfo.kubeletVersion, 'v1.20.2');

  const single = gpuNodes.find((n) => labels(n)['nvidia.com/gpu.product'] === 'NVIDIA-A100-SXM4-80GB-MIG-1g.10gb');
  assert.ok(single, 'a MIG single-strategy node');
  assert.equal(single.status.allocatable['nvidia.com/gpu'], labels(single)['nvidia.com/gpu.count']);
  assert.equal(labels(single)['nvidia.com/mig.config.state'], 'success');

  const mixed = gpuNodes.find((n) => labels(n)['nvidia.com/mig.strategy'] === 'mixed');
  assert.ok(mixed, 'a MIG mixed-strategy node');
  assert.ok(Object.keys(mixed.status.allocatable).some((k) => k.startsWith('nvidia.com/mig-')));

  assert.ok(gpuNodes.some((n) => labels(n)['nvidia.com/gpu.product']!.endsWith('-MIG-INVALID')));
  assert.ok(gpuNodes.some((n) => labels(n)['nvidia.com/cuda.driver.major'] && !labels(n)['nvidia.com/cuda.driver-version.full']), 'a node with only deprecated labels');
  assert.ok(new Set(gpuNodes.map((n) => labels(n)['nvidia.com/cuda.driver.major'])).size >= 3, 'several driver versions');
  assert.ok(items.some((n) => !labels(n)['nvidia.com/gpu.product'] && !n.status.allocatable['nvidia.com/gpu']), 'a CPU-only node');
  assert.ok(items.some((n) => n.spec.unschedulable), 'a cordoned node');
});

test('nodes become Ready and lose the not-ready taint; leases are renewed', async () => {
  await waitFor('all nodes Ready and untainted', async () => {
    const { items } = await admin.get<{ items: any[] }>('/api/v1/nodes');
    return items.length === info.nodes && items.every((n) => ready(n) === 'True' && !hasNotReadyTaint(n));
  });
  const leases = await admin.get<{ items: any[] }>('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases');
  assert.equal(leases.items.length, info.nodes);
});

test('a pod requesting nvidia.com/gpu is scheduled onto a GPU node and goes Running', async () => {
  const pod = await runningPod('gpu-pod', { gpus: 1 });
  const node = await admin.get(`/api/v1/nodes/${pod.spec.nodeName}`);
  assert.ok(Number(node.status.allocatable['nvidia.com/gpu']) >= 1);
  assert.equal(pod.status.hostIP, node.status.addresses.find((a: any) => a.type === 'InternalIP').address);
  assert.ok(pod.status.podIP);
  assert.equal(pod.status.containerStatuses[0].ready, true);
  assert.ok(pod.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'));
});

test('pod-fail fault and the sim-fail annotation make pods Failed', async () => {
  await runningPod('victim');
  await injectFault(info.stateDir, 'pod-fail', [`${ns}/victim`]);
  const failed = await admin.get(`/api/v1/namespaces/${ns}/pods/victim`);
  assert.equal(failed.status.phase, 'Failed');
  assert.equal(failed.status.containerStatuses[0].state.terminated.exitCode, 1);

  await admin.create(`/api/v1/namespaces/${ns}/pods`, podManifest('doomed', { annotations: { [SIM_ANNOTATIONS.fail]: 'true' } }));
  await waitFor('doomed Failed', async () => (await admin.get(`/api/v1/namespaces/${ns}/pods/doomed`)).status?.phase === 'Failed');
});

test('deleting a pod completes (the simulated kubelet removes it)', async () => {
  await runningPod('short-lived');
  await admin.delete(`/api/v1/namespaces/${ns}/pods/short-lived`);
  await waitFor('pod gone', async () => {
    try {
      await admin.get(`/api/v1/namespaces/${ns}/pods/short-lived`);
      return false;
    } catch (err) {
      return err instanceof KubeError && err.status === 404;
    }
  });
});

test('node-notready flips Ready to Unknown and node-ready brings it back', async () => {
  const { items } = await admin.get<{ items: any[] }>('/api/v1/nodes', { labelSelector: 'node-role.kubernetes.io/worker' });
  const name = items[0]!.metadata.name as string;
  try {
    await injectFault(info.stateDir, 'node-notready', [name]);
    assert.equal(ready(await admin.get(`/api/v1/nodes/${name}`)), 'Unknown');
    // The node lifecycle controller reacts like it does to a dead kubelet.
    await waitFor('unreachable taint', async () =>
      ((await admin.get(`/api/v1/nodes/${name}`)).spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable'),
    );
  } finally {
    await injectFault(info.stateDir, 'node-ready', [name]);
  }
  assert.equal(ready(await admin.get(`/api/v1/nodes/${name}`)), 'True');
  await waitFor('taint lifted', async () => ((await admin.get(`/api/v1/nodes/${name}`)).spec.taints ?? []).length === 0);
});

test('RBAC: viewer reads but cannot write; team-a writes only in its namespace; cert and exec users are admins', async () => {
  const viewer = testbedClient(info, 'viewer');
  const teamA = testbedClient(info, 'teamA');
  const cert = testbedClient(info, 'cert');
  const exec = testbedClient(info, 'exec');
  const cm = (namespace: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${Date.now()}`, namespace }, data: { a: 'b' } });
  try {
    await viewer.get('/api/v1/nodes');
    await assert.rejects(viewer.create(`/api/v1/namespaces/${ns}/configmaps`, cm(ns)), (err: unknown) => err instanceof KubeError && err.status === 403);

    assert.equal(teamA.namespace, 'team-a');
    const created = await teamA.create('/api/v1/namespaces/team-a/configmaps', cm('team-a'));
    await teamA.delete(`/api/v1/namespaces/team-a/configmaps/${created.metadata.name}`);
    await assert.rejects(teamA.create(`/api/v1/namespaces/${ns}/configmaps`, cm(ns)), (err: unknown) => err instanceof KubeError && err.status === 403);

    for (const client of [cert, exec]) {
      const c = await client.create(`/api/v1/namespaces/${ns}/configmaps`, cm(ns));
      await client.delete(`/api/v1/namespaces/${ns}/configmaps/${c.metadata.name}`);
    }
  } finally {
    for (const c of [viewer, teamA, cert, exec]) c.close();
  }
});

test('without ../shared/fixtures the stand-in CRDs load: each is accepted by the API server (dry run, renamed into a group of the same kind)', async () => {
  // Renamed so they do not clash with the CRDs installed; a k8s.io group stays a k8s.io group, which needs the API review annotation.
  const rename = (json: string) => json.replaceAll('serving.kserve.io', 'serving.kserve.test').replaceAll('serving.knative.dev', 'serving.knative.test').replaceAll('snapshot.storage.k8s.io', 'standin.storage.k8s.io').replaceAll('kubeflow.org', 'kubeflow.test');
  const standIns = [...KSERVE_CRDS.map((c) => c.standIn()), KNATIVE_SERVICE_CRD.object(), ...WORKSTATION_CRDS.map((c) => c.standIn())];
  assert.equal(standIns.length, 8);
  for (const src of standIns) {
    const o = JSON.parse(rename(JSON.stringify(src)));
    const created = await admin.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', o, { dryRun: 'All' });
    assert.equal(created.metadata.name, o.metadata.name);
    assert.ok(created.spec.versions.every((v: { schema?: unknown }) => v.schema), `${o.metadata.name} has a schema`);
  }
  // A stand-in kept in a protected group without the annotation is refused, as the real server refuses it.
  const bare = JSON.parse(rename(JSON.stringify(WORKSTATION_CRDS[0]!.standIn())));
  delete bare.metadata.annotations;
  await assert.rejects(admin.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', bare, { dryRun: 'All' }), (e: unknown) => e instanceof KubeError && e.status === 422 && /api-approved/.test(e.message));
});

test('after apiserver-restart the fleet re-establishes its watch and still starts pods', async () => {
  await injectFault(info.stateDir, 'apiserver-restart', []);
  await runningPod('after-restart');
});
