// `npm run bench -- gzip [--nodes 1000] [--runs 3] [--state DIR] [--keep]`
// What connection.gzip buys and costs: the inventory's paged lists (every node
// and every pod, 500 a page, as Tessera reads them) over one cluster
// connection, uncompressed and gzipped. Prints the median time here (a
// loopback link: the cost side) and the bytes on the wire, with the time those
// bytes take on a 10 and a 100 Mbit/s link (the benefit side; computed from
// the bytes, not measured). Figures, not pass/fail (test-results/bench-gzip.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCore } from '../../electron/core/core.ts';
import { listPages } from '../../electron/core/kube/kube-http.ts';
import type { KubeAccess } from '../../electron/core/kube/kube-access.ts';
import { startTestbed, stopTestbed } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    nodes: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    state: { type: 'string' },
  },
});
const N = Number(values.nodes);
const RUNS = Number(values.runs);
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const stateDir = path.resolve(values.state ?? path.join(os.tmpdir(), `tessera-bench-gzip-${N}`));

log(`test bed: ${N} nodes (${stateDir})`);
const info = await startTestbed({ nodes: N, stateDir });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-gzip-data-'));
const core = await createCore({ host: 'headless', version: 'bench', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
const id = core.clusters.list()[0]!.id;
await core.clusters.connect(id);
const kc: KubeAccess = await core.clusters.connection(id).kubeConfig();

async function listAll(): Promise<{ ms: number; wire: number; body: number; objects: number }> {
  const before = { ...kc.traffic };
  const started = performance.now();
  let objects = 0;
  for (const p of ['/api/v1/nodes', '/api/v1/pods']) for await (const page of listPages(kc, p, {}, { pageSize: 500 })) objects += page.items.length;
  return { ms: performance.now() - started, wire: kc.traffic.wireBytes - before.wireBytes, body: kc.traffic.bodyBytes - before.bodyBytes, objects };
}

const median = <T extends { ms: number }>(xs: T[]): T => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;
async function measure(gzip: boolean) {
  await core.settings!.update({ connection: { gzip } });
  await listAll(); // warm the connection
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await listAll());
  const m = median(runs);
  const onLink = (mbit: number) => +((m.wire * 8) / (mbit * 1e6)).toFixed(2);
  return { ms: Math.round(m.ms), wireKiB: Math.round(m.wire / 1024), bodyKiB: Math.round(m.body / 1024), objects: m.objects, seconds10Mbit: onLink(10), seconds100Mbit: onLink(100) };
}

const identity = await measure(false);
const gzip = await measure(true);
const figures = { nodes: N, identity, gzip, wireRatio: +(gzip.wireKiB / identity.wireKiB).toFixed(3) };
console.log(JSON.stringify(figures, null, 2));
console.log(
  [
    `${identity.objects} objects (nodes and pods), ${identity.bodyKiB} KiB of JSON`,
    `identity  ${identity.ms} ms here, ${identity.wireKiB} KiB on the wire: ${identity.seconds10Mbit} s at 10 Mbit/s, ${identity.seconds100Mbit} s at 100 Mbit/s`,
    `gzip      ${gzip.ms} ms here, ${gzip.wireKiB} KiB on the wire: ${gzip.seconds10Mbit} s at 10 Mbit/s, ${gzip.seconds100Mbit} s at 100 Mbit/s`,
  ].join('\n'),
);
fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'test-results/bench-gzip.json'), JSON.stringify(figures, null, 2));
await core.dispose();
if (!values.keep && !values.state) await stopTestbed(stateDir);
process.exit(0);
