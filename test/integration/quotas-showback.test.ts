// Team GPU quotas and showback on the real test bed. Quotas: the usage the
// page shows matches the pods, a refusal by quota shows up as the owner's
// FailedCreate event, an edit is applied with its resourceVersion and audited,
// a stale one is refused, and the namespace-scoped and viewer kubeconfigs are
// refused by name. Showback: pods with known GPU and MIG requests in a fresh
// namespace (one finishes, one is deleted while Tessera watches) give the
// GPU-hours computed by hand from their start and end times.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createCore, type Core } from '../../electron/core/core.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { NamespaceQuota } from '../../shared/contract/quotas.ts';
import { SIM_ANNOTATIONS, sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { eventually, namespaceSettled } from '../support/testbed-info.ts';
import { startPrometheusStandin } from '../support/prometheus-standin.ts';

const NS_Q = 'quota-it';
const NS_S = 'showback-it';
const H100 = 'NVIDIA-H100-80GB-HBM3';
let info: TestbedInfo;
let admin: Kube;
let core: Core;
let id: string;
let viewerId: string;
let dataDir: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pod(ns: string, name: string, resource: string, count: number, extra: { annotations?: Record<string, string>; product?: string; restartPolicy?: string } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      restartPolicy: extra.restartPolicy ?? 'Always',
      automountServiceAccountToken: false,
      ...(extra.product ? { nodeSelector: { 'nvidia.com/gpu.product': extra.product } } : {}),
      containers: [{ name: 'main', image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04', resources: { limits: { [resource]: String(count), cpu: '1', memory: '1Gi' } } }],
    },
  };
}

async function freshNamespace(name: string, labels: Record<string, string>): Promise<void> {
  await admin.delete(`/api/v1/namespaces/${name}`).catch(() => undefined);
  await eventually(`${name} deleted`, async () => (await admin.get(`/api/v1/namespaces/${name}`).then(() => false, () => true)) || undefined, 90_000, 500);
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  await namespaceSettled(admin, name);
}

type RawPod = { metadata: { name: string; namespace: string }; spec: { containers: { resources: { limits?: Record<string, string> } }[] }; status: { phase: string; startTime?: string; containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[] } };

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  await Promise.all([freshNamespace(NS_Q, { 'tessera.dev/team': 'quota-team' }), freshNamespace(NS_S, { 'tessera.dev/team': 'showback-team' })]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-quota-'));
  core = await createCore({ host: 'headless', version: '0.0.0-test', kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer, info.kubeconfigs.teamA], dataDir });
  const list = core.clusters.list();
  id = list.find((c) => c.context.startsWith('admin@'))!.id;
  viewerId = list.find((c) => c.context.startsWith('viewer@'))!.id;
  await core.clusters.connect(id);
  await core.clusters.connect(viewerId);
});

