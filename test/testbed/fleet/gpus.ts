// GPU models, drivers and MIG profiles as GFD and the device plugin report them.
// Numbers come from reference/gpu.md §1.2/§2 and the real label dumps in
// shared/fixtures/gpu (memory in MiB as GFD labels it; engines from -lgip;
// placements from -lgipp: A100/H100 have 8 memory slices, A30 has 4).

export interface MigProfile {
  name: string;
  /** GPU-instance profile ID as nvidia-smi prints it on this model (per device, not global). */
  id: number;
  memoryMiB: number;
  multiprocessors: number;
  /** Compute slices (the `Ng` in the name); GFD labels them slices.gi/slices.ci. */
  slicesGi: number;
  slicesCi: number;
  /** Memory slices taken on the placement axis (the placement size). */
  memorySlices: number;
  /** Allowed placement starts on the memory-slice axis. */
  starts: number[];
  engines: { copy: number; decoder: number; encoder: number; jpeg: number; ofa: number };
}

export interface GpuModel {
  /** Sanitised product name exactly as GFD writes nvidia.com/gpu.product. */
  product: string;
  /** The name NVML reports (dcgm-exporter's modelName, nvidia-smi). */
  name: string;
  memoryMiB: number;
  family: 'turing' | 'ampere' | 'ada-lovelace' | 'hopper';
  compute: [number, number];
  multiprocessors: number;
  /** Board power: idle draw and limit, in W, for the metrics stand-in. */
  power: { idle: number; max: number };
  mig?: { memorySlices: number; computeSlices: number };
  migProfiles?: Record<string, MigProfile>;
}

const mig = (
  name: string,
  id: number,
  memoryMiB: number,
  sm: number,
  slices: number,
  placement: { size: number; starts: number[] },
  copy: number,
  decoder: number,
  jpeg: number,
): MigProfile => ({
  name,
  id,
  memoryMiB,
  multiprocessors: sm,
  slicesGi: slices,
  slicesCi: slices,
  memorySlices: placement.size,
  starts: placement.starts,
  engines: { copy, decoder, encoder: 0, jpeg, ofa: 0 },
});

// -lgipp placements, identical on A100 and H100 (8 memory slices).
const P1 = { size: 1, starts: [0, 1, 2, 3, 4, 5, 6] };
const P2 = { size: 2, starts: [0, 2, 4] };
const P4 = { size: 4, starts: [0, 4] };

export const GPU_MODELS = {
  h100: {
    product: 'NVIDIA-H100-80GB-HBM3',
    name: 'NVIDIA H100 80GB HBM3',
    memoryMiB: 81559,
    family: 'hopper',
    compute: [9, 0],
    multiprocessors: 132,
    power: { idle: 72, max: 700 },
    mig: { memorySlices: 8, computeSlices: 7 },
    migProfiles: {
      '1g.10gb': mig('1g.10gb', 19, 9984, 16, 1, P1, 1, 1, 1),
      '2g.20gb': mig('2g.20gb', 14, 20096, 32, 2, P2, 2, 2, 2),
      '3g.40gb': mig('3g.40gb', 9, 40448, 60, 3, P4, 3, 3, 3),
    },
  },
  a100_80: {
    product: 'NVIDIA-A100-SXM4-80GB',
    name: 'NVIDIA A100-SXM4-80GB',
    memoryMiB: 81920,
    family: 'ampere',
    compute: [8, 0],
    multiprocessors: 108,
    power: { idle: 62, max: 400 },
    mig: { memorySlices: 8, computeSlices: 7 },
    migProfiles: {
      '1g.10gb': mig('1g.10gb', 19, 9728, 14, 1, P1, 1, 0, 0),
      '2g.20gb': mig('2g.20gb', 14, 19968, 28, 2, P2, 2, 1, 0),
      '3g.40gb': mig('3g.40gb', 9, 40192, 42, 3, P4, 3, 2, 0),
    },
  },
  a100_40: {
    product: 'NVIDIA-A100-SXM4-40GB',
    name: 'NVIDIA A100-SXM4-40GB',
    memoryMiB: 40960,
    family: 'ampere',
    compute: [8, 0],
    multiprocessors: 108,
    power: { idle: 55, max: 400 },
    mig: { memorySlices: 8, computeSlices: 7 },
    migProfiles: {
      '1g.5gb': mig('1g.5gb', 19, 4864, 14, 1, P1, 1, 0, 0),
      '2g.10gb': mig('2g.10gb', 14, 9984, 28, 2, P2, 2, 1, 0),
      '3g.20gb': mig('3g.20gb', 9, 19968, 42, 3, P4, 3, 2, 0),
    },
  },
  // A30: 4 memory and 4 compute slices; profile IDs differ from the A100's (1g.6gb is 14 here).
  a30: {
    product: 'NVIDIA-A30',
    name: 'NVIDIA A30',
    memoryMiB: 24576,
    family: 'ampere',
    compute: [8, 0],
    multiprocessors: 56,
    power: { idle: 31, max: 165 },
    mig: { memorySlices: 4, computeSlices: 4 },
    migProfiles: {
      '1g.6gb': mig('1g.6gb', 14, 5952, 14, 1, { size: 1, starts: [0, 1, 2, 3] }, 1, 0, 0),
      '2g.12gb': mig('2g.12gb', 5, 11968, 28, 2, { size: 2, starts: [0, 2] }, 2, 1, 0),
      '4g.24gb': mig('4g.24gb', 0, 24000, 56, 4, { size: 4, starts: [0] }, 4, 2, 1),
    },
  },
  l40s: { product: 'NVIDIA-L40S', name: 'NVIDIA L40S', memoryMiB: 46068, family: 'ada-lovelace', compute: [8, 9], multiprocessors: 142, power: { idle: 36, max: 350 } },
  t4: { product: 'Tesla-T4', name: 'Tesla T4', memoryMiB: 15360, family: 'turing', compute: [7, 5], multiprocessors: 40, power: { idle: 10, max: 70 } },
} satisfies Record<string, GpuModel>;

