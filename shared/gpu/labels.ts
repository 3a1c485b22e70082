/**
 * GPU Feature Discovery / GPU Operator node labels, both generations.
 * GFD renamed cuda.driver.* to cuda.driver-version.* and cuda.runtime.* to
 * cuda.runtime-version.*, but still emits the old names on many fleets, and
 * older fleets only have the old ones: read whichever is present.
 */
export type Labels = Readonly<Record<string, string | undefined>>;

const P = 'nvidia.com/';

export interface GpuLabelFacts {
  present: boolean;
  product?: string;
  model?: string;
  migProfile?: string;
  migInvalid: boolean;
  shared: boolean;
  count?: number;
  memoryMiB?: number;
  family?: string;
  driverVersion?: string;
  cudaVersion?: string;
  migStrategy?: string;
  migCapable?: boolean;
  migConfig?: string;
  migConfigState?: string;
  /** Per-profile counts from mixed-strategy labels (`nvidia.com/mig-<profile>.count`). */
  migProfiles: Record<string, number>;
  labelGeneration: 'current' | 'deprecated' | 'both' | 'none';
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

function driverVersion(l: Labels): { version?: string; current: boolean; deprecated: boolean } {
  const full = l[`${P}cuda.driver-version.full`];
  const cur = [l[`${P}cuda.driver-version.major`], l[`${P}cuda.driver-version.minor`], l[`${P}cuda.driver-version.revision`]];
  const old = [l[`${P}cuda.driver.major`], l[`${P}cuda.driver.minor`], l[`${P}cuda.driver.rev`]];
  const current = full !== undefined || cur[0] !== undefined;
  const deprecated = old[0] !== undefined;
  const join = (parts: (string | undefined)[]) => parts.filter((p) => p !== undefined && p !== '').join('.') || undefined;
  return { version: full ?? join(cur) ?? join(old), current, deprecated };
}

function cudaVersion(l: Labels): { version?: string; current: boolean; deprecated: boolean } {
  const full = l[`${P}cuda.runtime-version.full`];
  const curMajor = l[`${P}cuda.runtime-version.major`];
  const oldMajor = l[`${P}cuda.runtime.major`];
  let version = full;
  if (!version && curMajor) version = `${curMajor}.${l[`${P}cuda.runtime-version.minor`] ?? '0'}`;
  if (!version && oldMajor) version = `${oldMajor}.${l[`${P}cuda.runtime.minor`] ?? '0'}`;
  return { version, current: full !== undefined || curMajor !== undefined, deprecated: oldMajor !== undefined };
}

/** Splits `NVIDIA-A100-80GB-PCIe-MIG-1g.10gb` into model and profile; flags MIG-INVALID and -SHARED. */
export function splitProduct(product: string): { model: string; migProfile?: string; migInvalid: boolean; shared: boolean } {
  let model = product;
  let shared = false;
  if (model.endsWith('-SHARED')) {
    shared = true;
    model = model.slice(0, -'-SHARED'.length);
  }
  const i = model.lastIndexOf('-MIG-');
  if (i < 0) return { model, migInvalid: false, shared };
  const suffix = model.slice(i + 5);
  model = model.slice(0, i);
  if (suffix === 'INVALID') return { model, migInvalid: true, shared };
  return { model, migProfile: suffix, migInvalid: false, shared };
}

export function readGpuLabels(labels: Labels | undefined): GpuLabelFacts {
  const l: Labels = labels ?? {};
  const product = l[`${P}gpu.product`];
  const drv = driverVersion(l);
  const cuda = cudaVersion(l);
  const current = drv.current || cuda.current;
  const deprecated = drv.deprecated || cuda.deprecated;
  const migProfiles: Record<string, number> = {};
  for (const [key, value] of Object.entries(l)) {
    const m = /^nvidia\.com\/mig-(.+)\.count$/.exec(key);
    if (m && m[1]) migProfiles[m[1]] = int(value) ?? 0;
  }
  const split = product ? splitProduct(product) : undefined;
  const capable = l[`${P}mig.capable`];
  return {
    present: l[`${P}gpu.present`] === 'true' || product !== undefined,
    product,
    model: split?.model,
    migProfile: split?.migProfile,
    migInvalid: split?.migInvalid ?? false,
    shared: split?.shared ?? false,
    count: int(l[`${P}gpu.count`]),
    memoryMiB: int(l[`${P}gpu.memory`]),
    family: l[`${P}gpu.family`],
    driverVersion: drv.version,
    cudaVersion: cuda.version,
    migStrategy: l[`${P}mig.strategy`],
    migCapable: capable === undefined ? undefined : capable === 'true',
    migConfig: l[`${P}mig.config`],
    migConfigState: l[`${P}mig.config.state`],
    migProfiles,
    labelGeneration: current && deprecated ? 'both' : current ? 'current' : deprecated ? 'deprecated' : 'none',
  };
}

/** Device resources a node advertises: `nvidia.com/gpu` and every `nvidia.com/mig-*`. */
export function gpuResourceKeys(resources: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(resources ?? {}).filter((k) => k === `${P}gpu` || k.startsWith(`${P}mig-`));
}
