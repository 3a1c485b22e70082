import type { DcgmSample } from '../gpu/dcgm.ts';
import type { GpuMetrics, MigMetrics } from '../../../shared/model/metrics.ts';

export interface HealthThresholds {
  hotC: number;
}

const num = (v: number | undefined): number | undefined => (v === undefined || !Number.isFinite(v) ? undefined : v);

/** Folds one scrape's samples into per-GPU metrics with their MIG instances. */
export function gpuMetricsFrom(samples: DcgmSample[], t: HealthThresholds): GpuMetrics[] {
  const gpus = new Map<number, GpuMetrics>();
  const gpu = (s: DcgmSample): GpuMetrics => {
    const index = s.gpu ?? 0;
    let g = gpus.get(index);
    if (!g) {
      g = { index, mig: [], hot: false, erroring: false };
      if (s.uuid) g.uuid = s.uuid;
      gpus.set(index, g);
    }
    return g;
  };
  for (const s of samples) {
    const g = gpu(s);
    const m = s.metrics;
    if (s.gpuInstanceId !== null) {
      const mig: MigMetrics = { gpuInstanceId: s.gpuInstanceId };
      if (s.migProfile) mig.profile = s.migProfile;
      const active = num(m.DCGM_FI_PROF_GR_ENGINE_ACTIVE);
      if (active !== undefined) mig.utilPct = Math.round(active * 1000) / 10;
      const used = num(m.DCGM_FI_DEV_FB_USED);
      if (used !== undefined) mig.fbUsedMiB = used;
      if (s.pod) mig.pod = s.pod;
      if (s.namespace) mig.namespace = s.namespace;
      g.mig.push(mig);
    } else {
      const util = num(m.DCGM_FI_DEV_GPU_UTIL) ?? (num(m.DCGM_FI_PROF_GR_ENGINE_ACTIVE) !== undefined ? Math.round(m.DCGM_FI_PROF_GR_ENGINE_ACTIVE! * 1000) / 10 : undefined);
      if (util !== undefined) g.utilPct = util;
      const used = num(m.DCGM_FI_DEV_FB_USED);
      if (used !== undefined) g.fbUsedMiB = used;
      const free = num(m.DCGM_FI_DEV_FB_FREE);
      if (free !== undefined) g.fbFreeMiB = free;
      if (s.pod) g.pod = s.pod;
      if (s.namespace) g.namespace = s.namespace;
    }
    // Temperature, power and errors are per physical GPU even when reported beside MIG series.
    const temp = num(m.DCGM_FI_DEV_GPU_TEMP);
    if (temp !== undefined) g.tempC = temp;
    const power = num(m.DCGM_FI_DEV_POWER_USAGE);
    if (power !== undefined) g.powerW = Math.round(power * 10) / 10;
    const xid = num(m.DCGM_FI_DEV_XID_ERRORS);
    if (xid !== undefined) g.xid = xid;
    const dbe = num(m.DCGM_FI_DEV_ECC_DBE_VOL_TOTAL);
    if (dbe !== undefined) g.eccDbe = dbe;
    const remap = num(m.DCGM_FI_DEV_ROW_REMAP_FAILURE);
    if (remap !== undefined) g.rowRemapFailure = remap;
  }
  for (const g of gpus.values()) {
    g.mig.sort((a, b) => a.gpuInstanceId - b.gpuInstanceId);
    g.hot = (g.tempC ?? 0) >= t.hotC;
    g.erroring = (g.xid ?? 0) > 0 || (g.eccDbe ?? 0) > 0 || (g.rowRemapFailure ?? 0) > 0;
  }
  return [...gpus.values()].sort((a, b) => a.index - b.index);
}
