import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { MetricsSnapshot, NodeMetrics } from '../../../shared/model/metrics.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import { findExporters, scrapeExporter, type ExporterPod } from './dcgm-source.ts';
import { gpuMetricsFrom } from './gpu-metrics.ts';
import { IdleTracker } from './idle-tracker.ts';

export interface MetricsOptions {
  intervalMs?: number;
  concurrency?: number;
  scrapeTimeoutMs?: number;
  idlePct?: number;
  idleMinutes?: number;
  hotC?: number;
}

const SOURCE = 'dcgm-exporter pods through the API server proxy';

/** Scrapes one cluster's exporters on an interval and fans the snapshot out to subscribers. */
class ClusterMetrics {
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private readonly idle: IdleTracker;
  private snapshot: MetricsSnapshot;
  readonly subscribers = new Set<(s: MetricsSnapshot) => void>();

  constructor(
    private readonly id: string,
    private readonly clusters: ClusterService,
    private readonly clock: Clock,
    private readonly o: Required<MetricsOptions>,
  ) {
    this.idle = new IdleTracker(o.idlePct);
    this.snapshot = { source: SOURCE, status: 'starting', nodes: {}, failures: [], thresholds: { idlePct: o.idlePct, idleMinutes: o.idleMinutes, hotC: o.hotC } };
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  current(): MetricsSnapshot {
    return this.snapshot;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const kc = await this.clusters.connection(this.id).kubeConfig();
      const pods = await findExporters(kc);
      const nodes: Record<string, NodeMetrics> = {};
      const failures: { node: string; message: string }[] = [];
      let next = 0;
      const worker = async () => {
        while (next < pods.length && !this.stopped) {
          const pod: ExporterPod = pods[next++]!;
          try {
            const { samples, warnings } = await scrapeExporter(kc, pod, this.o.scrapeTimeoutMs);
            const gpus = gpuMetricsFrom(samples, { hotC: this.o.hotC });
            this.idle.apply(pod.node, gpus, this.clock.now());
            nodes[pod.node] = { scrapedAt: new Date(this.clock.now()).toISOString(), gpus, ...(warnings.length ? { warnings: warnings.slice(0, 5) } : {}) };
          } catch (err) {
            failures.push({ node: pod.node, message: toErrorShape(err).message });
            this.idle.forget(pod.node);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.o.concurrency, pods.length) }, worker));
      if (this.stopped) return;
      this.snapshot = {
        ...this.snapshot,
        status: pods.length ? 'live' : 'unavailable',
        nodes,
        failures,
        ...(pods.length ? {} : { message: 'No running dcgm-exporter pods were found (labels app=nvidia-dcgm-exporter or app.kubernetes.io/name=dcgm-exporter).' }),
      };
      if (pods.length) delete this.snapshot.message;
    } catch (err) {
      this.snapshot = { ...this.snapshot, status: 'unavailable', message: `GPU metrics unavailable: ${toErrorShape(err).message}` };
    }
    for (const s of this.subscribers) s(this.snapshot);
    this.timer = this.clock.setTimeout(() => void this.tick(), this.o.intervalMs);
  }
}

/** GPU metrics per cluster, scraped only while someone watches them. */
export class MetricsService {
  private readonly running = new Map<string, { m: ClusterMetrics; off: () => void }>();
  private readonly o: Required<MetricsOptions>;

  constructor(
    private readonly clusters: ClusterService,
    private readonly clock: Clock,
    opts: MetricsOptions = {},
  ) {
    this.o = { intervalMs: 15_000, concurrency: 16, scrapeTimeoutMs: 10_000, idlePct: 5, idleMinutes: 30, hotC: 85, ...opts };
  }

  watch(id: string, emit: (s: MetricsSnapshot) => void): () => void {
    let entry = this.running.get(id);
    if (!entry) {
      const conn = this.clusters.connection(id);
      const m = new ClusterMetrics(id, this.clusters, this.clock, this.o);
      entry = { m, off: conn.onDisconnect(() => this.drop(id)) };
      this.running.set(id, entry);
      m.start();
    } else emit(entry.m.current());
    const { m } = entry;
    m.subscribers.add(emit);
    return () => {
      m.subscribers.delete(emit);
      if (m.subscribers.size === 0) this.drop(id);
    };
  }

  stopAll(): void {
    for (const id of [...this.running.keys()]) this.drop(id);
  }

  private drop(id: string): void {
    const e = this.running.get(id);
    if (!e) return;
    this.running.delete(id);
    e.off();
    e.m.stop();
  }
}
