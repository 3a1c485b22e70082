// Showback reports: GPU-hours, idle hours and cost per namespace, team and
// workload over a period. With a Prometheus set in settings the numbers come
// from its kube-state-metrics and dcgm-exporter series; without one, from the
// pods Tessera can see now plus its own observation log, and the report says
// plainly that this is partial. Observations are refreshed on every report and
// every few minutes while a report has been asked for on that cluster.
import path from 'node:path';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { Settings } from '../../../shared/model/settings.ts';
import type { GpuUsageRecord, ShowbackReport } from '../../../shared/model/showback.ts';
import { priceUsage, rollUp } from '../../../shared/showback/showback-math.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson, listPages } from '../kube/kube-http.ts';
import { findExporters, scrapeExporter } from '../metrics/dcgm-source.ts';
import { gpuMetricsFrom } from '../metrics/gpu-metrics.ts';
import { mergeObservation, ObservationStore, podObservation, pruneLog, TEAM_LABEL, usageRecords, type ObservedPod, type RawPodForUsage } from './observation-log.ts';
import { prometheusUsage, promHttp, type PromGet } from './prometheus-source.ts';
import { GPU_PRODUCT_LABEL } from '../nodes/whole-gpu-affinity.ts';

export interface ShowbackCluster {
  kubeConfig(): Promise<KubeAccess>;
  namespace?: string;
}

export interface ShowbackServiceOptions {
  dataDir: string;
  cluster(id: string): ShowbackCluster;
  settings(): Promise<Settings>;
  now?: () => number;
  /** How often a cluster with a report open is observed again (default 5 minutes). */
  observeEveryMs?: number;
  /** Test seam: the Prometheus client for a URL. */
  prometheus?: (url: string) => PromGet;
}

const forbidden = (err: unknown) => err instanceof TesseraError && (err.code === 'FORBIDDEN' || err.details?.['status'] === 403);

function slim(raw: RawPodForUsage): RawPodForUsage {
  return {
    metadata: { name: raw.metadata?.name, namespace: raw.metadata?.namespace, uid: raw.metadata?.uid, labels: raw.metadata?.labels ?? {}, ownerReferences: raw.metadata?.ownerReferences ?? [] },
    spec: { nodeName: raw.spec?.nodeName, containers: raw.spec?.containers?.map((c) => ({ resources: c.resources })) },
    status: { phase: raw.status?.phase, startTime: raw.status?.startTime, containerStatuses: raw.status?.containerStatuses?.map((c) => ({ state: c.state?.terminated ? { terminated: { finishedAt: c.state.terminated.finishedAt } } : {} })) },
  };
}

export class ShowbackService {
  private readonly store: ObservationStore;
  private readonly timers = new Map<string, ReturnType<typeof setInterval>>();
  /** One observation per cluster at a time; a report waits for the one in flight. */
  private readonly inFlight = new Map<string, Promise<ObservedPod[]>>();

  constructor(private readonly o: ShowbackServiceOptions) {
    this.store = new ObservationStore(path.join(o.dataDir, 'showback'));
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Lists the GPU pods Tessera can see, samples their utilization, and folds both into the log. */
  observe(id: string): Promise<ObservedPod[]> {
    let p = this.inFlight.get(id);
    if (!p) {
      p = this.observeOnce(id).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, p);
    }
    return p;
  }

  private async observeOnce(id: string): Promise<ObservedPod[]> {
    const c = this.o.cluster(id);
    const kc = await c.kubeConfig();
    const settings = await this.o.settings();
    const now = new Date(this.now()).toISOString();
    const models = new Map<string, string>();
    try {
      for await (const page of listPages<{ name: string; product?: string }>(kc, '/api/v1/nodes', {}, { map: (n: { metadata?: { name?: string; labels?: Record<string, string> } }) => ({ name: n.metadata?.name ?? '', product: n.metadata?.labels?.[GPU_PRODUCT_LABEL] }) }))
        for (const n of page.items) if (n.product) models.set(n.name, n.product);
    } catch (err) {
      if (!forbidden(err)) throw err;
    }
    const teams = new Map<string, string>();
    try {
      const ns = await kubeJson<{ items?: { metadata: { name: string; labels?: Record<string, string> } }[] }>(kc, '/api/v1/namespaces', { action: 'list namespaces' });
      for (const n of ns.items ?? []) if (n.metadata.labels?.[TEAM_LABEL]) teams.set(n.metadata.name, n.metadata.labels[TEAM_LABEL]);
    } catch (err) {
      if (!forbidden(err)) throw err;
    }
    const seen: ObservedPod[] = [];
    const podsPath = async (p: string) => {
      for await (const page of listPages<RawPodForUsage>(kc, p, {}, { map: slim as (raw: never) => RawPodForUsage })) {
        for (const raw of page.items) {
          const o = podObservation(raw, { now, nodeModel: (n) => models.get(n), nsTeam: (ns) => teams.get(ns) });
          if (o) seen.push(o);
        }
      }
    };
    let scopedTo: string | undefined;
    try {
      await podsPath('/api/v1/pods');
    } catch (err) {
      if (!forbidden(err) || !c.namespace) throw err;
      scopedTo = c.namespace;
      await podsPath(`/api/v1/namespaces/${c.namespace}/pods`);
    }
    const util = await this.utilization(kc).catch(() => new Map<string, number>());
    return this.store.update(id, (log) => {
      // Only pods this user can see are ended by absence: a namespace-scoped view must not end everyone else's.
      const visible = scopedTo ? log.filter((p) => p.namespace === scopedTo) : log;
      const others = log.filter((p) => !visible.includes(p));
      const merged = [...others, ...mergeObservation(visible, seen, (p) => util.get(`${p.namespace}/${p.pod}`), settings.idle.utilizationPercent)];
      return pruneLog(merged, this.now());
    });
  }

