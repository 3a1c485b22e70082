/** Live GPU metrics per node, from dcgm-exporter. Percentages are 0–100. */
export interface MigMetrics {
  gpuInstanceId: number;
  profile?: string;
  /** Graphics-engine activity (DCGM_FI_PROF_GR_ENGINE_ACTIVE), the only utilisation MIG instances report. */
  utilPct?: number;
  fbUsedMiB?: number;
  pod?: string;
  namespace?: string;
  idleSince?: string;
}

export interface GpuMetrics {
  index: number;
  uuid?: string;
  utilPct?: number;
  fbUsedMiB?: number;
  fbFreeMiB?: number;
  tempC?: number;
  powerW?: number;
  /** Last XID error code reported (0 = none). */
  xid?: number;
  eccDbe?: number;
  rowRemapFailure?: number;
  pod?: string;
  namespace?: string;
  mig: MigMetrics[];
  idleSince?: string;
  hot: boolean;
  erroring: boolean;
}

export interface NodeMetrics {
  scrapedAt: string;
  gpus: GpuMetrics[];
  warnings?: string[];
}

export interface MetricsSnapshot {
  source: string;
  status: 'starting' | 'live' | 'unavailable';
  /** Why metrics are missing, in plain words, when status is unavailable or some nodes failed. */
  message?: string;
  nodes: Record<string, NodeMetrics>;
  failures: { node: string; message: string }[];
  thresholds: { idlePct: number; idleMinutes: number; hotC: number };
}
