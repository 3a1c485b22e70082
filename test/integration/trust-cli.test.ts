// `tessera quotas` and `tessera showback` against the real test bed, run as the
// CLI is run (a child process): list matches the pods created in a fresh
// namespace with a ResourceQuota, set without --yes changes nothing, set --yes
// changes the quota and writes an audit entry (read back with `tessera audit
// export`), a stale resourceVersion and the viewer are refused by name, the
// showback CSV's GPU-hours match the pods' own start times, and bad flags exit 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { NamespaceQuota, QuotaList } from '../../shared/contract/quotas.ts';
import type { ShowbackReport } from '../../shared/model/showback.ts';
import { SIM_ANNOTATIONS, sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { deadPort, eventually, namespaceSettled } from '../support/testbed-info.ts';
import { startPrometheusStandin } from '../support/prometheus-standin.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'trust-cli';
const TEAM = 'cli-team';
const H100 = 'NVIDIA-H100-80GB-HBM3';
let info: TestbedInfo;
let admin: Kube;
let dataDir: string;
let createdFrom: string;

type Run = { status: number; stdout: string; stderr: string };

function tessera(args: string[], kubeconfig: 'admin' | 'viewer' | 'none' = 'admin'): Promise<Run> {
  return new Promise((resolve) => {
    const kc = kubeconfig === 'none' ? [] : ['--kubeconfig', info.kubeconfigs[kubeconfig]];
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/cli/tessera.ts'), ...args, ...kc], { cwd: root, env: { ...process.env, KUBECONFIG: '', TESSERA_DATA_DIR: dataDir } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

function pod(name: string, resource: string, count: number, extra: { annotations?: Record<string, string>; product?: string } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      automountServiceAccountToken: false,
      ...(extra.product ? { nodeSelector: { 'nvidia.com/gpu.product': extra.product } } : {}),
      containers: [{ name: 'main', image: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04', resources: { limits: { [resource]: String(count), cpu: '1', memory: '1Gi' } } }],
    },
  };
}

type RawPod = { metadata: { name: string }; spec: { containers: { resources: { limits?: Record<string, string> } }[] }; status: { phase: string; startTime?: string; containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[] } };
type LiveQuota = { metadata: { resourceVersion: string }; spec: { hard: Record<string, string> } };
const liveQuota = () => admin.get<LiveQuota>(`/api/v1/namespaces/${NS}/resourcequotas/gpu-quota`);
const auditEntries = async () => {
  const r = await tessera(['audit', 'export', '--format', 'jsonl'], 'none');
  // No entry yet: the audit folder is made by the first one.
  if (r.status === 2 && /no audit directory/.test(r.stderr)) return [];
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { action: string; outcome: string; targets: { kind: string; namespace?: string; name: string }[]; before?: unknown; after?: unknown; error?: { message: string } });
};

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-trust-cli-'));
  await admin.delete(`/api/v1/namespaces/${NS}`).catch(() => undefined);
  await eventually(`${NS} deleted`, async () => (await admin.get(`/api/v1/namespaces/${NS}`).then(() => false, () => true)) || undefined, 90_000, 500);
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'tessera.dev/team': TEAM } } });
  await admin.create(`/api/v1/namespaces/${NS}/resourcequotas`, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'gpu-quota' }, spec: { hard: { 'requests.nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '2', 'requests.cpu': '20' } } });
  await namespaceSettled(admin, NS, ['gpu-quota']);
  createdFrom = new Date(Date.now() - 5_000).toISOString();
  await admin.create(`/api/v1/namespaces/${NS}/pods`, pod('one-gpu', 'nvidia.com/gpu', 1, { product: H100 }));
  await admin.create(`/api/v1/namespaces/${NS}/pods`, pod('two-gpu', 'nvidia.com/gpu', 2, { product: H100, annotations: { [SIM_ANNOTATIONS.idle]: 'true' } }));
  await admin.create(`/api/v1/namespaces/${NS}/pods`, pod('mig-pair', 'nvidia.com/mig-1g.10gb', 2));
  // One GPU more than the quota leaves: the ReplicaSet's pod is refused at admission.
  const tpl = pod('extra', 'nvidia.com/gpu', 1, { product: H100 });
  await admin.create(`/apis/apps/v1/namespaces/${NS}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'extra', namespace: NS }, spec: { replicas: 1, selector: { matchLabels: { app: 'extra' } }, template: { metadata: { labels: { app: 'extra' } }, spec: tpl.spec } } });
});

after(async () => {
  await admin?.delete(`/api/v1/namespaces/${NS}`).catch(() => undefined);
  admin?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('quotas list: GPU and MIG requests match the pods, quota used/hard and the refusal are shown', async () => {
  const row = await eventually('trust-cli shows its pods and the refusal', async () => {
    const r = await tessera(['quotas', 'list', '-n', NS, '--json']);
    if (r.status !== 0) throw new Error(r.stderr);
    const ns = (JSON.parse(r.stdout) as QuotaList).namespaces;
    assert.equal(ns.length, 1, '-n keeps one namespace');
    const x = ns[0]!;
    return x.refusals.length > 0 && x.lines.find((l) => l.resource === 'nvidia.com/gpu')?.running === 3 && x.lines.find((l) => l.resource === 'nvidia.com/gpu')?.quota?.used === 3 ? x : undefined;
  }, 90_000, 1000);
  const pods = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS}/pods`)).items.filter((p) => p.status.phase === 'Running');
  const sum = (res: string) => pods.reduce((s, p) => s + Number(p.spec.containers[0]!.resources.limits?.[res] ?? 0), 0);
  const line = (res: string) => row.lines.find((l) => l.resource === res)!;
  assert.equal(line('nvidia.com/gpu').running, sum('nvidia.com/gpu'));
  assert.equal(line('nvidia.com/mig-1g.10gb').running, sum('nvidia.com/mig-1g.10gb'));
  assert.deepEqual(line('nvidia.com/gpu').quota, { name: 'gpu-quota', key: 'requests.nvidia.com/gpu', used: 3, hard: 3 });
  assert.deepEqual(line('nvidia.com/mig-1g.10gb').quota, { name: 'gpu-quota', key: 'requests.nvidia.com/mig-1g.10gb', used: 2, hard: 2 });
  assert.equal(row.team, TEAM);
  assert.match(row.refusals[0]!.owner, /^ReplicaSet\/extra-/);
  assert.match(row.refusals[0]!.message, /exceeded quota: gpu-quota/);

  const text = await tessera(['quotas', 'list', '-n', NS]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /trust-cli\s+cli-team\s+nvidia\.com\/gpu\s+3\s+0\s+3\/3 \(gpu-quota\)\s+yes/);
  assert.match(text.stdout, /trust-cli\s+cli-team\s+nvidia\.com\/mig-1g\.10gb\s+2\s+0\s+2\/2 \(gpu-quota\)/);
  assert.match(text.stdout, /trust-cli: ReplicaSet\/extra-\S+ refused \d+× by quota.*exceeded quota: gpu-quota/);

  const missing = await tessera(['quotas', 'list', '-n', 'no-such-ns']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^tessera: namespace no-such-ns is not among the namespaces you can see/);
});