after(async () => {
  await core?.dispose();
  for (const ns of [NS_Q, NS_S]) await admin?.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  admin?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('quotas: usage matches the pods, a quota refusal is shown, an edit is applied with its resourceVersion and audited', async () => {
  await admin.create(`/api/v1/namespaces/${NS_Q}/resourcequotas`, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'gpu-quota' }, spec: { hard: { 'requests.nvidia.com/gpu': '2', 'requests.nvidia.com/mig-1g.10gb': '2', 'requests.cpu': '20' } } });
  await namespaceSettled(admin, NS_Q, ['gpu-quota']);
  await admin.create(`/api/v1/namespaces/${NS_Q}/pods`, pod(NS_Q, 'solo', 'nvidia.com/gpu', 1, { product: H100 }));
  await admin.create(`/api/v1/namespaces/${NS_Q}/pods`, pod(NS_Q, 'slices', 'nvidia.com/mig-1g.10gb', 2));
  // Two replicas of one GPU each with one GPU left under the quota: the second is refused at admission.
  const tpl = pod(NS_Q, 'dev', 'nvidia.com/gpu', 1, { product: H100 });
  await admin.create(`/apis/apps/v1/namespaces/${NS_Q}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dev', namespace: NS_Q }, spec: { replicas: 2, selector: { matchLabels: { app: 'dev' } }, template: { metadata: { labels: { app: 'dev' } }, spec: tpl.spec } } });

  const row = await eventually('quota-it shows the refusal', async () => {
    const r = (await core.methods['quotas.list']({ id })).namespaces.find((n) => n.namespace === NS_Q);
    return r && r.refusals.length > 0 && r.lines.find((l) => l.resource === 'nvidia.com/gpu')?.running === 2 ? r : undefined;
  }, 60_000, 500);

  // What the pods themselves ask for, read straight from the API server.
  const pods = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS_Q}/pods`)).items.filter((p) => p.status.phase === 'Running');
  const sum = (res: string) => pods.reduce((s, p) => s + Number(p.spec.containers[0]!.resources.limits?.[res] ?? 0), 0);
  const gpu = row.lines.find((l) => l.resource === 'nvidia.com/gpu')!;
  const mig = row.lines.find((l) => l.resource === 'nvidia.com/mig-1g.10gb')!;
  assert.equal(gpu.running, sum('nvidia.com/gpu'));
  assert.equal(mig.running, sum('nvidia.com/mig-1g.10gb'));
  assert.deepEqual(gpu.quota, { name: 'gpu-quota', key: 'requests.nvidia.com/gpu', used: 2, hard: 2 });
  assert.deepEqual(mig.quota, { name: 'gpu-quota', key: 'requests.nvidia.com/mig-1g.10gb', used: 2, hard: 2 });
  assert.equal(row.team, 'quota-team');
  assert.match(row.refusals[0]!.owner, /^ReplicaSet\/dev-/);
  assert.match(row.refusals[0]!.message, /exceeded quota: gpu-quota/);
  assert.equal(row.canEdit.allowed, true, row.canEdit.reason);
  const q = row.quotas[0]!;
  assert.deepEqual(q.hard, { 'requests.nvidia.com/gpu': '2', 'requests.nvidia.com/mig-1g.10gb': '2' }, 'only the GPU keys are shown');

  const res = await core.methods['quotas.update']({ id, namespace: NS_Q, name: 'gpu-quota', resourceVersion: q.resourceVersion, changes: [{ resource: 'requests.nvidia.com/gpu', value: 3 }] });
  assert.deepEqual(res.before, { 'requests.nvidia.com/gpu': '2', 'requests.nvidia.com/mig-1g.10gb': '2' });
  assert.deepEqual(res.after, { 'requests.nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '2' });
  const live = await admin.get<{ spec: { hard: Record<string, string> } }>(`/api/v1/namespaces/${NS_Q}/resourcequotas/gpu-quota`);
  assert.deepEqual(live.spec.hard, { 'requests.nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '2', 'requests.cpu': '20' }, 'other keys kept');
  const entry = (await core.audit!.query({ action: 'quota.update', limit: 10 })).entries.find((e) => e.outcome === 'succeeded');
  assert.ok(entry, 'audited');
  assert.deepEqual(entry.before, res.before);
  assert.deepEqual(entry.after, res.after);
  assert.deepEqual(entry.targets, [{ kind: 'ResourceQuota', namespace: NS_Q, name: 'gpu-quota' }]);

  // The controller creates the refused replica once there is room.
  await eventually('the second dev replica runs', async () => {
    const r = (await core.methods['quotas.list']({ id })).namespaces.find((n) => n.namespace === NS_Q);
    return r?.lines.find((l) => l.resource === 'nvidia.com/gpu')?.running === 3 || undefined;
  }, 60_000, 500);

  // The controller's status writes moved the resourceVersion, but not the limits
  // the user saw: an edit that says what it saw still goes through.
  const afterStatus = await admin.get<{ metadata: { resourceVersion: string } }>(`/api/v1/namespaces/${NS_Q}/resourcequotas/gpu-quota`);
  assert.notEqual(afterStatus.metadata.resourceVersion, res.resourceVersion, 'the replica starting rewrote the quota status');
  const seenNow = Object.entries(res.after).map(([resource, value]) => ({ resource, value }));
  const res2 = await core.methods['quotas.update']({ id, namespace: NS_Q, name: 'gpu-quota', resourceVersion: res.resourceVersion, seen: seenNow, changes: [{ resource: 'requests.nvidia.com/mig-1g.10gb', value: 3 }] });
  assert.equal(res2.after['requests.nvidia.com/mig-1g.10gb'], '3');
  // Limits the user saw that are no longer there are a conflict.
  const seenOld = Object.entries(q.hard).map(([resource, value]) => ({ resource, value }));
  await assert.rejects(core.methods['quotas.update']({ id, namespace: NS_Q, name: 'gpu-quota', resourceVersion: res2.resourceVersion, seen: seenOld, changes: [{ resource: 'requests.nvidia.com/gpu', value: 10 }] }), (err: unknown) => err instanceof TesseraError && err.code === 'CONFLICT');

  // A stale resourceVersion is refused and changes nothing.
  await assert.rejects(core.methods['quotas.update']({ id, namespace: NS_Q, name: 'gpu-quota', resourceVersion: q.resourceVersion, changes: [{ resource: 'requests.nvidia.com/gpu', value: 10 }] }), (err: unknown) => err instanceof TesseraError && err.code === 'CONFLICT' && /changed since it was shown/.test(err.message));
  assert.equal((await admin.get<{ spec: { hard: Record<string, string> } }>(`/api/v1/namespaces/${NS_Q}/resourcequotas/gpu-quota`)).spec.hard['requests.nvidia.com/gpu'], '3');
  await assert.rejects(core.methods['quotas.update']({ id, namespace: NS_Q, name: 'gpu-quota', resourceVersion: '1', changes: [{ resource: 'requests.nvidia.com/gpu', value: 1 }, { resource: 'requests.nvidia.com/gpu' }] }), /named twice/);
});

test('quotas: the viewer and the namespace-scoped team user are refused an edit, with the permission named', async () => {
  const rows = (await core.methods['quotas.list']({ id: viewerId })).namespaces;
  const row = rows.find((n: NamespaceQuota) => n.namespace === NS_Q)!;
  assert.equal(row.canEdit.allowed, false);
  assert.match(row.canEdit.reason, /may not update resourcequotas in namespace quota-it/);
  const rv = row.quotas[0]!.resourceVersion;
  await assert.rejects(core.methods['quotas.update']({ id: viewerId, namespace: NS_Q, name: 'gpu-quota', resourceVersion: rv, changes: [{ resource: 'requests.nvidia.com/gpu', value: 9 }] }), (err: unknown) => err instanceof TesseraError && err.code === 'FORBIDDEN' && /may not update resourcequotas in namespace quota-it/.test(err.message));

  const teamId = core.clusters.list().find((c) => c.context.startsWith('team-a'))!.id;
  await core.clusters.connect(teamId);
  const team = await core.methods['quotas.list']({ id: teamId });
  assert.deepEqual(team.namespaces.map((n) => n.namespace), ['team-a'], 'a namespace-scoped user sees its namespace');
  assert.match(team.notes.join('\n'), /may not list namespaces cluster-wide; showing namespace team-a only/);
  const ta = team.namespaces[0]!;
  assert.ok(ta.lines.some((l) => l.running > 0), 'team-a\'s own GPU pods are counted');
  assert.equal(ta.canEdit.allowed, false);
  assert.match(ta.canEdit.reason, /user "team-a" may not (create|update) resourcequotas in namespace team-a/);
  await assert.rejects(core.methods['quotas.update']({ id: teamId, namespace: 'team-a', name: 'gpus', changes: [{ resource: 'requests.nvidia.com/gpu', value: 1 }] }), /may not create resourcequotas in namespace team-a/);
  assert.equal((await admin.get<{ items: unknown[] }>('/api/v1/namespaces/team-a/resourcequotas')).items.length, 0, 'nothing was created');
  const refused = (await core.audit!.query({ action: 'quota.update', outcome: 'failed', limit: 20 })).entries;
  assert.ok(refused.some((e) => e.targets[0]?.namespace === 'team-a' && /may not create resourcequotas/.test(e.error?.message ?? '')), 'the refusal is audited');
});

function hoursOf(p: RawPod, end: number): { gpu: number; mig: number } {
  const start = Date.parse(p.status.startTime!);
  const fin = p.status.containerStatuses?.[0]?.state?.terminated?.finishedAt;
  const h = ((fin ? Date.parse(fin) : end) - start) / 3_600_000;
  const lim = p.spec.containers[0]!.resources.limits ?? {};
  return { gpu: h * Number(lim['nvidia.com/gpu'] ?? 0), mig: h * Number(lim['nvidia.com/mig-1g.10gb'] ?? 0) };
}

test('showback: a report for the namespace matches GPU-hours computed by hand from the pods the test created', async () => {
  const from = new Date(Date.now() - 60_000).toISOString();
  await core.methods['settings.update']({ patch: { showback: { currency: 'USD', prices: [{ model: H100, price: 3.6 }, { model: '*', price: 1.8 }] } } });
  await admin.create(`/api/v1/namespaces/${NS_S}/pods`, pod(NS_S, 'one-gpu', 'nvidia.com/gpu', 1, { product: H100 }));
  await admin.create(`/api/v1/namespaces/${NS_S}/pods`, pod(NS_S, 'two-gpu', 'nvidia.com/gpu', 2, { product: H100, annotations: { [SIM_ANNOTATIONS.idle]: 'true' } }));
  await admin.create(`/api/v1/namespaces/${NS_S}/pods`, pod(NS_S, 'mig-pair', 'nvidia.com/mig-1g.10gb', 2));
  await admin.create(`/api/v1/namespaces/${NS_S}/pods`, pod(NS_S, 'short-job', 'nvidia.com/gpu', 1, { product: H100, restartPolicy: 'Never', annotations: { [SIM_ANNOTATIONS.runMs]: '2000' } }));
  await admin.create(`/api/v1/namespaces/${NS_S}/pods`, pod(NS_S, 'doomed', 'nvidia.com/gpu', 1, { product: H100 }));
  await eventually('showback pods started', async () => {
    const items = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS_S}/pods`)).items;
    return items.length === 5 && items.every((p) => p.status.startTime) && items.find((p) => p.metadata.name === 'short-job')?.status.phase === 'Succeeded' ? items : undefined;
  }, 60_000, 300);
  await sleep(3000);
  // Tessera sees "doomed" running, then it is deleted: it counts up to that sighting.
  const seenAt0 = Date.now();
  await core.methods['showback.report']({ id, from, to: new Date().toISOString() });
  const seenAt1 = Date.now();
  const doomed = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS_S}/pods`)).items.find((p) => p.metadata.name === 'doomed')!;
  await admin.delete(`/api/v1/namespaces/${NS_S}/pods/doomed?gracePeriodSeconds=0`);
  await eventually('doomed is gone', async () => (await admin.get(`/api/v1/namespaces/${NS_S}/pods/doomed`).then(() => false, () => true)) || undefined, 30_000, 300);
  await sleep(2000);

  const pods = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS_S}/pods`)).items;
  const t0 = Date.now();
  const report = await core.methods['showback.report']({ id, from, to: new Date(t0 + 1).toISOString() });
  const t1 = Date.now();
  assert.equal(report.source, 'observed');
  assert.equal(report.partial, true);
  assert.match(report.sourceNote, /^Partial:/);

  // By hand: running pods count to "now" (somewhere between t0 and t1), finished ones to finishedAt, doomed to when it was seen.
  const lo = { gpu: 0, mig: 0 };
  const hi = { gpu: 0, mig: 0 };
  for (const p of pods) {
    const a = hoursOf(p, t0);
    const b = hoursOf(p, t1);
    lo.gpu += a.gpu; lo.mig += a.mig; hi.gpu += b.gpu; hi.mig += b.mig;
  }
  lo.gpu += hoursOf(doomed, seenAt0).gpu;
  hi.gpu += hoursOf(doomed, seenAt1).gpu;
  // MIG 1g.10gb on an H100 or A100-80GB is 1/8 of a GPU.
  const expectLo = lo.gpu + lo.mig / 8;
  const expectHi = hi.gpu + hi.mig / 8;
  const ns = report.byNamespace.find((r) => r.key === NS_S)!;
  assert.ok(ns, 'the namespace is in the report');
  const slack = 1.5 / 3600; // start times have one-second resolution
  assert.ok(ns.gpuHours >= expectLo - slack && ns.gpuHours <= expectHi + slack, `GPU-hours ${ns.gpuHours} within [${expectLo}, ${expectHi}]`);
  assert.ok(expectHi > 0.004, `the pods ran long enough to measure (${expectHi} h)`);
  assert.equal(ns.pods, 5, 'the deleted pod is still counted');
  const team = report.byTeam.find((r) => r.key === 'showback-team')!;
  assert.equal(team.gpuHours, ns.gpuHours, 'team from the namespace label');
  const wl = report.byWorkload.find((r) => r.key === `${NS_S}/Pod/doomed`)!;
  const doomedHours = hoursOf(doomed, seenAt0).gpu;
  assert.ok(wl.gpuHours >= doomedHours - slack && wl.gpuHours <= hoursOf(doomed, seenAt1).gpu + slack, `doomed: ${wl.gpuHours} h`);
  // Prices: whole H100s at 3.6/h; the MIG slices at 1/8 of their GPU's price (3.6 on H100, else the 1.8 wildcard).
  const migHours = report.byWorkload.find((r) => r.key === `${NS_S}/Pod/mig-pair`)!.gpuHours;
  const wholeHours = ns.gpuHours - migHours;
  assert.ok(Math.abs(ns.cost - (wholeHours * 3.6 + migHours * 3.6)) < 1e-9 || Math.abs(ns.cost - (wholeHours * 3.6 + migHours * 1.8)) < 1e-9, `cost ${ns.cost}`);
  assert.equal(ns.unpricedHours, 0);
  // The idle pod was sampled idle by dcgm-exporter; the busy one was not.
  const idle = report.byWorkload.find((r) => r.key === `${NS_S}/Pod/two-gpu`)!;
  const busy = report.byWorkload.find((r) => r.key === `${NS_S}/Pod/one-gpu`)!;
  assert.ok(idle.idleHours !== null && idle.idleHours > 0 && idle.usedHours === 0, `idle pod: ${JSON.stringify(idle)}`);
  assert.ok(busy.usedHours !== null && busy.usedHours > 0 && busy.idleHours === 0, `busy pod: ${JSON.stringify(busy)}`);
  const log = fs.readdirSync(path.join(dataDir, 'showback'));
  assert.ok(log.some((f) => f.startsWith('observed-')), 'the observation log is kept in the data folder');

  await assert.rejects(core.methods['showback.report']({ id, from: report.to, to: report.from }), /ends .* before it starts/);
});

test('showback from Prometheus: the stand-in\'s kube-state-metrics and dcgm series give the same GPU-hours as the pods\' lifetimes', async () => {
  const prom = await startPrometheusStandin(admin);
  try {
    await core.methods['settings.update']({ patch: { showback: { prometheusUrl: prom.url } } });
    const pods = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS_S}/pods`)).items;
    const running = pods.filter((p) => p.status.phase === 'Running');
    assert.equal(running.length, 3, 'one-gpu, two-gpu, mig-pair');
    // A period that starts after every running pod started: each ran through all of it, so by hand
    // GPU-hours = (1 + 2 + 2 × 1/8) × the period, and the job that finished earlier counts nothing.
    // (Prometheus samples are points: a pod alive at a sample counts for the whole step, so the period also starts after the job finished.)
    const finished = pods.flatMap((p) => p.status.containerStatuses?.map((c) => Date.parse(c.state?.terminated?.finishedAt ?? '')) ?? []).filter(Number.isFinite);
    const from = Math.max(...running.map((p) => Date.parse(p.status.startTime!)), ...finished) + 1000;
    while (Date.now() < from + 3000) await sleep(200);
    const to = Date.now();
    const report = await core.methods['showback.report']({ id, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
    assert.equal(report.source, 'prometheus', report.warnings.join('\n'));
    assert.equal(report.partial, false);
    assert.ok(prom.queries.some((q) => q.startsWith('/api/v1/query_range') && q.includes('kube_pod_container_resource_requests')), prom.queries.join('\n'));
    const hours = (to - from) / 3_600_000;
    const ns = report.byNamespace.find((r) => r.key === NS_S)!;
    assert.ok(Math.abs(ns.gpuHours - 3.25 * hours) < 1e-9, `${ns.gpuHours} vs ${3.25 * hours}: ${JSON.stringify(report.byWorkload.filter((r) => r.namespace === NS_S).map((r) => [r.key, r.gpuHours / hours]))}`);
    assert.equal(ns.pods, 3);
    assert.equal(report.byTeam.find((r) => r.key === 'showback-team')?.gpuHours, ns.gpuHours, 'team from kube_namespace_labels');
    const two = report.byWorkload.find((r) => r.key === `${NS_S}/Pod/two-gpu`)!;
    assert.ok(Math.abs(two.gpuHours - 2 * hours) < 1e-9);
    assert.equal(two.idleHours, two.gpuHours, 'the idle pod: all of its hours idle');
    assert.equal(report.byWorkload.find((r) => r.key === `${NS_S}/Pod/one-gpu`)!.idleHours, 0);
    assert.equal(report.byWorkload.find((r) => r.key === `${NS_S}/Pod/short-job`), undefined, 'finished before the period');
    // Whole H100s at 3.6/h; the slices at 1/8 of their GPU's price (3.6 on an H100, the 1.8 wildcard elsewhere).
    assert.ok([3.6, 1.8].some((slice) => Math.abs(ns.cost - (3 * 3.6 + 0.25 * slice) * hours) < 1e-9), `cost ${ns.cost}`);
  } finally {
    await prom.close();
  }
  // A Prometheus that does not answer: the report says so and falls back to Tessera's own, partial numbers.
  await core.methods['settings.update']({ patch: { showback: { prometheusUrl: prom.url } } });
  const fallback = await core.methods['showback.report']({ id, from: new Date(Date.now() - 600_000).toISOString(), to: new Date().toISOString() });
  assert.equal(fallback.source, 'observed');
  assert.equal(fallback.partial, true);
  assert.ok(fallback.warnings.some((w) => /Prometheus could not be used.*did not answer/.test(w)), fallback.warnings.join('\n'));
  await core.methods['settings.update']({ patch: { showback: { prometheusUrl: '' } } });
  assert.equal((await core.methods['settings.get']({})).settings.showback.prometheusUrl, undefined, 'an empty URL clears it');
});
