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
/** After a 'mark': every change of the allocated total, with wall-clock time (comparable across processes). */
let timeline: [number, number][] | null = null;
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
  if (timeline && timeline.at(-1)?.[1] !== allocated()) timeline.push([Date.now(), allocated()]);
  if (waitFor && allocated() === waitFor.allocated) {
    send({ type: 'consistent', ms: performance.now() - waitFor.since, peakRssMiB: peakRssMiB() });
    waitFor = null;
  }
});

/** When the inventory reached `value` and stayed there (epoch ms), or null if it has not. */
function settledAt(value: number): number | null {
  if (!timeline?.length || timeline.at(-1)![1] !== value) return allocated() === value && !timeline?.length ? Date.now() : null;
  let i = timeline.length - 1;
  while (i > 0 && timeline[i - 1]![1] === value) i--;
  return timeline[i]![0];
}

process.on('message', (msg: { type: string; allocated?: number }) => {
  if (msg.type === 'mark') timeline = [];
  if (msg.type === 'settled-at') {
    const poll = (left: number) => {
      const at = settledAt(msg.allocated!);
      if (at !== null || left <= 0) return send({ type: 'settled-at', at: at ?? Number.NaN });
      setTimeout(() => poll(left - 50), 50);
    };
    poll(30_000);
  }
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
