// GPU models, drivers and MIG profiles as GFD and the device plugin report them.
// Numbers come from reference/gpu.md §1.2/§2 and the real label dumps in
// shared/fixtures/gpu (memory in MiB as GFD labels it; engines from -lgip).

export interface MigProfile {
  name: string;
  memoryMiB: number;
  multiprocessors: number;
  slicesGi: number;
  slicesCi: number;
  engines: { copy: number; decoder: number; encoder: number; jpeg: number; ofa: number };
}

export interface GpuModel {
  /** Sanitised product name exactly as GFD writes nvidia.com/gpu.product. */
  product: string;
  memoryMiB: number;
  family: 'turing' | 'ampere' | 'ada-lovelace' | 'hopper';
  compute: [number, number];
  multiprocessors: number;
  migProfiles?: Record<string, MigProfile>;
}

const mig = (name: string, memoryMiB: number, sm: number, slices: number, copy: number, decoder: number, jpeg: number): MigProfile => ({
  name,
  memoryMiB,
  multiprocessors: sm,
  slicesGi: slices,
  slicesCi: slices,
  engines: { copy, decoder, encoder: 0, jpeg, ofa: 0 },
});

export const GPU_MODELS = {
  h100: {
    product: 'NVIDIA-H100-80GB-HBM3',
    memoryMiB: 81559,
    family: 'hopper',
    compute: [9, 0],
    multiprocessors: 132,
    migProfiles: {
      '1g.10gb': mig('1g.10gb', 9984, 16, 1, 1, 1, 1),
      '2g.20gb': mig('2g.20gb', 20096, 32, 2, 2, 2, 2),
      '3g.40gb': mig('3g.40gb', 40448, 60, 3, 3, 3, 3),
    },
  },
  a100_80: {
    product: 'NVIDIA-A100-SXM4-80GB',
    memoryMiB: 81920,
    family: 'ampere',
    compute: [8, 0],
    multiprocessors: 108,
    migProfiles: {
      '1g.10gb': mig('1g.10gb', 9728, 14, 1, 1, 0, 0),
      '2g.20gb': mig('2g.20gb', 19968, 28, 2, 2, 1, 0),
      '3g.40gb': mig('3g.40gb', 40192, 42, 3, 3, 2, 0),
    },
  },
  a100_40: {
    product: 'NVIDIA-A100-SXM4-40GB',
    memoryMiB: 40960,
    family: 'ampere',
    compute: [8, 0],
    multiprocessors: 108,
    migProfiles: {
      '1g.5gb': mig('1g.5gb', 4864, 14, 1, 1, 0, 0),
      '2g.10gb': mig('2g.10gb', 9984, 28, 2, 2, 1, 0),
      '3g.20gb': mig('3g.20gb', 19968, 42, 3, 3, 2, 0),
    },
  },
  l40s: { product: 'NVIDIA-L40S', memoryMiB: 46068, family: 'ada-lovelace', compute: [8, 9], multiprocessors: 142 },
  t4: { product: 'Tesla-T4', memoryMiB: 15360, family: 'turing', compute: [7, 5], multiprocessors: 40 },
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

/** mig-parted `all-balanced` per GPU, by memory class (config-default.yaml). */
export const ALL_BALANCED: Record<string, Record<string, number>> = {
  h100: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
  a100_80: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
  a100_40: { '1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1 },
};