  /** Current utilization (%) per pod from dcgm-exporter, averaged over the devices it holds. */
  private async utilization(kc: KubeAccess): Promise<Map<string, number>> {
    const sums = new Map<string, { sum: number; n: number }>();
    const addTo = (ns: string | undefined, pod: string | undefined, u: number | undefined) => {
      if (!ns || !pod || u === undefined) return;
      const k = `${ns}/${pod}`;
      const s = sums.get(k) ?? { sum: 0, n: 0 };
      s.sum += u;
      s.n++;
      sums.set(k, s);
    };
    const exporters = await findExporters(kc);
    let next = 0;
    const worker = async () => {
      while (next < exporters.length) {
        const e = exporters[next++]!;
        const got = await scrapeExporter(kc, e, 5_000).catch(() => undefined);
        if (!got) continue;
        for (const g of gpuMetricsFrom(got.samples, { hotC: 1000 })) {
          addTo(g.namespace, g.pod, g.utilPct);
          for (const m of g.mig) addTo(m.namespace, m.pod, m.utilPct);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, exporters.length) }, worker));
    return new Map([...sums].map(([k, s]) => [k, s.sum / s.n]));
  }

  private keepObserving(id: string): void {
    if (this.timers.has(id)) return;
    const t = setInterval(() => {
      this.observe(id).catch(() => {
        // A disconnected cluster stops being observed; the next report starts it again.
        clearInterval(t);
        this.timers.delete(id);
      });
    }, this.o.observeEveryMs ?? 300_000);
    t.unref?.();
    this.timers.set(id, t);
  }

  /** `opts.prometheusUrl` overrides settings for this report only (the CLI's --prometheus). */
  async report(id: string, fromIso: string, toIso: string, opts: { prometheusUrl?: string } = {}): Promise<ShowbackReport> {
    const from = Date.parse(fromIso);
    const to = Date.parse(toIso);
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new TesseraError('INVALID_REQUEST', 'from and to must be ISO times');
    if (to <= from) throw new TesseraError('INVALID_REQUEST', `the period ends (${toIso}) before it starts (${fromIso})`);
    if (to - from > 400 * 86_400_000) throw new TesseraError('INVALID_REQUEST', 'the period may be at most 400 days');
    const settings = await this.o.settings();
    const warnings: string[] = [];
    let records: GpuUsageRecord[] | undefined;
    let source: ShowbackReport['source'] = 'observed';
    let sourceNote = '';
    const url = opts.prometheusUrl ?? settings.showback.prometheusUrl;
    if (url) {
      try {
        const got = await prometheusUsage((this.o.prometheus ?? promHttp)(url), id, from, to, settings.idle.utilizationPercent);
        records = got.records;
        warnings.push(...got.warnings);
        source = 'prometheus';
        sourceNote = `Prometheus at ${url}: kube-state-metrics GPU requests of Running pods and dcgm-exporter utilization over the period.`;
      } catch (err) {
        warnings.push(`Prometheus could not be used, so these are Tessera's own observations: ${toErrorShape(err).message}`);
      }
    }
    if (!records) {
      const log = await this.observe(id);
      this.keepObserving(id);
      records = usageRecords(id, log, new Date(Math.min(this.now(), to)).toISOString());
      sourceNote =
        'Partial: from pods the API server shows now (status.startTime to container finishedAt, or now) and pods Tessera saw before they were deleted (counted to when last seen). ' +
        'Pods deleted while Tessera was not watching are missing. Idle hours are estimated from dcgm-exporter samples taken at each observation. Set a Prometheus URL in Settings for complete numbers.';
    }
    const r = rollUp(priceUsage(records, settings.showback.prices, from, to));
    if (r.totals.unpricedHours > 0) warnings.push(`${r.totals.unpricedHours.toFixed(1)} GPU-hours have no price (set prices per GPU model or MIG profile in Settings)`);
    return { source, partial: source === 'observed', sourceNote, from: new Date(from).toISOString(), to: new Date(to).toISOString(), currency: settings.showback.currency, ...r, warnings };
  }

  stopAll(): void {
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
  }
}
