/**
 * dcgm-exporter's Prometheus text output. Label names have changed across
 * exporter versions (Hostname -> hostname, uuid -> UUID, pod_name -> pod) and
 * Prometheus renames clashing labels to exported_*, so each identity field is
 * read from every name it has had. Series are grouped into one sample per GPU
 * (or per MIG GPU instance, or per pod sharing a GPU).
 */
import { emptyGpu, emptyMigDevice, emptyReport } from './gpu-report.ts';
import type { GpuEntry, GpuReport, MigDevice } from './gpu-report.ts';
import { allLines } from './lines.ts';
import { truncate } from './values.ts';

export interface DcgmMetrics {
  DCGM_FI_DEV_GPU_UTIL?: number;
  DCGM_FI_PROF_GR_ENGINE_ACTIVE?: number;
  DCGM_FI_DEV_FB_USED?: number;
  DCGM_FI_DEV_FB_FREE?: number;
  DCGM_FI_DEV_FB_RESERVED?: number;
  DCGM_FI_DEV_FB_TOTAL?: number;
  DCGM_FI_DEV_GPU_TEMP?: number;
  DCGM_FI_DEV_POWER_USAGE?: number;
  DCGM_FI_DEV_XID_ERRORS?: number;
  DCGM_FI_DEV_ECC_DBE_VOL_TOTAL?: number;
  DCGM_FI_DEV_ECC_DBE_AGG_TOTAL?: number;
  DCGM_FI_DEV_ROW_REMAP_FAILURE?: number;
  /**
   * Any other DCGM_* metric by name. A series with labels beyond the known
   * identity ones (xid=, nvlink=, ...) is keyed `NAME{label="v",...}`.
   */
  [name: string]: number | undefined;
}

export interface DcgmSample {
  gpu: number | null;
  uuid: string | null;
  device: string | null;
  modelName: string | null;
  hostname: string | null;
  pciBusId: string | null;
  driverVersion: string | null;
  gpuInstanceId: number | null;
  migProfile: string | null;
  pod: string | null;
  namespace: string | null;
  container: string | null;
  metrics: DcgmMetrics;
}

export interface DcgmParseResult {
  samples: DcgmSample[];
  warnings: string[];
}

/** Label names per field, preferred first. exported_* first: plain `pod` is then the exporter's own pod. */
const LABELS = {
  gpu: ['gpu'],
  uuid: ['UUID', 'uuid', 'gpu_uuid'],
  device: ['device'],
  modelName: ['modelName', 'model_name'],
  hostname: ['hostname', 'Hostname'],
  pciBusId: ['pci_bus_id'],
  driverVersion: ['DCGM_FI_DRIVER_VERSION', 'driver_version'],
  gpuInstanceId: ['GPU_I_ID', 'gpu_instance_id'],
  migProfile: ['GPU_I_PROFILE', 'gpu_instance_profile'],
  pod: ['exported_pod', 'pod', 'pod_name'],
  namespace: ['exported_namespace', 'namespace', 'pod_namespace'],
  container: ['exported_container', 'container', 'container_name'],
} as const;

/** Labels that describe the series' source rather than tell two series of one metric apart. */
const IDENTITY_LABELS = new Set<string>([
  ...Object.values(LABELS).flat(),
  'instance', 'job', 'service', 'endpoint', 'prometheus', 'pod_uid', 'vgpu', 'hpc_job',
  'err_code', 'err_msg', 'DCGM_FI_PROCESS_NAME',
]);

function isIdentityLabel(name: string): boolean {
  return IDENTITY_LABELS.has(name) || name.startsWith('exported_') || name.startsWith('dra_') || name.startsWith('DCGM_FI_');
}

