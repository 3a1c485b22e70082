// The pure parts behind the Quotas and Showback pages: quota rows from raw
// objects, the observation log's handling of deleted pods, and the Prometheus
// source against recorded Prometheus HTTP API answers served over real HTTP.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { applyHardChanges, namespaceQuotas, type RawPod } from '../../electron/core/quotas/quota-usage.ts';
import { mergeObservation, ObservationStore, podObservation, usageRecords, type RawPodForUsage } from '../../electron/core/showback/observation-log.ts';
import { prometheusUsage, promHttp, resourceFromKsm, stepFor } from '../../electron/core/showback/prometheus-source.ts';

const gpuPod = (ns: string, name: string, phase: string, res: Record<string, string>, extra: Partial<RawPod> = {}): RawPod => ({
  metadata: { name, namespace: ns },
  spec: { containers: [{ resources: { requests: res, limits: res } }] },
  status: { phase },
  ...extra,
});

test('quota rows: pod requests by resource against the tightest quota, refusals from FailedCreate events', () => {
  const rows = namespaceQuotas({
    clusterId: 'c/x',
    namespaces: [{ name: 'team-a', labels: { 'tessera.dev/team': 'red' } }, { name: 'idle' }],
    pods: [
      gpuPod('team-a', 'a', 'Running', { 'nvidia.com/gpu': '2' }),
      gpuPod('team-a', 'b', 'Running', { 'nvidia.com/mig-1g.10gb': '1' }),
      gpuPod('team-a', 'c', 'Pending', { 'nvidia.com/gpu': '1' }, { status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/24 nodes are available' }] } }),
      gpuPod('team-a', 'done', 'Succeeded', { 'nvidia.com/gpu': '8' }),
      gpuPod('idle', 'cpu', 'Running', { cpu: '1' }),
    ],
    quotas: [
      { metadata: { name: 'gpus', namespace: 'team-a', resourceVersion: '7', managedFields: [{ time: '2026-11-22T09:00:00Z', fieldsV1: { 'f:spec': {} } }, { time: '2026-11-22T12:00:00Z', fieldsV1: { 'f:status': {} } }] }, spec: { hard: { 'requests.nvidia.com/gpu': '4', 'requests.cpu': '10' } }, status: { used: { 'requests.nvidia.com/gpu': '3', 'requests.cpu': '2' } } },
      { metadata: { name: 'tight', namespace: 'team-a', resourceVersion: '9' }, spec: { hard: { 'nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '2' } }, status: { used: { 'nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '1' } } },
      { metadata: { name: 'cpu-only', namespace: 'idle' }, spec: { hard: { 'requests.cpu': '4' } } },
    ],
    events: [
      { involvedObject: { kind: 'ReplicaSet', name: 'dev-7f9c', namespace: 'team-a' }, reason: 'FailedCreate', message: 'Error creating: pods "dev-7f9c-x" is forbidden: exceeded quota: gpus, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4', count: 3, lastTimestamp: '2026-11-22T10:00:00Z' },
      { involvedObject: { kind: 'ReplicaSet', name: 'dev-7f9c', namespace: 'team-a' }, reason: 'FailedCreate', message: 'Error creating: ... exceeded quota: gpus', count: 2, lastTimestamp: '2026-11-22T11:00:00Z' },
      { involvedObject: { kind: 'Job', name: 'other', namespace: 'team-a' }, reason: 'FailedCreate', message: 'Error creating: pods "x" is forbidden: error looking up service account' },
    ],
  });
  assert.deepEqual(rows.map((r) => r.namespace), ['team-a'], 'namespaces without GPUs, GPU quotas or refusals are left out');
  const r = rows[0]!;
  assert.equal(r.team, 'red');
  assert.deepEqual(r.lines, [
    { resource: 'nvidia.com/gpu', running: 2, pending: 1, quota: { name: 'tight', key: 'nvidia.com/gpu', used: 3, hard: 3 } },
    { resource: 'nvidia.com/mig-1g.10gb', running: 1, pending: 0, quota: { name: 'tight', key: 'requests.nvidia.com/mig-1g.10gb', used: 1, hard: 2 } },
  ]);
  assert.deepEqual(r.quotas[0], { name: 'gpus', resourceVersion: '7', hard: { 'requests.nvidia.com/gpu': '4' }, used: { 'requests.nvidia.com/gpu': '3' }, scoped: false, specChangedAt: '2026-11-22T09:00:00Z' }, 'only GPU keys; spec writes only');
  assert.equal(r.refusals.length, 1, 'only quota refusals, one per owner');
  assert.equal(r.refusals[0]!.owner, 'ReplicaSet/dev-7f9c');
  assert.equal(r.refusals[0]!.count, 5);
  assert.equal(r.refusals[0]!.lastSeen, '2026-11-22T11:00:00Z');
  assert.deepEqual(r.pendingPods, [{ name: 'c', reason: 'Unschedulable: 0/24 nodes are available' }]);
  assert.deepEqual(applyHardChanges({ 'requests.cpu': '10', 'requests.nvidia.com/gpu': '4', 'nvidia.com/gpu': '3' }, [{ resource: 'requests.nvidia.com/gpu', value: 6 }, { resource: 'nvidia.com/gpu' }]), { 'requests.cpu': '10', 'requests.nvidia.com/gpu': '6' }, 'other keys untouched');
});

const NOW1 = '2026-11-22T10:00:00.000Z';
const NOW2 = '2026-11-22T10:05:00.000Z';
const ctx = (now: string) => ({ now, nodeModel: (n: string) => (n === 'h100-0' ? 'NVIDIA-H100-80GB-HBM3' : undefined), nsTeam: (ns: string) => (ns === 'team-a' ? 'red' : undefined) });
const raw = (name: string, extra: Partial<RawPodForUsage['status']> = {}, uid = name): RawPodForUsage => ({
  metadata: { name, namespace: 'team-a', uid, ownerReferences: [{ kind: 'ReplicaSet', name: 'dev-5d8f7c9b4', controller: true }] },
  spec: { nodeName: 'h100-0', containers: [{ resources: { limits: { 'nvidia.com/mig-1g.10gb': '2' } } }] },
  status: { phase: 'Running', startTime: '2026-11-22T09:00:00Z', ...extra },
});

test('observation log: a pod seen running then gone is ended at its last sighting; finished pods at finishedAt', () => {
  const o = podObservation(raw('p'), ctx(NOW1))!;
  assert.equal(o.workload, 'Deployment/dev');
  assert.equal(o.team, 'red');
  assert.equal(o.model, 'NVIDIA-H100-80GB-HBM3');
  assert.deepEqual(o.resources, { 'nvidia.com/mig-1g.10gb': 2 });
  assert.equal(podObservation(raw('q', { startTime: undefined }), ctx(NOW1)), undefined, 'never started: no GPU held');
  const done = podObservation(raw('j', { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { finishedAt: '2026-11-22T09:30:00Z' } } }] }), ctx(NOW1))!;
  assert.equal(done.end, '2026-11-22T09:30:00Z');
  assert.equal(done.endSeen, 'terminated');

  let log = mergeObservation([], [o, done], (p) => (p.pod === 'p' ? 1 : undefined), 5);
  assert.equal(log.find((p) => p.pod === 'p')!.idleSamples, 1);
  // Five minutes later p is gone (deleted): it ends when last seen.
  log = mergeObservation(log, [], () => 50, 5);
  const p = log.find((x) => x.pod === 'p')!;
  assert.equal(p.end, NOW1);
  assert.equal(p.endSeen, 'deleted');
  assert.equal(p.samples, 1, 'no sample is taken for a pod that is gone');
  // A pod seen again keeps its samples and moves lastSeen on.
  const again = mergeObservation(mergeObservation([], [podObservation(raw('r'), ctx(NOW1))!], () => 0, 5), [podObservation(raw('r'), ctx(NOW2))!], () => 80, 5);
  assert.deepEqual([again[0]!.samples, again[0]!.idleSamples, again[0]!.lastSeen], [2, 1, NOW2]);

  const recs = usageRecords('c/x', log, NOW2);
  assert.equal(recs.find((r) => r.pod === 'p')!.end, NOW1);
  assert.equal(recs.find((r) => r.pod === 'p')!.idleFraction, 1);
  assert.equal(recs.find((r) => r.pod === 'j')!.idleFraction, undefined, 'no samples: unknown');
});

