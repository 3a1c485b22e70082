import { create } from 'zustand';
import type { GpuMetrics, MetricsSnapshot, MigMetrics } from '../../shared/model/metrics.ts';
import type { GpuDevice } from '../../shared/model/node.ts';
import { api } from '../api/client.ts';
import { syncPerCluster, without } from './subscriptions.ts';

interface MetricsState {
  byCluster: Record<string, MetricsSnapshot>;
  /** Bumped when utilisation history grows; the history itself lives outside the state (it only appends). */
  historyVersion: number;
  sync(clusterIds: string[]): void;
}

const unsubscribers = new Map<string, () => void>();

export const useMetrics = create<MetricsState>((set) => ({
  byCluster: {},
  historyVersion: 0,
  sync(clusterIds) {
    syncPerCluster(
      unsubscribers,
      clusterIds,
      (id) =>
        api.subscribe('metrics.watch', { id }, (snap) => {
          recordHistory(id, snap);
          set((s) => ({ byCluster: { ...s.byCluster, [id]: snap }, historyVersion: s.historyVersion + 1 }));
        }),
      (id) => set((s) => ({ byCluster: without(s.byCluster, id) })),
    );
  },
}));

const HISTORY = 40;
const history = new Map<string, number[]>();

function push(key: string, v: number | undefined): void {
  if (v === undefined) return;
  let h = history.get(key);
  if (!h) history.set(key, (h = []));
  h.push(v);
  if (h.length > HISTORY) h.shift();
}

function recordHistory(clusterId: string, snap: MetricsSnapshot): void {
  for (const [node, nm] of Object.entries(snap.nodes)) {
    for (const g of nm.gpus) {
      push(`${clusterId}|${node}|${g.index}`, g.utilPct);
      for (const m of g.mig) push(`${clusterId}|${node}|${g.index}|${m.gpuInstanceId}`, m.utilPct);
    }
  }
}

/** The last few utilisation samples of a GPU (or of one MIG instance), oldest first. */
export function utilHistory(clusterId: string, node: string, gpu: number, gpuInstanceId?: number): number[] {
  return history.get(`${clusterId}|${node}|${gpu}${gpuInstanceId === undefined ? '' : `|${gpuInstanceId}`}`) ?? [];
}

/** Whether a device has been held and quiet for the idle period. */
export function isIdle(idleSince: string | undefined, minutes: number, now = Date.now()): boolean {
  return !!idleSince && now - Date.parse(idleSince) >= minutes * 60_000;
}

/**
 * Metrics for the device's MIG instances, matched by profile in GPU-instance
 * order: dcgm-exporter reports GI ids, Kubernetes only counts, so this pairing
 * is positional within a profile.
 */
export function migMetricsFor(device: GpuDevice, gpu: GpuMetrics | undefined): (MigMetrics | undefined)[] {
  if (!gpu) return device.slots.map(() => undefined);
  const byProfile = new Map<string, MigMetrics[]>();
  for (const m of gpu.mig) byProfile.set(m.profile ?? '', [...(byProfile.get(m.profile ?? '') ?? []), m]);
  return device.slots.map((s) => byProfile.get(s.profile)?.shift());
}

export interface MetricTotals {
  idle: number;
  hot: number;
  erroring: number;
  reporting: number;
}

export function metricTotals(snaps: MetricsSnapshot[], now = Date.now()): MetricTotals {
  const t: MetricTotals = { idle: 0, hot: 0, erroring: 0, reporting: 0 };
  for (const snap of snaps) {
    for (const node of Object.values(snap.nodes)) {
      for (const g of node.gpus) {
        t.reporting++;
        if (g.hot) t.hot++;
        if (g.erroring) t.erroring++;
        if (isIdle(g.idleSince, snap.thresholds.idleMinutes, now)) t.idle++;
        for (const m of g.mig) if (isIdle(m.idleSince, snap.thresholds.idleMinutes, now)) t.idle++;
      }
    }
  }
  return t;
}
