// One scrape of dcgm-exporter, in its Prometheus text format (HELP/TYPE per
// family, then a series per GPU and, with MIG, per GPU instance). Values are a
// pure function of device, holder and time: each device has its own phase and
// drifts slowly, so two scrapes a few seconds apart look alike and a test can
// predict ranges. Label sets and quirks follow the node's exporter flavor.
import crypto from 'node:crypto';
import type { NodeSpec } from '../catalog.ts';
import type { DeviceHolder, Gpu, MigDevice } from '../devices.ts';
import type { GpuFault } from '../fault-state.ts';
import { gpuModel, installedDriver, type GpuModelKey } from '../gpus.ts';

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
}

const fam = (name: string, type: Family['type'], help: string): Family => ({ name, type, help });

// Help texts as in dcgm-exporter's etc/default-counters.csv (and dcp-metrics-included.csv).
const FAMILIES = {
  smClock: fam('DCGM_FI_DEV_SM_CLOCK', 'gauge', 'SM clock frequency (in MHz).'),
  memClock: fam('DCGM_FI_DEV_MEM_CLOCK', 'gauge', 'Memory clock frequency (in MHz).'),
  temp: fam('DCGM_FI_DEV_GPU_TEMP', 'gauge', 'GPU temperature (in C).'),
  power: fam('DCGM_FI_DEV_POWER_USAGE', 'gauge', 'Power draw (in W).'),
  util: fam('DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).'),
  xid: fam('DCGM_FI_DEV_XID_ERRORS', 'gauge', 'Value of the last XID error encountered.'),
  fbFree: fam('DCGM_FI_DEV_FB_FREE', 'gauge', 'Framebuffer memory free (in MiB).'),
  fbUsed: fam('DCGM_FI_DEV_FB_USED', 'gauge', 'Framebuffer memory used (in MiB).'),
  eccDbe: fam('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', 'counter', 'Total number of double-bit volatile ECC errors.'),
  rowRemapFailure: fam('DCGM_FI_DEV_ROW_REMAP_FAILURE', 'gauge', 'Whether remapping of rows has failed'),
  vgpuUtil: fam('DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION', 'gauge', 'vGPU utilization per process (in %).'),
  grActive: fam('DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'gauge', 'Ratio of time the graphics engine is active.'),
};
type FamilyKey = keyof typeof FAMILIES;

/** Boost SM clock, memory clock and idle SM clock in MHz. */
const CLOCKS: Record<GpuModelKey, { sm: number; mem: number; idle: number }> = {
  h100: { sm: 1980, mem: 2619, idle: 345 },
  a100_80: { sm: 1410, mem: 1593, idle: 210 },
  a100_40: { sm: 1410, mem: 1215, idle: 210 },
  a30: { sm: 1440, mem: 1215, idle: 210 },
  l40s: { sm: 2520, mem: 9001, idle: 210 },
  t4: { sm: 1590, mem: 5000, idle: 300 },
};

// err_msg wording of newer exporters for the XIDs the faults use.
const XID_MESSAGES: Record<number, string> = {
  13: 'Graphics Engine Exception',
  31: 'GPU memory page fault',
  48: 'Double Bit ECC Error',
  63: 'ECC page retirement or row remapping recording event',
  64: 'ECC page retirement or row remapper recording failure',
  74: 'NVLINK Error',
  79: 'GPU has fallen off the bus',
  94: 'Contained ECC error',
  95: 'Uncontained ECC error',
};

const unit = (seed: string) => crypto.createHash('md5').update(seed).digest().readUInt32BE(0) / 0x1_0000_0000;

/** 0..100: busy holders 40–95 drifting over ~25 minutes, idle holders 0–2, free devices 0. */
function utilization(uuid: string, holder: DeviceHolder | undefined, t: number): number {
  if (!holder) return 0;
  const phase = unit(uuid) * 2 * Math.PI;
  if (holder.idle) return Math.round(1 + Math.sin(t / 60 + phase));
  const wave = 0.5 + 0.5 * Math.sin(t / 240 + phase);
  const jitter = 2 * Math.sin(t / 13 + phase * 3);
  return Math.round(Math.min(95, Math.max(40, 40 + 55 * wave + jitter)));
}

function memoryUsed(uuid: string, total: number, holder: DeviceHolder | undefined, t: number, freeFloor: number): number {
  if (!holder) return freeFloor;
  const share = holder.idle ? 0.08 + 0.1 * unit(`${uuid}/mem`) : 0.35 + 0.5 * unit(`${uuid}/mem`);
  const drift = holder.idle ? 0 : 0.03 * Math.sin(t / 300 + unit(uuid) * 6);
  return Math.round(total * Math.min(0.95, share + drift));
}

interface DeviceWide {
  temp: number;
  power: number;
  smClock: number;
  memClock: number;
  xid: number;
  eccDbe: number;
  rowRemapFailure: number;
}

function deviceWide(spec: NodeSpec, gpu: Gpu, load: number, fault: GpuFault | undefined, t: number): DeviceWide {
  const key = spec.gpu!.model;
  const model = gpuModel(key);
  const phase = unit(gpu.uuid) * 2 * Math.PI;
  const xid = fault?.xid ?? 0;
  let temp = 29 + 7 * unit(`${gpu.uuid}/temp`) + 38 * load + 1.5 * Math.sin(t / 90 + phase);
  if (xid) temp += 8;
  if (fault?.hot) temp = Math.max(temp, 92 + 3 * unit(`${gpu.uuid}/hot`));
  const { idle, max } = model.power;
  let power = load > 0 ? idle + (max - idle) * (0.15 + 0.8 * load) : idle * (1 + 0.04 * Math.sin(t / 45 + phase));
  if (fault?.hot) power *= 1.06;
  return {
    temp: Math.round(temp),
    power,
    smClock: load > 0 ? CLOCKS[key].sm : CLOCKS[key].idle,
    memClock: CLOCKS[key].mem,
    xid,
    eccDbe: xid === 48 || xid === 94 || xid === 95 ? 1 : 0,
    rowRemapFailure: xid === 64 ? 1 : 0,
  };
}

const fixed6 = (v: number) => (Math.round(v * 1000) / 1000).toFixed(6);

export interface ScrapeInput {
  spec: NodeSpec;
  gpus: Gpu[];
  faults?: Record<string, GpuFault>;
  nowMs: number;
}

export function renderMetrics({ spec, gpus, faults, nowMs }: ScrapeInput): string {
  const g = spec.gpu!;
  const flavor = g.exporter;
  const model = gpuModel(g.model);
  const driver = installedDriver(g).full;
  const t = nowMs / 1000;
  const noProfiling = flavor.quirks.includes('no-profiling');
  // Turing has no row remapper (it retires pages), and MIG-enabled GPUs do not report it.
  const rowRemap = (gpu: Gpu) => g.model !== 't4' && !gpu.mig;
  const lines = new Map<FamilyKey, string[]>();
  const emit = (f: FamilyKey, labels: string, value: string | number) => {
    (lines.get(f) ?? lines.set(f, []).get(f)!).push(`${FAMILIES[f].name}{${labels}} ${value}`);
  };

  const labelsFor = (gpu: Gpu, mig?: MigDevice, holder?: DeviceHolder, extra: Array<[string, string]> = []) => {
    const l: Array<[string, string]> = [
      ['gpu', String(gpu.index)],
      ['UUID', gpu.uuid],
    ];
    if (flavor.labels !== 'legacy') l.push(['pci_bus_id', gpu.pciBusId]);
    l.push(['device', `nvidia${gpu.index}`]);
    if (flavor.labels !== 'legacy') l.push(['modelName', model.name]);
    if (mig) l.push(['GPU_I_PROFILE', mig.profile], [flavor.labels === 'legacy' ? 'gpu_instance_id' : 'GPU_I_ID', String(mig.giId)]);
    l.push([flavor.labels === 'v4' ? 'hostname' : 'Hostname', spec.name]);
    if (flavor.labels !== 'legacy') l.push(['DCGM_FI_DRIVER_VERSION', driver]);
    l.push(...extra);
    if (holder) l.push(['container', holder.container], ['namespace', holder.namespace], ['pod', holder.pod]);
    return l.map(([k, v]) => `${k}="${v}"`).join(',');
  };
  const xidExtra = (xid: number): Array<[string, string]> => (flavor.labels === 'v4' ? [['err_code', String(xid)], ['err_msg', XID_MESSAGES[xid] ?? (xid ? 'Unknown Error' : 'No Error')]] : []);

  const deviceSeries = (gpu: Gpu, d: DeviceWide, labels: string, xidLabels: string) => {
    emit('smClock', labels, d.smClock);
    emit('memClock', labels, d.memClock);
    emit('temp', labels, d.temp);
    emit('power', labels, fixed6(d.power));
    emit('xid', xidLabels, d.xid);
    emit('eccDbe', labels, d.eccDbe);
    if (rowRemap(gpu)) emit('rowRemapFailure', labels, d.rowRemapFailure);
  };

  for (const gpu of gpus) {
    const fault = faults?.[String(gpu.index)];
    const reserved = Math.round(gpu.memoryMiB * 0.0065);
    if (!gpu.mig) {
      const util = utilization(gpu.uuid, gpu.holder, t);
      const d = deviceWide(spec, gpu, util / 100, fault, t);
      const labels = labelsFor(gpu, undefined, gpu.holder);
      deviceSeries(gpu, d, labels, labelsFor(gpu, undefined, gpu.holder, xidExtra(d.xid)));
      emit('util', labels, util);
      const used = memoryUsed(gpu.uuid, gpu.memoryMiB - reserved, gpu.holder, t, 0);
      emit('fbFree', labels, gpu.memoryMiB - reserved - used);
      emit('fbUsed', labels, used);
      if (!noProfiling) emit('grActive', labels, fixed6((util / 100) * (0.97 + 0.03 * unit(`${gpu.uuid}/gr`))));
      if (flavor.quirks.includes('non-numeric-value')) emit('vgpuUtil', labels, 'ERROR - FAILED TO CONVERT TO STRING');
      continue;
    }
    // MIG: the parent GPU keeps its device-wide series; each GI repeats them and adds its own FB and activity.
    const slices = model.mig?.computeSlices ?? 7;
    const gis = gpu.migDevices.map((m) => {
      const util = utilization(m.uuid, m.holder, t);
      const used = memoryUsed(m.uuid, m.memoryMiB, m.holder, t, 10 + (m.giId % 4));
      return { m, util, used, weight: (model.migProfiles?.[m.profile]?.slicesGi ?? 1) / slices };
    });
    const load = gis.reduce((s, x) => s + (x.util / 100) * x.weight, 0);
    const d = deviceWide(spec, gpu, load, fault, t);
    const parent = labelsFor(gpu);
    deviceSeries(gpu, d, parent, labelsFor(gpu, undefined, undefined, xidExtra(d.xid)));
    const parentUsed = gis.reduce((s, x) => s + x.used, 0);
    emit('fbFree', parent, gpu.memoryMiB - reserved - parentUsed);
    emit('fbUsed', parent, parentUsed);
    if (!noProfiling) emit('grActive', parent, fixed6(load));
    for (const { m, util, used } of gis) {
      const labels = labelsFor(gpu, m, m.holder);
      emit('temp', labels, d.temp);
      emit('power', labels, fixed6(d.power));
      emit('xid', labelsFor(gpu, m, m.holder, xidExtra(d.xid)), d.xid);
      emit('fbFree', labels, m.memoryMiB - used);
      emit('fbUsed', labels, used);
      if (!noProfiling) emit('grActive', labels, fixed6((util / 100) * (0.97 + 0.03 * unit(`${m.uuid}/gr`))));
    }
  }

  const extraComments = flavor.quirks.includes('extra-comments');
  const out: string[] = [];
  if (extraComments) out.push(`# dcgm-exporter ${flavor.image.split(':').pop()} on ${spec.name}`);
  for (const [key, f] of Object.entries(FAMILIES) as Array<[FamilyKey, Family]>) {
    const series = lines.get(key);
    if (!series) continue;
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...series);
    // Old exporters separated families with blank lines and left notes between them.
    if (extraComments) out.push('', `# end of ${f.name}`);
  }
  return out.join('\n') + '\n';
}