test('quotas set without --yes shows before/after and changes nothing', async () => {
  const hard = (await liveQuota()).spec.hard;
  const r = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=5', 'nvidia.com/mig-1g.10gb=4']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /would change ResourceQuota trust-cli\/gpu-quota:/);
  assert.match(r.stdout, /requests\.nvidia\.com\/gpu: 3 -> 5/);
  assert.match(r.stdout, /requests\.nvidia\.com\/mig-1g\.10gb: 2 -> 4/, 'requests. is assumed');
  assert.match(r.stdout, /nothing changed; run again with --yes/);
  const j = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=5', '--json']);
  assert.equal(j.status, 0, j.stderr);
  const plan = JSON.parse(j.stdout) as { dryRun: boolean; changed: boolean; before: Record<string, string>; after: Record<string, string>; resourceVersion: string };
  assert.equal(plan.dryRun, true);
  assert.equal(plan.changed, false);
  assert.deepEqual(plan.after, { 'requests.nvidia.com/gpu': '5', 'requests.nvidia.com/mig-1g.10gb': '2' });
  // (status.used updates move the resourceVersion, so the spec is what is compared)
  assert.deepEqual((await liveQuota()).spec.hard, hard, 'the quota was not written');
  assert.equal(hard['requests.nvidia.com/gpu'], '3');
  assert.equal((await auditEntries()).filter((e) => e.action === 'quota.update').length, 0, 'nothing to audit');
});

