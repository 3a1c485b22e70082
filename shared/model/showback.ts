/**
 * GPU showback: who held which GPUs (or MIG slices) for how long, and what
 * that costs at the site's prices. Plain data shared by core (which builds
 * usage records from Prometheus or from the pods it can see) and the renderer.
 */

/** One pod's hold on one kind of GPU device, over its lifetime. */
export interface GpuUsageRecord {
  cluster: string;
  namespace: string;
  /** `tessera.dev/team` from the pod or its namespace, when set. */
  team?: string;
  /** `Kind/name` of the owning workload, or `Pod/<name>` for a bare pod. */
  workload: string;
  pod: string;
  node?: string;
  /** gpu.product as GPU Feature Discovery labels the node (may carry -MIG-<profile>). */
  model?: string;
  /** `nvidia.com/gpu` or `nvidia.com/mig-<profile>`. */
  resource: string;
  count: number;
  /** ISO times; no end means still running. */
  start: string;
  end?: string;
  /** How the end is known: the pod says so, Tessera saw it disappear (end = last seen), or it is still running. */
  endSeen?: 'terminated' | 'deleted' | 'running';
  /** Share of utilization samples in which the devices were idle; absent when no sample covers the pod. */
  idleFraction?: number;
  /** A measured average utilization (%) over the samples, when known. */
  utilPct?: number;
}

export interface ShowbackRow {
  /** Namespace, team, or `namespace/Kind/name` for workloads. */
  key: string;
  namespace?: string;
  team?: string;
  /** GPU-equivalent hours: a MIG slice counts its memory-slice share of a GPU. */
  gpuHours: number;
  cost: number;
  /** GPU-hours that no price covers (cost leaves them out). */
  unpricedHours: number;
  /** Allocated hours in which the GPUs were idle, of those with utilization samples; null when none had any. */
  idleHours: number | null;
  usedHours: number | null;
  /** GPU-hours with no utilization samples: idle or used is unknown for these. */
  unknownIdleHours: number;
  pods: number;
}

export interface ShowbackReport {
  source: 'prometheus' | 'observed';
  /** True when the numbers cover only what Tessera could see (no Prometheus). */
  partial: boolean;
  /** Where the numbers come from and what they leave out, in words. */
  sourceNote: string;
  from: string;
  to: string;
  currency: string;
  totals: ShowbackRow;
  byNamespace: ShowbackRow[];
  byTeam: ShowbackRow[];
  byWorkload: ShowbackRow[];
  warnings: string[];
}