interface Series {
  name: string;
  labels: Record<string, string>;
  value: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** One exposition line; a string is the reason it could not be read. */
function readSeries(line: string): Series | string {
  const nameMatch = METRIC_NAME.exec(line);
  if (!nameMatch) return 'no metric name';
  const name = nameMatch[0];
  let k = name.length;
  const labels: Record<string, string> = {};
  if (line[k] === '{') {
    k++;
    for (;;) {
      while (line[k] === ' ' || line[k] === ',') k++;
      if (line[k] === '}') {
        k++;
        break;
      }
      const ln = LABEL_NAME.exec(line.slice(k));
      if (!ln) return k >= line.length ? 'line ends inside the labels' : `bad label at column ${k + 1}`;
      k += ln[0].length;
      while (line[k] === ' ') k++;
      if (line[k] !== '=') return `no '=' after label ${ln[0]}`;
      k++;
      while (line[k] === ' ') k++;
      if (line[k] !== '"') return `label ${ln[0]} value is not quoted`;
      k++;
      let value = '';
      for (;;) {
        if (k >= line.length) return `line ends inside the value of label ${ln[0]}`;
        const c = line[k]!;
        if (c === '\\') {
          const e = line[k + 1];
          value += e === 'n' ? '\n' : (e ?? '');
          k += 2;
        } else if (c === '"') {
          k++;
          break;
        } else {
          value += c;
          k++;
        }
      }
      labels[ln[0]] = value;
    }
  }
  const rest = line.slice(k).trim();
  if (rest === '') return 'no value';
  // Value, then an optional timestamp; anything else is exporter junk like "ERROR - FAILED TO CONVERT TO STRING".
  const parts = rest.split(/\s+/);
  const value = parts.length <= 2 && (parts.length === 1 || /^-?\d+$/.test(parts[1]!)) ? parts[0]! : rest;
  return { name, labels, value };
}

function pick(labels: Record<string, string>, names: readonly string[]): string | null {
  for (const n of names) {
    const v = labels[n];
    if (v !== undefined && v !== '') return v;
  }
  return null;
}

function intLabel(raw: string | null): number | null {
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : null;
}

function metricKey(s: Series): string {
  const extra = Object.keys(s.labels)
    .filter((l) => !isIdentityLabel(l))
    .sort();
  if (extra.length === 0) return s.name;
  return `${s.name}{${extra.map((l) => `${l}=${JSON.stringify(s.labels[l])}`).join(',')}}`;
}

export function parseDcgmMetrics(text: string): DcgmParseResult {
  const warnings: string[] = [];
  const samples = new Map<string, DcgmSample>();
  const badValues = new Map<string, { count: number; example: string }>();
  const unreadable: string[] = [];
  let unreadableCount = 0;
  let withoutGpu = 0;
  let withoutGpuExample = '';
  const overwritten = new Set<string>();

  for (const { number, text: raw } of allLines(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!line.startsWith('DCGM_')) continue;
    const s = readSeries(line);
    if (typeof s === 'string') {
      unreadableCount++;
      if (unreadable.length < 5) unreadable.push(`line ${number}: ${s}: ${JSON.stringify(truncate(line))}`);
      continue;
    }
    const value = Number(s.value);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s.value) || !Number.isFinite(value)) {
      const bad = badValues.get(s.name) ?? { count: 0, example: s.value };
      bad.count++;
      badValues.set(s.name, bad);
      continue;
    }
    const gpuRaw = pick(s.labels, LABELS.gpu);
    const uuid = pick(s.labels, LABELS.uuid);
    if (gpuRaw === null && uuid === null) {
      withoutGpu++;
      withoutGpuExample ||= s.name;
      continue;
    }
    const sample: DcgmSample = {
      gpu: intLabel(gpuRaw),
      uuid,
      device: pick(s.labels, LABELS.device),
      modelName: pick(s.labels, LABELS.modelName),
      hostname: pick(s.labels, LABELS.hostname),
      pciBusId: pick(s.labels, LABELS.pciBusId),
      driverVersion: pick(s.labels, LABELS.driverVersion),
      gpuInstanceId: intLabel(pick(s.labels, LABELS.gpuInstanceId)),
      migProfile: pick(s.labels, LABELS.migProfile),
      pod: pick(s.labels, LABELS.pod),
      namespace: pick(s.labels, LABELS.namespace),
      container: pick(s.labels, LABELS.container),
      metrics: {},
    };
    const key = [sample.hostname, sample.uuid ?? `gpu:${gpuRaw}`, sample.gpuInstanceId, sample.namespace, sample.pod, sample.container].join('\u0000');
    const target = samples.get(key) ?? sample;
    samples.set(key, target);
    // Older series may lack labels newer ones carry (modelName, pci_bus_id): fill the gaps.
    for (const f of ['device', 'modelName', 'pciBusId', 'driverVersion', 'migProfile'] as const) target[f] ??= sample[f];
    const mk = metricKey(s);
    if (target.metrics[mk] !== undefined && target.metrics[mk] !== value) overwritten.add(mk);
    target.metrics[mk] = value;
  }

  for (const [name, bad] of badValues) {
    warnings.push(`${name}: ${bad.count} non-numeric value(s) skipped (e.g. ${JSON.stringify(truncate(bad.example))})`);
  }
  warnings.push(...unreadable);
  if (unreadableCount > unreadable.length) warnings.push(`${unreadableCount - unreadable.length} more unreadable line(s)`);
  if (withoutGpu > 0) warnings.push(`${withoutGpu} series without a gpu or UUID label skipped (e.g. ${withoutGpuExample})`);
  for (const mk of overwritten) warnings.push(`${mk}: several differing series for one GPU sample; kept the last`);
  return { samples: [...samples.values()], warnings };
}

