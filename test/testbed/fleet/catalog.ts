// The fleet's shape: a fixed 24-node pattern (so even the default fleet shows every
// case the console must handle) repeated for larger fleets. Same N, same nodes.
import { ALL_BALANCED, DRIVERS, GPU_MODELS, type DriverKey, type GpuModelKey } from './gpus.ts';

export type LabelGeneration = 'both' | 'deprecated';

export interface MigSetup {
  strategy: 'single' | 'mixed';
  /** Value of nvidia.com/mig.config. */
  config: string;
  /** MIG devices per GPU; empty means "MIG enabled but no instances" (GFD: -MIG-INVALID). */
  perGpu: Record<string, number>;
}

export interface Machine {
  name: string;
  cpu: number;
  memoryGi: number;
  diskGi: number;
}

export interface NodeSpec {
  name: string;
  index: number;
  pool: string;
  zone: string;
  ip: string;
  podCIDR: string;
  machine: Machine;
  os: { image: string; kernel: string; runtime: string; versionId: string };
  unschedulable: boolean;
  gpu?: {
    model: GpuModelKey;
    count: number;
    driver: DriverKey;
    /** The full driver version installed, when it is not the branch's catalog version (set by upgrades, `up --driver-version`). */
    driverVersion?: string;
    labels: LabelGeneration;
    mig?: MigSetup;
    exporter: ExporterFlavor;
  };
}

/**
 * Which dcgm-exporter runs on the node, and which quirks of real scrapes it shows.
 * labels: 'v3' is 3.x (Hostname=, pci_bus_id, modelName); 'v4' spells hostname= and
 * adds err_code/err_msg to XID series; 'legacy' (2.x) has neither pci_bus_id nor
 * modelName and writes gpu_instance_id for GPU_I_ID.
 */
export interface ExporterFlavor {
  image: string;
  labels: 'legacy' | 'v3' | 'v4';
  quirks: Array<'non-numeric-value' | 'no-profiling' | 'extra-comments'>;
}

const EXPORTERS = {
  v3: { image: 'nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04', labels: 'v3', quirks: [] },
  v4: { image: 'nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.1-ubuntu22.04', labels: 'v4', quirks: [] },
  // A scrape with a value DCGM could not convert ("ERROR - FAILED TO CONVERT TO STRING").
  glitchy: { image: 'nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04', labels: 'v3', quirks: ['non-numeric-value'] },
  // Old standalone stacks: no profiling module (no DCGM_FI_PROF_*), stray comments.
  legacy: { image: 'nvcr.io/nvidia/k8s/dcgm-exporter:2.3.5-2.6.5-ubuntu20.04', labels: 'legacy', quirks: ['no-profiling', 'extra-comments'] },
  legacyMig: { image: 'nvcr.io/nvidia/k8s/dcgm-exporter:2.4.6-2.6.10-ubuntu20.04', labels: 'legacy', quirks: ['extra-comments'] },
} satisfies Record<string, ExporterFlavor>;

const MACHINES = {
  xe9680: { name: 'PowerEdge-XE9680', cpu: 224, memoryGi: 2048, diskGi: 3576 },
  dgxA100: { name: 'DGXA100-920-23687-2530-000', cpu: 256, memoryGi: 2048, diskGi: 3576 },
  dgxA100_40: { name: 'DGXA100-920-23687-2530-000', cpu: 256, memoryGi: 1024, diskGi: 1788 },
  dl380a: { name: 'ProLiant-DL380a-Gen11', cpu: 128, memoryGi: 512, diskGi: 1788 },
  r740: { name: 'PowerEdge-R740', cpu: 64, memoryGi: 384, diskGi: 894 },
  r6525: { name: 'PowerEdge-R6525', cpu: 128, memoryGi: 512, diskGi: 894 },
  r750xa: { name: 'PowerEdge-R750xa', cpu: 112, memoryGi: 512, diskGi: 1788 },
} satisfies Record<string, Machine>;

const OS = {
  jammy: { image: 'Ubuntu 22.04.4 LTS', kernel: '5.15.0-105-generic', runtime: 'containerd://1.7.12', versionId: '22.04' },
  focal: { image: 'Ubuntu 20.04.6 LTS', kernel: '5.4.0-182-generic', runtime: 'containerd://1.6.28', versionId: '20.04' },
};

interface Archetype {
  prefix: string;
  pool: string;
  machine: Machine;
  os: keyof typeof OS;
  gpu?: NodeSpec['gpu'];
  /** Only in the first 24 nodes: exactly one such node per fleet. */
  once?: { cordoned?: boolean; replaceWith?: Archetype };
}

const single1g = (): MigSetup => ({ strategy: 'single', config: 'all-1g.10gb', perGpu: { '1g.10gb': 7 } });
const balanced = (model: 'h100' | 'a100_80' | 'a100_40' | 'a30'): MigSetup => ({ strategy: 'mixed', config: 'all-balanced', perGpu: ALL_BALANCED[model] ?? {} });
type Exporter = keyof typeof EXPORTERS;

