// Runs Tessera's core alone in its own process, so its memory is measured
// without the benchmark's own load: connect, watch, report when complete.
import fs from 'node:fs';
import { systemClock } from '../../electron/core/clock.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { NodeService } from '../../electron/core/nodes/node-service.ts';
import type { NodeRow } from '../../shared/model/node.ts';

const [kubeconfig, expectedNodes] = [process.argv[2]!, Number(process.argv[3])];
const send = (msg: Record<string, unknown>) => process.send?.(msg);

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.memoryUsage().rss / 2 ** 20);
}

const rows = new Map<string, NodeRow>();
let waitFor: { allocated: number; since: number } | null = null;
const allocated = () => {
  let n = 0;
  for (const r of rows.values()) n += r.gpu?.allocated ?? 0;
  return n;
};

const started = performance.now();
const clusters = new ClusterService({ clock: systemClock, kubeconfigFiles: [kubeconfig] });
await clusters.load();
const id = clusters.list()[0]!.id;
await clusters.connect(id);
const nodes = new NodeService(clusters, systemClock);
let complete = false;
nodes.watch(id, (d) => {
  if (d.reset) {
    rows.clear();
    for (const r of d.reset) rows.set(r.name, r);
  }
  for (const r of d.upsert) rows.set(r.name, r);
  for (const n of d.remove) rows.delete(n);
  if (!complete && d.status === 'live' && rows.size === expectedNodes) {
    complete = true;
    send({ type: 'complete', ms: performance.now() - started, nodes: rows.size, allocated: allocated(), peakRssMiB: peakRssMiB() });
  }
  if (waitFor && allocated() === waitFor.allocated) {
    send({ type: 'consistent', ms: performance.now() - waitFor.since, peakRssMiB: peakRssMiB() });
    waitFor = null;
  }
});

process.on('message', (msg: { type: string; allocated?: number }) => {
  if (msg.type === 'expect') {
    waitFor = { allocated: msg.allocated!, since: performance.now() };
    if (allocated() === waitFor.allocated) {
      send({ type: 'consistent', ms: 0, peakRssMiB: peakRssMiB() });
      waitFor = null;
    }
  }
  if (msg.type === 'stats') send({ type: 'stats', allocated: allocated(), peakRssMiB: peakRssMiB() });
  if (msg.type === 'exit') process.exit(0);
});
