// `npm run bench -- rollout [--nodes 200] [--upgrade-ms 10000] [--max-unavailable 20] [--stages 10%,50%] [--state DIR] [--keep] [--page]`
// A driver rollout through the GPU Operator executor on a test bed of --nodes
// nodes (every operator-managed GPU node is a target), with the simulated
// driver pod restart taking T = --upgrade-ms. Prints Tessera's wall time
// against the ideal, stages x ceil(stage nodes / M) x T, and the API requests
// Tessera made per node. With --page, the rollout page follows it in Chromium
// (see rollout-page.ts). Figures, not pass/fail (test-results/bench-rollout.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCore } from '../../electron/core/core.ts';
import { RolloutService } from '../../electron/core/rollouts/rollout-service.ts';
import { parseStageList } from '../../shared/rollout/stages.ts';
import { UPGRADE_MS_ANNOTATION } from '../testbed/fleet/driver-upgrade.ts';
import { startTestbed, stopTestbed } from '../testbed/index.ts';
import { watchRolloutPage } from './rollout-page.ts';
import { RolloutDeltaEncoder } from '../../shared/model/rollout-delta.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  args: process.argv.slice(3),
  allowNegative: true,
  options: {
    nodes: { type: 'string', default: '200' },
    'upgrade-ms': { type: 'string', default: '10000' },
    'max-unavailable': { type: 'string', default: '20' },
    stages: { type: 'string', default: '10%,50%' },
    canary: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    page: { type: 'boolean', default: false },
    state: { type: 'string' },
  },
});
const N = Number(values.nodes);
const T = Number(values['upgrade-ms']);
const M = Number(values['max-unavailable']);
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const stateDir = path.resolve(values.state ?? path.join(os.tmpdir(), `tessera-bench-rollout-${N}`));

log(`test bed: ${N} nodes, driver pod restart ${T} ms (${stateDir})`);
const info = await startTestbed({ nodes: N, stateDir, workloads: false, upgradeMs: T });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-rollout-'));
const core = await createCore({ host: 'headless', version: 'bench', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
const cluster = core.clusters.list()[0]!.id;
await core.clusters.connect(cluster);
const conn = core.clusters.connection(cluster);
const svc = new RolloutService({
  clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms) },
  cluster: () => ({ kubeConfig: () => conn.kubeConfig(), canI: (r) => conn.canI(r), userName: conn.rc.userName }),
  audit: (input) => core.audit!.record(input),
  pollMs: 250,
  timing: { controlPollMs: 1000, drainRetryMs: 1000, gateSettleMs: 30_000, gatePollMs: 500 },
});

const version = `59${Math.floor(Math.random() * 10)}.${10 + Math.floor(Math.random() * 89)}.07`;
const request = {
  id: cluster,
  name: 'bench',
  targets: { selector: 'nvidia.com/gpu.deploy.driver=true' },
  driverVersion: version,
  executor: { kind: 'gpu-operator' as const },
  canary: Number(values.canary),
  stages: parseStageList(values.stages!),
  maxUnavailable: M,
  stallTimeoutSeconds: Math.max(60, Math.ceil((T * 5) / 1000)),
};
const plan = await svc.plan(request);
const stageSizes = plan.stages.map((s) => s.nodes.length);
const ideal = stageSizes.reduce((sum, n) => sum + Math.ceil(n / M) * T, 0);
log(`${plan.nodes.length} target nodes in stages ${stageSizes.join(' + ')}, M=${M}; ideal ${(ideal / 1000).toFixed(1)} s`);