/** dcgm-exporter text as a GpuReport, for `tessera gpu parse`. */
export function parseDcgmReport(text: string): GpuReport {
  return dcgmToReport(parseDcgmMetrics(text));
}

export function dcgmToReport(parsed: DcgmParseResult): GpuReport {
  const report = emptyReport('dcgm-exporter');
  report.warnings.push(...parsed.warnings);

  const byGpu = new Map<string, DcgmSample[]>();
  for (const s of parsed.samples) {
    const key = `${s.hostname ?? ''}\u0000${s.uuid ?? `gpu:${s.gpu}`}`;
    const list = byGpu.get(key) ?? [];
    list.push(s);
    byGpu.set(key, list);
  }

  for (const samples of byGpu.values()) report.gpus.push(toGpu(samples));

  const hosts = new Set(parsed.samples.map((s) => s.hostname).filter((h): h is string => h !== null));
  if (hosts.size > 1) report.warnings.push(`series from ${hosts.size} hosts (${[...hosts].join(', ')}); gpu indexes repeat per host`);
  const drivers = new Set(parsed.samples.map((s) => s.driverVersion).filter((d): d is string => d !== null));
  report.driverVersion = [...drivers][0] ?? null;
  if (drivers.size > 1) report.warnings.push(`series disagree on the driver version: ${[...drivers].join(', ')}`);
  if (parsed.samples.length === 0) report.warnings.push('no DCGM_* series with a gpu or UUID label');
  return report;
}

function memoryTotal(m: DcgmMetrics): number | null {
  if (m.DCGM_FI_DEV_FB_TOTAL !== undefined) return m.DCGM_FI_DEV_FB_TOTAL;
  if (m.DCGM_FI_DEV_FB_FREE === undefined || m.DCGM_FI_DEV_FB_USED === undefined) return null;
  return m.DCGM_FI_DEV_FB_FREE + m.DCGM_FI_DEV_FB_USED + (m.DCGM_FI_DEV_FB_RESERVED ?? 0);
}

function toGpu(samples: DcgmSample[]): GpuEntry {
  const whole = samples.find((s) => s.gpuInstanceId === null);
  // In MIG mode the exporter may only emit per-GI series; device-wide fields repeat there.
  const device = whole ?? samples[0]!;
  const m = device.metrics;
  const gpu = emptyGpu(device.gpu);
  gpu.uuid = device.uuid;
  gpu.product = samples.map((s) => s.modelName).find((x) => x !== null) ?? null;
  gpu.pciBusId = samples.map((s) => s.pciBusId).find((x) => x !== null) ?? null;
  if (whole) {
    gpu.memoryTotalMiB = memoryTotal(whole.metrics);
    gpu.memoryUsedMiB = whole.metrics.DCGM_FI_DEV_FB_USED ?? null;
    gpu.utilizationPct = whole.metrics.DCGM_FI_DEV_GPU_UTIL ?? null;
  }
  gpu.temperatureC = m.DCGM_FI_DEV_GPU_TEMP ?? null;
  gpu.powerDrawW = m.DCGM_FI_DEV_POWER_USAGE ?? null;
  gpu.xidLast = m.DCGM_FI_DEV_XID_ERRORS ?? null;
  gpu.eccUncorrectable = m.DCGM_FI_DEV_ECC_DBE_VOL_TOTAL ?? null;
  gpu.eccUncorrectableAggregate = m.DCGM_FI_DEV_ECC_DBE_AGG_TOTAL ?? null;

  const instances = new Map<number, MigDevice>();
  for (const s of samples) {
    if (s.gpuInstanceId === null) continue;
    let dev = instances.get(s.gpuInstanceId);
    if (!dev) {
      dev = emptyMigDevice();
      dev.gpuInstanceId = s.gpuInstanceId;
      instances.set(s.gpuInstanceId, dev);
    }
    dev.profile ??= s.migProfile;
    dev.memoryTotalMiB ??= memoryTotal(s.metrics);
  }
  gpu.migDevices = [...instances.values()];
  return gpu;
}