test('quotas set --yes changes the quota, audits it, and refuses a stale resourceVersion', async () => {
  const stale = (await liveQuota()).metadata.resourceVersion;
  const r = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=5', '--yes', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { changed: boolean; before: Record<string, string>; after: Record<string, string>; resourceVersion: string };
  assert.equal(res.changed, true);
  assert.deepEqual(res.before, { 'requests.nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '2' });
  assert.deepEqual(res.after, { 'requests.nvidia.com/gpu': '5', 'requests.nvidia.com/mig-1g.10gb': '2' });
  const live = await liveQuota();
  assert.deepEqual(live.spec.hard, { 'requests.nvidia.com/gpu': '5', 'requests.nvidia.com/mig-1g.10gb': '2', 'requests.cpu': '20' }, 'other keys kept');
  assert.notEqual(live.metadata.resourceVersion, stale);

  const entry = (await auditEntries()).find((e) => e.action === 'quota.update' && e.outcome === 'succeeded');
  assert.ok(entry, 'audited');
  assert.deepEqual(entry.targets, [{ kind: 'ResourceQuota', namespace: NS, name: 'gpu-quota' }]);
  assert.deepEqual(entry.before, res.before);
  assert.deepEqual(entry.after, res.after);
  const verify = await tessera(['audit', 'verify'], 'none');
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);

  // The resourceVersion read before that change is now stale: refused, nothing written.
  const old = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=9', '--resource-version', stale, '--yes']);
  assert.equal(old.status, 1);
  assert.match(old.stderr, /^tessera: ResourceQuota trust-cli\/gpu-quota changed since it was shown \(resourceVersion \d+ → \d+\); reload and try again\n$/m);
  assert.equal((await liveQuota()).spec.hard['requests.nvidia.com/gpu'], '5');
  assert.ok((await auditEntries()).some((e) => e.action === 'quota.update' && e.outcome === 'failed' && /changed since it was shown/.test(e.error?.message ?? '')), 'the conflict is audited');

  // Setting what is already there is a no-op.
  const same = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=5', '--yes']);
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stdout, /already has requests\.nvidia\.com\/gpu=5; nothing to change/);
});

test('quotas set as the viewer is refused, naming the missing permission, and changes nothing', async () => {
  const before = await liveQuota();
  const dry = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=9'], 'viewer');
  assert.equal(dry.status, 1);
  assert.match(dry.stderr, /^tessera: Cannot update ResourceQuota trust-cli\/gpu-quota: .*may not update resourcequotas in namespace trust-cli/);
  assert.doesNotMatch(dry.stdout, /would change/);
  const yes = await tessera(['quotas', 'set', NS, 'requests.nvidia.com/gpu=9', '--yes'], 'viewer');
  assert.equal(yes.status, 1);
  assert.match(yes.stderr, /may not update resourcequotas in namespace trust-cli/);
  const after = await liveQuota();
  assert.deepEqual(after.spec.hard, before.spec.hard);
  assert.equal(after.spec.hard['requests.nvidia.com/gpu'], '5');
  assert.ok((await auditEntries()).some((e) => e.action === 'quota.update' && e.outcome === 'failed' && /may not update resourcequotas/.test(e.error?.message ?? '')), 'the refused --yes is audited');
});