const h100 = (driver: DriverKey, mig?: MigSetup, exporter: Exporter = 'v3'): Archetype => ({
  prefix: 'h100',
  pool: mig ? 'shared-mig' : 'training',
  machine: MACHINES.xe9680,
  os: 'jammy',
  gpu: { model: 'h100', count: 8, driver, labels: 'both', mig, exporter: EXPORTERS[exporter] },
});
const a100 = (driver: DriverKey, mig?: MigSetup, exporter: Exporter = 'v3'): Archetype => ({
  prefix: 'a100-80g',
  pool: mig ? 'shared-mig' : 'training',
  machine: MACHINES.dgxA100,
  os: 'jammy',
  gpu: { model: 'a100_80', count: 8, driver, labels: 'both', mig, exporter: EXPORTERS[exporter] },
});
const a100_40 = (driver: DriverKey, mig?: MigSetup): Archetype => ({
  prefix: 'a100-40g',
  pool: mig ? 'shared-mig' : 'training',
  machine: MACHINES.dgxA100_40,
  os: 'jammy',
  gpu: { model: 'a100_40', count: 8, driver, labels: 'both', mig, exporter: EXPORTERS.v3 },
});
const a30 = (driver: DriverKey, mig: MigSetup): Archetype => ({
  prefix: 'a30',
  pool: 'shared-mig',
  machine: MACHINES.r750xa,
  os: 'jammy',
  gpu: { model: 'a30', count: 4, driver, labels: 'both', mig, exporter: EXPORTERS.v3 },
});
const l40s = (driver: DriverKey, labels: LabelGeneration = 'both', exporter: Exporter = 'v3'): Archetype => ({
  prefix: 'l40s',
  pool: 'inference',
  machine: MACHINES.dl380a,
  os: labels === 'deprecated' ? 'focal' : 'jammy',
  gpu: { model: 'l40s', count: 4, driver, labels, exporter: EXPORTERS[labels === 'deprecated' ? 'legacy' : exporter] },
});
const t4 = (driver: DriverKey, labels: LabelGeneration = 'both'): Archetype => ({
  prefix: 't4',
  pool: 'inference',
  machine: MACHINES.r740,
  os: labels === 'deprecated' ? 'focal' : 'jammy',
  gpu: { model: 't4', count: 1, driver, labels, exporter: EXPORTERS[labels === 'deprecated' ? 'legacy' : 'v3'] },
});
const cpu = (): Archetype => ({ prefix: 'cpu', pool: 'system', machine: MACHINES.r6525, os: 'jammy' });

const PATTERN: Archetype[] = [
  h100('r550'),
  a100('r535'),
  h100('r570', undefined, 'v4'),
  a100('r550', single1g()),
  l40s('r550'),
  t4('r535', 'deprecated'),
  a100_40('r550', balanced('a100_40')),
  cpu(),
  h100('r570'),
  a100('r550'),
  l40s('r570', 'both', 'glitchy'),
  {
    ...a100('r550', { strategy: 'single', config: 'all-enabled', perGpu: {} }),
    once: { replaceWith: a100('r550') },
  },
  h100('r570', balanced('h100')),
  t4('r535', 'deprecated'),
  a100_40('r535'),
  cpu(),
  { ...h100('r550'), once: { cordoned: true, replaceWith: h100('r550') } },
  l40s('r535', 'deprecated'),
  a100('r535', single1g(), 'legacyMig'),
  a30('r550', balanced('a30')),
  a30('r535', { strategy: 'single', config: 'all-1g.6gb', perGpu: { '1g.6gb': 4 } }),
  t4('r550'),
  h100('r570', single1g()),
  a100_40('r550'),
];

export const PATTERN_SIZE = PATTERN.length;

/** The default node network; a second test bed on the machine gets 127.11, and so on (see node-network.ts). */
export const DEFAULT_NODE_NET = 10;

/** 127.<net>.x.y, skipping .0 and .255, so every node has its own loopback address (dcgm-exporter :9400, later sshd). */
export function nodeIp(i: number, net = DEFAULT_NODE_NET): string {
  return `127.${net}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function fleetSpec(n: number, opts: { net?: number; driverVersion?: string } = {}): NodeSpec[] {
  const width = Math.max(4, String(n - 1).length);
  const nodes: NodeSpec[] = [];
  for (let i = 0; i < n; i++) {
    let arch = PATTERN[i % PATTERN.length] as Archetype;
    const first = i < PATTERN.length;
    if (arch.once && !first) arch = arch.once.replaceWith ?? arch;
    nodes.push({
      name: `${arch.prefix}-${String(i).padStart(width, '0')}`,
      index: i,
      pool: arch.pool,
      zone: `rack-${String(Math.floor(i / 8)).padStart(3, '0')}`,
      ip: nodeIp(i, opts.net),
      podCIDR: `10.${128 + (i >> 8)}.${i & 255}.0/24`,
      machine: arch.machine,
      os: OS[arch.os],
      unschedulable: Boolean(first && arch.once?.cordoned),
      // A copy per node: an upgrade changes one node's driver, not its archetype's.
      gpu: arch.gpu && { ...arch.gpu, ...(opts.driverVersion ? { driverVersion: opts.driverVersion } : {}) },
    });
  }
  return nodes;
}

export { DRIVERS, GPU_MODELS };
