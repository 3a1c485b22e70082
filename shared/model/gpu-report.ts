/**
 * The one output shape every GPU text parser produces, and that
 * `tessera gpu parse <file> --json` prints. Every field is present in every
 * report: `null` means "this input format does not carry it (or it was N/A)",
 * so JSON output is stable across formats. Arrays are `null` when the format
 * cannot carry them at all and `[]` when it can but the list is empty.
 */

export const GPU_REPORT_FORMATS = [
  'nvidia-smi-xml',
  'nvidia-smi-text',
  'nvidia-smi-csv',
  'nvidia-smi-list',
  'mig-lgip',
  'mig-lgipp',
  'mig-lgi',
  'dcgm-exporter',
] as const;

export type GpuReportFormat = (typeof GPU_REPORT_FORMATS)[number];

/** A range on the GPU's memory-slice axis, as printed `start:size`. */
export interface Placement {
  start: number;
  size: number;
}

export interface MigMode {
  /** 'Enabled' | 'Disabled' as printed by nvidia-smi; null for N/A. */
  current: string | null;
  pending: string | null;
}

export interface MigDevice {
  /** MIG device index ("Device N" in -L, <index> in XML); not the GI id. */
  index: number | null;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  /** GI profile id as printed by `mig -lgi`; ids are per device model. */
  profileId: number | null;
  /** Profile name without the "MIG " prefix, e.g. "1g.10gb". */
  profile: string | null;
  uuid: string | null;
  placement: Placement | null;
  memoryTotalMiB: number | null;
  multiprocessors: number | null;
}

export interface MigProfile {
  id: number | null;
  /** Without the "MIG " prefix, e.g. "1g.10gb+me". */
  name: string | null;
  instancesFree: number | null;
  instancesTotal: number | null;
  memoryGiB: number | null;
  multiprocessors: number | null;
  placements: Placement[] | null;
}

export interface GpuEntry {
  index: number | null;
  pciBusId: string | null;
  uuid: string | null;
  product: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  migMode: MigMode | null;
  migDevices: MigDevice[] | null;
  profiles: MigProfile[] | null;
  temperatureC: number | null;
  powerDrawW: number | null;
  utilizationPct: number | null;
  /** Volatile (since driver load) uncorrectable ECC errors: DBE / SRAM+DRAM uncorrectable. */
  eccUncorrectable: number | null;
  /** Lifetime (aggregate) uncorrectable ECC errors. */
  eccUncorrectableAggregate: number | null;
  /** Value of the last XID error (dcgm-exporter DCGM_FI_DEV_XID_ERRORS). */
  xidLast: number | null;
  /** Processes using the GPU (nvidia-smi -q -x <processes>); null where the format does not list them. */
  processes: GpuProcessEntry[] | null;
}

export interface GpuProcessEntry {
  pid: number | null;
  /** C (compute), G (graphics) or C+G. */
  type: string | null;
  name: string | null;
  usedMemoryMiB: number | null;
  /** The MIG instance it runs in; null on a GPU without MIG. */
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

export interface GpuReport {
  format: GpuReportFormat;
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: GpuEntry[];
  warnings: string[];
}

/** Thrown by parseAny only when nothing at all could be understood; message is one line. */
export class GpuParseError extends Error {
  override readonly name = 'GpuParseError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

export function emptyGpu(index: number | null = null): GpuEntry {
  return {
    index,
    pciBusId: null,
    uuid: null,
    product: null,
    memoryTotalMiB: null,
    memoryUsedMiB: null,
    migMode: null,
    migDevices: null,
    profiles: null,
    temperatureC: null,
    powerDrawW: null,
    utilizationPct: null,
    eccUncorrectable: null,
    eccUncorrectableAggregate: null,
    xidLast: null,
    processes: null,
  };
}

export function emptyMigDevice(): MigDevice {
  return {
    index: null,
    gpuInstanceId: null,
    computeInstanceId: null,
    profileId: null,
    profile: null,
    uuid: null,
    placement: null,
    memoryTotalMiB: null,
    multiprocessors: null,
  };
}

export function emptyProfile(): MigProfile {
  return { id: null, name: null, instancesFree: null, instancesTotal: null, memoryGiB: null, multiprocessors: null, placements: null };
}

export function emptyReport(format: GpuReportFormat): GpuReport {
  return { format, driverVersion: null, cudaVersion: null, gpus: [], warnings: [] };
}