const api = svc.api(cluster);
// The per-node override of the simulated driver pod restart: a test bed kept from a run with another --upgrade-ms
// (--state) would otherwise upgrade at its own T while the ideal assumes this one.
for (const n of plan.nodes) await api.mergePatch(`/api/v1/nodes/${n.name}`, { metadata: { annotations: { [UPGRADE_MS_ANNOTATION]: String(T) } } }, 'set the simulated upgrade time');
const before = api.requests;
const started = performance.now();
const state = await svc.start(request);
const page = values.page ? await watchRolloutPage(core, root, version) : undefined;
// The rollout page's watch, open the whole time as it would be in the window: what it reads and what it sends on.
// Both what the page is sent (the first rollout whole, then changes) and what whole snapshots would have been.
const watch = { emits: 0, bytes: 0, wholeBytes: 0, wholeReads: api.wholeReads };
const encoder = new RolloutDeltaEncoder();
const unwatch = svc.watch(cluster, state.id, (s) => {
  watch.emits++;
  watch.wholeBytes += JSON.stringify(s).length;
  const e = encoder.encode(s);
  if (e) watch.bytes += JSON.stringify(e).length;
});
const final = await svc.drivingPromise(state.id)!;
const wallMs = performance.now() - started;
unwatch();
const requests = api.requests - before;
watch.wholeReads = api.wholeReads - watch.wholeReads;
const lastNode = plan.nodes.at(-1)!.name;
const pageFigures = page ? await page.done(lastNode, plan.nodes.filter((n) => n.name.includes(lastNode)).length).finally(() => page.close()) : undefined;
const figures = {
  fleetNodes: N,
  targetNodes: plan.nodes.length,
  stages: stageSizes,
  maxUnavailable: M,
  upgradeMs: T,
  phase: final.phase,
  wallSeconds: +(wallMs / 1000).toFixed(2),
  idealSeconds: +(ideal / 1000).toFixed(2),
  ratio: +(wallMs / ideal).toFixed(3),
  apiRequests: requests,
  apiRequestsPerNode: +(requests / plan.nodes.length).toFixed(1),
  watchEmits: watch.emits,
  watchKiB: Math.round(watch.bytes / 1024),
  watchWholeKiB: Math.round(watch.wholeBytes / 1024),
  watchWholeReads: watch.wholeReads,
  ...(pageFigures ? { page: pageFigures } : {}),
  stateObjects: 0,
  largestObjectKiB: 0,
  headKiB: 0,
  failedNodes: final.nodes.filter((n) => n.upgrade.step !== 'done').map((n) => `${n.name}: ${n.upgrade.error ?? n.upgrade.step}`),
};
const stored = await svc.status(cluster, state.id);
// What the cluster holds for this rollout: the largest object decides how far it scales (1 MiB per ConfigMap).
const objects = await api.json<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>(
  `/api/v1/namespaces/tessera-system/configmaps?labelSelector=${encodeURIComponent(`tessera.dev/rollout=${state.id}`)}`,
  { action: 'measure the rollout objects' },
);
const sizes = objects.items.map((o) => ({ name: o.metadata.name, bytes: JSON.stringify(o.data ?? {}).length }));
const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a), { name: '-', bytes: 0 });
// The head is rewritten at every step, so its size is what each step costs the API server and etcd.
const headKiB = +((sizes.find((o) => !/-(nodes|logs)-\d+$/.test(o.name))?.bytes ?? 0) / 1024).toFixed(1);
const stateKiB = Math.round(sizes.reduce((sum, o) => sum + o.bytes, 0) / 1024);
// Where a node's time goes: before the operator has it, the operator's walk, and after.
const lineAt = (log: string[], re: RegExp) => {
  const l = log.find((x) => re.test(x));
  return l ? Date.parse(l.slice(0, 24)) : NaN;
};
const parts = { pre: [] as number[], operator: [] as number[], post: [] as number[] };
for (const n of stored.nodes) {
  const u = n.upgrade;
  const released = lineAt(u.log, /released for the operator/);
  const doneSeen = lineAt(u.log, /upgrade-state=upgrade-done/);
  if (![released, doneSeen].every(Number.isFinite) || !u.startedAt || !u.finishedAt) continue;
  parts.pre.push(released - Date.parse(u.startedAt));
  parts.operator.push(doneSeen - released);
  parts.post.push(Date.parse(u.finishedAt) - doneSeen);
}
figures.stateObjects = sizes.length;
figures.largestObjectKiB = Math.round(largest.bytes / 1024);
figures.headKiB = headKiB;
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length / 1000 : NaN);
const breakdown = { preSeconds: +avg(parts.pre).toFixed(2), operatorSeconds: +avg(parts.operator).toFixed(2), postSeconds: +avg(parts.post).toFixed(2) };
console.log(
  [
    `rollout of ${figures.targetNodes} nodes (fleet ${N}) to ${version}: ${final.phase}`,
    `wall time   ${figures.wallSeconds.toFixed(1)} s`,
    `ideal       ${figures.idealSeconds.toFixed(1)} s  (${stageSizes.length} stages x ceil(stage nodes / ${M}) x ${T / 1000} s)`,
    `ratio       ${figures.ratio}  (target <= 1.25)`,
    `per node    ${breakdown.preSeconds} s before the operator has it, ${breakdown.operatorSeconds} s operator walk (T ${T / 1000} s), ${breakdown.postSeconds} s gates + uncordon`,
    `API requests ${requests} = ${figures.apiRequestsPerNode} per node`,
    `watch       ${watch.emits} updates: ${figures.watchKiB} KiB sent as changes (${figures.watchWholeKiB} KiB as whole snapshots), ${watch.wholeReads} whole reads of the rollout`,
    ...(pageFigures ? [`page        ${pageFigures.longTasks} long tasks, ${pageFigures.longTaskMsPerMinute} ms blocked per minute, worst ${pageFigures.worstLongTaskMs} ms; ${pageFigures.nodeRowsInDom} node rows in the DOM; filter to one node ${pageFigures.filterToRowMs} ms`] : []),
    `state       ${figures.stateObjects} ConfigMaps, ${stateKiB} KiB in all, largest ${largest.name} ${figures.largestObjectKiB} KiB, head ${headKiB} KiB`,
    ...(figures.failedNodes.length ? [`not done: ${figures.failedNodes.join('; ')}`] : []),
  ].join('\n'),
);
fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'test-results/bench-rollout.json'), JSON.stringify({ ...figures, ...breakdown }, null, 2));
await core.dispose();
if (!values.keep && !values.state) await stopTestbed(stateDir);
process.exit(0);