export type GpuModelKey = keyof typeof GPU_MODELS;

export interface DriverVersion {
  full: string;
  major: string;
  minor: string;
  revision: string;
  /** What GFD labels as cuda.runtime: the CUDA version the driver supports. */
  cuda: [number, number];
}

const driver = (full: string, cuda: [number, number]): DriverVersion => {
  const [major = '', minor = '', revision = ''] = full.split('.');
  return { full, major, minor, revision, cuda };
};

export const DRIVERS = {
  r535: driver('535.183.01', [12, 2]),
  r550: driver('550.127.05', [12, 4]),
  r570: driver('570.86.15', [12, 8]),
};

export type DriverKey = keyof typeof DRIVERS;

/** The CUDA version each driver branch supports (what GFD labels as cuda.runtime). */
const BRANCH_CUDA: Array<[number, [number, number]]> = [
  [590, [13, 1]],
  [580, [13, 0]],
  [575, [12, 9]],
  [570, [12, 8]],
  [560, [12, 6]],
  [555, [12, 5]],
  [550, [12, 4]],
  [545, [12, 3]],
  [535, [12, 2]],
  [530, [12, 1]],
  [525, [12, 0]],
  [520, [11, 8]],
  [515, [11, 7]],
  [510, [11, 6]],
  [0, [11, 4]],
];

/** A driver version from its full string (e.g. 595.91.07): an upgrade can install any version, not just the catalog's. */
export function parseDriverVersion(full: string): DriverVersion {
  const known = Object.values(DRIVERS).find((d) => d.full === full);
  if (known) return known;
  const major = Number(full.split('.')[0]);
  const cuda = BRANCH_CUDA.find(([branch]) => major >= branch)?.[1] ?? [12, 0];
  return driver(full, cuda);
}

/** A driver version as GFD and the driver upgrade controller accept it: 2 or 3 dot-separated numbers. */
export const DRIVER_VERSION_RE = /^\d{3}\.\d{1,3}(\.\d{1,3})?$/;

/** What a GPU node runs: its catalog branch, unless an upgrade (or `up --driver-version`) installed another version. */
export function installedDriver(gpu: { driver: DriverKey; driverVersion?: string }): DriverVersion {
  return gpu.driverVersion ? parseDriverVersion(gpu.driverVersion) : DRIVERS[gpu.driver];
}

/** mig-parted `all-balanced` per GPU, by memory class (config-default.yaml). */
export const ALL_BALANCED: Record<string, Record<string, number>> = {
  h100: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
  a100_80: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
  a100_40: { '1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1 },
  a30: { '1g.6gb': 2, '2g.12gb': 1 },
};

/** The model widened to the interface, so optional MIG data reads without `in` checks. */
export const gpuModel = (key: GpuModelKey): GpuModel => GPU_MODELS[key];
