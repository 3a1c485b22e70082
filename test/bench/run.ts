// `npm run bench -- inventory [--nodes 2000] [--pods 16000] [--burst 5000] [--browser]`
// Figures, not pass/fail: printed as a table and as JSON (test-results/bench-inventory.json).
import { execFileSync, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { mapLimit } from '../testbed/kube.ts';
import { createGpuPods, startTestbed, stopTestbed, testbedClient, type TestbedInfo } from '../testbed/index.ts';
import { measureGpuMap } from './gpu-map-render.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// `npm run bench -- rollout …` and `gzip …` have their own options; they exit when done.
if (process.argv[2] === 'rollout') await import('./rollout-bench.ts');
if (process.argv[2] === 'gzip') await import('./gzip-bench.ts');
const { positionals, values } = parseArgs({
  allowPositionals: true,
  allowNegative: true,
  options: {
    nodes: { type: 'string', default: '2000' },
    pods: { type: 'string' },
    burst: { type: 'string', default: '5000' },
    browser: { type: 'boolean', default: true },
    keep: { type: 'boolean', default: false },
    state: { type: 'string' },
  },
});
if (positionals[0] !== 'inventory') {
  console.error('usage: npm run bench -- inventory [--nodes N] [--pods P] [--burst B] [--no-browser] [--keep] [--state DIR]');
  process.exit(2);
}

const N = Number(values.nodes);
const P = Number(values.pods ?? N * 8);
const B = Number(values.burst);
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

type Raw = { items: { spec?: { nodeName?: string; containers?: { resources?: { limits?: Record<string, string> } }[] }; status?: { phase?: string } }[]; metadata: { continue?: string } };

/** The floor: the same paged lists Tessera reads, as plain authenticated GETs, nodes and pods in parallel. */
async function rawLists(info: TestbedInfo): Promise<{ ms: number; pods: Raw['items'] }> {
  const kube = testbedClient(info);
  const started = performance.now();
  const all = async (p: string) => {
    const items: Raw['items'] = [];
    let cont: string | undefined;
    do {
      const page = await kube.get<Raw>(p, { limit: 500, ...(cont ? { continue: cont } : {}) });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
    } while (cont);
    return items;
  };
  const [, pods] = await Promise.all([all('/api/v1/nodes'), all('/api/v1/pods')]);
  return { ms: performance.now() - started, pods };
}

function gpuAllocated(pods: Raw['items']): number {
  let n = 0;
  for (const p of pods) {
    if (!p.spec?.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    for (const c of p.spec.containers ?? []) for (const [k, v] of Object.entries(c.resources?.limits ?? {})) if (k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')) n += Number(v);
  }
  return n;
}

function kubectlTime(kubeconfig: string): number | null {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
  } catch {
    log('kubectl not found; installing Debian kubernetes-client');
    try {
      execFileSync('bash', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null'], { stdio: 'inherit' });
    } catch {
      return null;
    }
  }
  const started = performance.now();
  execFileSync('bash', ['-c', `kubectl --kubeconfig ${JSON.stringify(kubeconfig)} get nodes,pods -A -o json > /dev/null`], { maxBuffer: 1 << 30 });
  return performance.now() - started;
}

const stateDir = values.state ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-'));
log(`test bed: ${N} nodes in ${stateDir}`);
let t = performance.now();
// Workload seeding goes through the scheduler (minutes at 2,000 nodes); the benchmark binds its own pods directly.
const info = await startTestbed({ nodes: N, stateDir, workloads: false });
const upMs = performance.now() - t;
const existing = (await rawLists(info)).pods.length;
if (existing < P) {
  log(`creating ${P - existing} GPU pods (bound directly, owned by PyTorchJobs)`);
  t = performance.now();
  const made = await createGpuPods(info, { count: P - existing, schedule: 'direct' });
  log(`pods created in ${seconds(performance.now() - t)}: ${JSON.stringify(made)}`);
}
// Let the scheduler bind what fits (pods asking for a profile no node has stay Pending) before measuring.
let lastUnbound = -1;
for (let i = 0, still = 0; i < 150 && still < 3; i++) {
  const pods = (await rawLists(info)).pods;
  const unbound = pods.filter((p) => !p.spec?.nodeName).length;
  still = unbound === lastUnbound ? still + 1 : 0;
  lastUnbound = unbound;
  if (i % 5 === 0) log(`${pods.length} pods, ${unbound} not yet bound`);
  await new Promise((r) => setTimeout(r, 2000));
}

const raw = [await rawLists(info), await rawLists(info), await rawLists(info)].sort((a, b) => a.ms - b.ms)[1]!;
const kubectlMs = kubectlTime(info.kubeconfigs.admin);

log('starting the probe (Tessera core in its own process, bundled like the app so no TypeScript loader sits in its memory)');
// Not under dist/: `npm run build` (e2e tests run it) empties dist/ and would take the probe away mid-run.
const probeJs = path.join(root, 'test-results/bench/inventory-probe.js');
await build({ entryPoints: [path.join(root, 'test/bench/inventory-probe.ts')], outfile: probeJs, bundle: true, platform: 'node', format: 'esm', target: 'node22', packages: 'external', logLevel: 'warning', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
const startProbe = () => fork(probeJs, [info.kubeconfigs.admin, String(N)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const nextOf = (p: ReturnType<typeof startProbe>) => (type: string) => new Promise<Record<string, number>>((resolve) => p.on('message', (m: Record<string, number> & { type: string }) => m.type === type && resolve(m)));
// Three cold starts, like the three raw listings: the median is the figure, the highest memory is kept.
const completes: Record<string, number>[] = [];
for (let i = 0; i < 2; i++) {
  const p = startProbe();
  completes.push(await nextOf(p)('complete'));
  p.send({ type: 'exit' });
  await new Promise((r) => p.on('exit', r));
}
const probe = startProbe();
const next = nextOf(probe);
completes.push(await next('complete'));
const complete = [...completes].sort((a, b) => a.ms! - b.ms!)[1]!;
const coldPeakRss = Math.max(...completes.map((c) => c.peakRssMiB!));

log(`burst of ${B} pod changes (${B / 2} deletions, ${B / 2} directly bound creations)`);
const kube = testbedClient(info);
const victims = (await kube.get<{ items: { metadata: { name: string; namespace: string } }[] }>('/api/v1/pods', { labelSelector: 'tessera.dev/bench=true', limit: Math.floor(B / 2) })).items;
probe.send({ type: 'mark' });
t = performance.now();
// Grace 0: the pods are gone when the calls return, so the API's truth is final at the end of the burst.
const now0 = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };
await Promise.all([
  mapLimit(victims, 24, (p) => kube.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, now0).catch(() => undefined)),
  createGpuPods(info, { count: B - victims.length, schedule: 'direct', prefix: 'burst', concurrency: 24 }),
]);
const burstMs = performance.now() - t;
const burstEndWall = Date.now();
const burstEnd = performance.now();
// Deleted pods linger until the simulated kubelet finishes them; wait until the API's own count settles.
let truth = -1;
for (let same = 0; same < 2; ) {
  await new Promise((r) => setTimeout(r, 1000));
  const now = gpuAllocated((await rawLists(info)).pods);
  same = now === truth ? same + 1 : 0;
  truth = now;
}
// Measured from the moment the API's truth is known: how far behind it Tessera's inventory is.
const consistentP = next('consistent');
probe.send({ type: 'expect', allocated: truth });
const settleMs = performance.now() - burstEnd;
const consistent = await Promise.race([consistentP, new Promise<Record<string, number>>((r) => setTimeout(() => r({ ms: Number.NaN }), 60_000))]);
const settledP = next('settled-at');
probe.send({ type: 'settled-at', allocated: truth });
const settled = await settledP;
const inventoryLagMs = Math.max(0, settled.at! - burstEndWall);
probe.send({ type: 'stats' });
const stats = await next('stats');
probe.send({ type: 'exit' });

let browser: Awaited<ReturnType<typeof measureGpuMap>> | null = null;
if (values.browser) {
  log('measuring the GPU map in Chromium');
  browser = await measureGpuMap(info.kubeconfigs.admin, N);
}

const figures = {
  nodes: N,
  pods: raw.pods.length,
  testbedUpSeconds: +(upMs / 1000).toFixed(1),
  rawListsMs: Math.round(raw.ms),
  kubectlMs: kubectlMs === null ? null : Math.round(kubectlMs),
  tesseraInventoryMs: Math.round(complete.ms!),
  ratioToRaw: +(complete.ms! / raw.ms).toFixed(2),
  ratioToKubectl: kubectlMs === null ? null : +(complete.ms! / kubectlMs).toFixed(2),
  tesseraInventoryRunsMs: completes.map((c) => Math.round(c.ms!)),
  corePeakRssMiB: Math.max(stats.peakRssMiB!, coldPeakRss),
  burstChanges: B,
  burstApplyMs: Math.round(burstMs),
  apiSettledAfterBurstMs: Math.round(settleMs),
  consistentAfterBurstMs: Math.round(inventoryLagMs),
  lagBehindSettledApiMs: Math.round(consistent.ms!),
  ...(browser ?? {}),
};
console.log(JSON.stringify(figures, null, 2));
fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'test-results/bench-inventory.json'), JSON.stringify(figures, null, 2));
console.log(`targets: inventory ≤ 1.3 × raw (${figures.ratioToRaw}), < 0.5 × kubectl (${figures.ratioToKubectl}), core < 300 MB = 286 MiB (${figures.corePeakRssMiB} MiB), consistent < 2 s after the burst (${figures.consistentAfterBurstMs} ms after its last request)`);
if (!values.keep && !values.state) await stopTestbed(stateDir);
process.exit(0);