function hoursOf(p: RawPod, end: number): { gpu: number; mig: number } {
  const start = Date.parse(p.status.startTime!);
  const fin = p.status.containerStatuses?.[0]?.state?.terminated?.finishedAt;
  const h = Math.max(0, ((fin ? Date.parse(fin) : end) - start) / 3_600_000);
  const lim = p.spec.containers[0]!.resources.limits ?? {};
  return { gpu: h * Number(lim['nvidia.com/gpu'] ?? 0), mig: h * Number(lim['nvidia.com/mig-1g.10gb'] ?? 0) };
}

function csvRows(csv: string): Record<string, string>[] {
  const [head, ...lines] = csv.trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
}

test('showback --csv: the namespace\'s GPU-hours match the pods\' start times; partial label and warnings on stderr', async () => {
  // Long enough to measure against one-second start times.
  await eventually('pods ran 20 s', async () => {
    const items = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS}/pods`)).items;
    return items.length > 0 && items.every((p) => p.status.startTime && Date.now() - Date.parse(p.status.startTime) > 20_000) || undefined;
  }, 60_000, 500);
  const pods = (await admin.get<{ items: RawPod[] }>(`/api/v1/namespaces/${NS}/pods`)).items;
  const t0 = Date.now();
  const r = await tessera(['showback', '--since', createdFrom, '--csv']);
  const t1 = Date.now();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^Partial: from pods the API server shows now/m);
  assert.match(r.stderr, /^warning: .*GPU-hours have no price/m);
  const rows = csvRows(r.stdout);
  assert.equal(r.stdout.split('\n')[0], 'group,key,namespace,team,gpu_hours,used_hours,idle_hours,unknown_idle_hours,cost_USD,unpriced_hours,pods');
  const ns = rows.find((x) => x.group === 'namespace' && x.key === NS);
  assert.ok(ns, r.stdout);
  // By hand: each pod from its startTime to "now" (between t0 and t1); a 1g.10gb slice of an H100/A100-80GB is 1/8 GPU.
  const lo = pods.reduce((s, p) => s + hoursOf(p, t0).gpu + hoursOf(p, t0).mig / 8, 0);
  const hi = pods.reduce((s, p) => s + hoursOf(p, t1).gpu + hoursOf(p, t1).mig / 8, 0);
  const slack = 1.5 / 3600 + 1e-4; // one-second start times, four decimals in the CSV
  const got = Number(ns.gpu_hours);
  assert.ok(got >= lo - slack && got <= hi + slack, `GPU-hours ${got} within [${lo}, ${hi}]`);
  assert.ok(lo > 3.25 * 20 / 3600, `the pods ran long enough to measure (${lo} h)`);
  assert.equal(Number(ns.pods), pods.length);
  assert.equal(rows.find((x) => x.group === 'team' && x.key === TEAM)?.gpu_hours, ns.gpu_hours, 'team from the namespace label');
  const idle = rows.find((x) => x.group === 'workload' && x.key === `${NS}/Pod/two-gpu`)!;
  assert.ok(Number(idle.idle_hours) > 0 && Number(idle.used_hours) === 0, `the idle pod: ${JSON.stringify(idle)}`);

  // --by keeps one grouping (and the total); --json carries the same label and warnings.
  const byTeam = csvRows((await tessera(['showback', '--since', createdFrom, '--csv', '--by', 'team'])).stdout);
  assert.deepEqual([...new Set(byTeam.map((x) => x.group))].sort(), ['team', 'total']);
  const j = await tessera(['showback', '--period', '24h', '--by', 'workload', '--json']);
  assert.equal(j.status, 0, j.stderr);
  const report = JSON.parse(j.stdout) as ShowbackReport;
  assert.equal(report.partial, true);
  assert.equal(report.source, 'observed');
  assert.ok(report.warnings.some((w) => /have no price/.test(w)), report.warnings.join('\n'));
  assert.equal(j.stderr, '', 'nothing on stderr with --json');
  assert.ok(Date.parse(report.to) - Date.parse(report.from) === 86_400_000, '24h period');
  const text = await tessera(['showback', '--since', createdFrom]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^${NS}\\s+\\d+\\.\\d\\d\\s`, 'm'));
  const wl = await tessera(['showback', '--since', createdFrom, '--by', 'workload']);
  assert.match(wl.stdout, new RegExp(`^${NS}/Pod/two-gpu\\s+${TEAM}\\s+\\d+\\.\\d\\d\\s`, 'm'), 'workloads show their team');
  assert.match(text.stdout, /^TOTAL\s/m);
});