test('two observers of one cluster at once (a console and a CLI command): each one\'s pods are kept', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-observed-'));
  try {
    const a = new ObservationStore(dir);
    const b = new ObservationStore(dir);
    const pods = Array.from({ length: 12 }, (_, i) => podObservation(raw(`w${i}`), ctx(NOW1))!);
    // Each adds its own pod to what it reads; without the lock the last writer would drop the others'.
    await Promise.all(pods.map((p, i) => (i % 2 ? a : b).update('c/x', (log) => [...log, p])));
    assert.deepEqual((await a.load('c/x')).map((p) => p.pod).sort(), pods.map((p) => p.pod).sort());
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.lock')), [], 'the lock is let go');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kube-state-metrics resource names map back to GPU and MIG resources; steps stay coarse enough', () => {
  assert.equal(resourceFromKsm('nvidia_com_gpu'), 'nvidia.com/gpu');
  assert.equal(resourceFromKsm('nvidia_com_mig_1g_10gb'), 'nvidia.com/mig-1g.10gb');
  assert.equal(resourceFromKsm('nvidia_com_mig_1g_10gb_me'), 'nvidia.com/mig-1g.10gb+me');
  assert.equal(resourceFromKsm('cpu'), undefined);
  assert.equal(stepFor(0, 3_600_000), 60);
  assert.equal(stepFor(0, 30 * 86_400_000), 3720);
});

/** Recorded answers, shaped as Prometheus 2.x returns them, keyed by the metric the query asks for. */
function recordedProm(from: number): (query: string) => unknown {
  const ts = (min: number) => from / 1000 + min * 60;
  const range = (n: number, v: string, start = 0) => Array.from({ length: n }, (_, i) => [ts(start + i), v]);
  return (q) => {
    const ok = (result: unknown[], resultType = 'matrix') => ({ status: 'success', data: { resultType, result } });
    if (q.includes('kube_pod_container_resource_requests'))
      return ok([
        { metric: { namespace: 'ml', pod: 'train-0', node: 'h100-0', resource: 'nvidia_com_gpu' }, values: range(60, '8') },
        { metric: { namespace: 'inf', pod: 'embed-x', node: 'h100-1', resource: 'nvidia_com_mig_1g_10gb' }, values: range(30, '2', 30) },
      ]);
    if (q.includes('kube_pod_owner')) return ok([{ metric: { namespace: 'ml', pod: 'train-0', owner_kind: 'StatefulSet', owner_name: 'train' }, value: [ts(60), '1'] }, { metric: { namespace: 'inf', pod: 'embed-x', owner_kind: 'ReplicaSet', owner_name: 'embed-6b7c8d9f5' }, value: [ts(60), '1'] }], 'vector');
    if (q.includes('kube_pod_labels')) return ok([], 'vector');
    if (q.includes('kube_namespace_labels')) return ok([{ metric: { namespace: 'ml', label_tessera_dev_team: 'research' }, value: [ts(60), '1'] }], 'vector');
    if (q.includes('kube_node_labels')) return ok([{ metric: { node: 'h100-0', label_nvidia_com_gpu_product: 'NVIDIA-H100-80GB-HBM3' }, value: [ts(60), '1'] }, { metric: { node: 'h100-1', label_nvidia_com_gpu_product: 'NVIDIA-H100-80GB-HBM3' }, value: [ts(60), '1'] }], 'vector');
    if (q.includes('DCGM_FI_DEV_GPU_UTIL')) return ok([{ metric: { namespace: 'ml', pod: 'train-0' }, values: [...range(45, '93'), ...range(15, '0', 45)] }]);
    if (q.includes('DCGM_FI_PROF_GR_ENGINE_ACTIVE')) return { status: 'error', errorType: 'bad_data', error: 'parse error at char 12' };
    return ok([]);
  };
}

test('Prometheus source: GPU-hours from request samples, owners, teams, models and idle share from recorded answers', async (t) => {
  const from = Date.parse('2026-11-22T08:00:00Z');
  const to = from + 3_600_000;
  const answer = recordedProm(from);
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    asked.push(url.pathname);
    const query = url.searchParams.get('query') ?? '';
    const body = answer(query);
    res.writeHead((body as { status: string }).status === 'success' ? 200 : 400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const got = await prometheusUsage(promHttp(base), 'c/x', from, to, 5);
  assert.ok(asked.every((p) => p === '/api/v1/query_range' || p === '/api/v1/query'), asked.join());
  const train = got.records.find((r) => r.pod === 'train-0')!;
  assert.equal(train.workload, 'StatefulSet/train');
  assert.equal(train.team, 'research', 'from the namespace label');
  assert.equal(train.count, 8);
  assert.equal(Date.parse(train.end!) - Date.parse(train.start), 3_600_000, '60 one-minute samples');
  assert.equal(train.idleFraction, 15 / 60);
  const embed = got.records.find((r) => r.pod === 'embed-x')!;
  assert.equal(embed.resource, 'nvidia.com/mig-1g.10gb');
  assert.equal(embed.workload, 'Deployment/embed');
  assert.equal(embed.idleFraction, undefined, 'no MIG utilization: unknown');
  assert.ok(got.warnings.some((w) => /MIG utilization.*parse error/.test(w)), got.warnings.join('\n'));

  await assert.rejects(prometheusUsage(promHttp('http://127.0.0.1:9/'), 'c/x', from, to, 5), /Prometheus at http:\/\/127\.0\.0\.1:9 did not answer/);
});