test('showback --prometheus reads the named Prometheus for this report; one that does not answer falls back, with a warning', async () => {
  const prom = await startPrometheusStandin(admin);
  try {
    const to = Date.now();
    const from = to - 10_000;
    const r = await tessera(['showback', '--since', new Date(from).toISOString(), '--until', new Date(to).toISOString(), '--prometheus', prom.url, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ShowbackReport;
    assert.equal(report.source, 'prometheus', report.warnings.join('\n'));
    assert.equal(report.partial, false);
    assert.ok(prom.queries.some((q) => q.startsWith('/api/v1/query_range')), prom.queries.join('\n'));
    assert.ok(report.byNamespace.some((x) => x.key === NS && x.gpuHours > 0));
  } finally {
    await prom.close();
  }
  const dead = await tessera(['showback', '--period', '24h', '--prometheus', `http://127.0.0.1:${await deadPort()}`]);
  assert.equal(dead.status, 0, dead.stderr);
  assert.match(dead.stderr, /^warning: Prometheus could not be used/m);
  assert.match(dead.stderr, /^Partial:/m);
});

test('bad flags exit 2 with a clear message and change nothing', async () => {
  const before = await liveQuota();
  const cases: [string[], RegExp][] = [
    [['quotas', 'set', NS, 'requests.cpu=4', '--yes'], /"requests\.cpu" is not a GPU quota key/],
    [['quotas', 'set', NS, 'nvidia.com/gpu=two', '--yes'], /requests\.nvidia\.com\/gpu takes a whole number of devices .*got "two"/],
    [['quotas', 'set', NS, 'nvidia.com/gpu', '--yes'], /"nvidia\.com\/gpu" is not RESOURCE=COUNT or RESOURCE-/],
    [['quotas', 'set', NS, '--yes'], /quotas set needs at least one RESOURCE=COUNT/],
    [['quotas', 'set', NS, 'nvidia.com/gpu=1', 'requests.nvidia.com/gpu=2', '--yes'], /requests\.nvidia\.com\/gpu is named twice/],
    [['quotas', 'set', NS, 'nvidia.com/gpu=1', '--resource-version', 'abc', '--yes'], /--resource-version takes a resourceVersion/],
    [['quotas', 'frob'], /unknown quotas command "frob"/],
    [['quotas', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['showback', '--period', '2w'], /--period takes 24h, 7d, 30d, month, got "2w"/],
    [['showback', '--period', '24h', '--since', '2026-11-01T00:00:00Z'], /--period and --since\/--until are exclusive/],
    [['showback', '--since', 'yesterday'], /--since takes an ISO time/],
    [['showback', '--since', '2026-11-02T00:00:00Z', '--until', '2026-11-01T00:00:00Z'], /ends .* before it starts/],
    [['showback', '--by', 'cluster'], /--by takes team, namespace, workload, got "cluster"/],
    [['showback', '--json', '--csv'], /--json and --csv are exclusive/],
    [['showback', '--prometheus', 'ftp://x'], /--prometheus takes an http\(s\) URL/],
  ];
  for (const [args, re] of cases) {
    const r = await tessera(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tessera: /);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')} prints nothing on stdout`);
  }
  assert.deepEqual((await liveQuota()).spec.hard, before.spec.hard, 'the quota was not written');
});
