/**
 * MIG GPU-instance geometry per GPU model, from real `nvidia-smi mig -lgip`
 * and `-lgipp` captures (see the reference notes). Profiles are keyed by name
 * plus slice counts, as mig-parted does: numeric profile IDs differ per device.
 */
export interface MigProfile {
  name: string;
  /** The ID nvidia-smi prints on this model (per device, not global). */
  id: number;
  computeSlices: number;
  /** Memory slices taken on the placement axis (the placement size). */
  memorySlices: number;
  maxCount: number;
  /** Allowed placement starts on the memory-slice axis. */
  starts: number[];
  memoryMiB: number;
  multiprocessors: number;
  /** +me profiles take the GPU's single set of media engines. */
  media?: boolean;
}

export interface MigModel {
  key: string;
  label: string;
  memorySlices: number;
  computeSlices: number;
  memoryMiB: number;
  profiles: MigProfile[];
  /** The per-GPU layout of mig-parted's `all-balanced` for this model. */
  balanced: Record<string, number>;
  /** How GPU Feature Discovery spells the product (sanitised), used to match node labels. */
  productPatterns: RegExp[];
  /** PCI device IDs as mig-parted's device-filter writes them. */
  deviceIds: string[];
}

type Row = [name: string, id: number, c: number, m: number, max: number, starts: number[], mib: number, sm: number];

const STARTS_1 = [0, 1, 2, 3, 4, 5, 6];
const STARTS_2_4 = [0, 2, 4, 6];
const STARTS_2_3 = [0, 2, 4];

function profiles(rows: Row[]): MigProfile[] {
  return rows.map(([name, id, c, m, max, starts, mib, sm]) => ({
    name,
    id,
    computeSlices: c,
    memorySlices: m,
    maxCount: max,
    starts,
    memoryMiB: mib,
    multiprocessors: sm,
    ...(name.endsWith('+me') ? { media: true } : {}),
  }));
}

/** The A100/H100/H200 pattern: 8 memory slices, 7 compute slices, same IDs and placements. */
function eightSlice(g1: string, g1m: number, g2: string, g2m: number, g3: string, g3m: number, g7: string, g7m: number, sms: number[]): MigProfile[] {
  const [s1, s1b, s2, s3, s4, s7] = sms as [number, number, number, number, number, number];
  const rows: Row[] = [
    [g1, 19, 1, 1, 7, STARTS_1, g1m, s1],
    [`${g1}+me`, 20, 1, 1, 1, STARTS_1, g1m, s1],
    [g2.replace(/^2g/, '1g'), 15, 1, 2, 4, STARTS_2_4, g2m, s1b],
    [g2, 14, 2, 2, 3, STARTS_2_3, g2m, s2],
    [g3, 9, 3, 4, 2, [0, 4], g3m, s3],
    [g3.replace(/^3g/, '4g'), 5, 4, 4, 1, [0], g3m, s4],
    [g7, 0, 7, 8, 1, [0], g7m, s7],
  ];
  return profiles(rows);
}

export const MIG_MODELS: MigModel[] = [
  {
    key: 'A100-40GB',
    label: 'A100 40GB',
    memorySlices: 8,
    computeSlices: 7,
    memoryMiB: 40960,
    profiles: profiles([
      ['1g.5gb', 19, 1, 1, 7, STARTS_1, 4864, 14],
      ['1g.5gb+me', 20, 1, 1, 1, STARTS_1, 4864, 14],
      ['1g.10gb', 15, 1, 2, 4, STARTS_2_4, 9856, 14],
      ['2g.10gb', 14, 2, 2, 3, STARTS_2_3, 9856, 28],
      ['3g.20gb', 9, 3, 4, 2, [0, 4], 19968, 42],
      ['4g.20gb', 5, 4, 4, 1, [0], 20096, 56],
      ['7g.40gb', 0, 7, 8, 1, [0], 40448, 98],
    ]),
    balanced: { '1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1 },
    productPatterns: [/A100.*40GB/i, /A800.*40GB/i],
    deviceIds: ['0x20B010DE', '0x20B110DE', '0x20F110DE', '0x20F610DE'],
  },
  {
    key: 'A100-80GB',
    label: 'A100 80GB',
    memorySlices: 8,
    computeSlices: 7,
    memoryMiB: 81920,
    profiles: eightSlice('1g.10gb', 9728, '2g.20gb', 19968, '3g.40gb', 40192, '7g.80gb', 80896, [14, 14, 28, 42, 56, 98]),
    balanced: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
    productPatterns: [/A100.*80GB/i, /A800.*80GB/i],
    deviceIds: ['0x20B210DE', '0x20B510DE', '0x20F310DE', '0x20F510DE'],
  },
  {
    key: 'H100-NVL',
    label: 'H100 NVL',
    memorySlices: 8,
    computeSlices: 7,
    memoryMiB: 95830,
    profiles: eightSlice('1g.12gb', 11008, '2g.24gb', 22144, '3g.47gb', 47488, '7g.94gb', 95360, [16, 26, 32, 60, 64, 132]),
    balanced: { '1g.12gb': 2, '2g.24gb': 1, '3g.47gb': 1 },
    productPatterns: [/H100.*NVL/i],
    deviceIds: ['0x232110DE', '0x233A10DE'],
  },
  {
    key: 'H100-80GB',
    label: 'H100 80GB (SXM / PCIe)',
    memorySlices: 8,
    computeSlices: 7,
    memoryMiB: 81559,
    profiles: eightSlice('1g.10gb', 9984, '2g.20gb', 20096, '3g.40gb', 40448, '7g.80gb', 81152, [16, 26, 32, 60, 64, 132]),
    balanced: { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 },
    productPatterns: [/H100.*(80GB|SXM|PCIe|HBM3)/i, /H800/i],
    deviceIds: ['0x233010DE', '0x233110DE', '0x232210DE', '0x232410DE'],
  },
  {
    key: 'H200',
    label: 'H200 141GB',
    memorySlices: 8,
    computeSlices: 7,
    memoryMiB: 143771,
    profiles: eightSlice('1g.18gb', 16384, '2g.35gb', 33792, '3g.71gb', 69632, '7g.141gb', 140288, [16, 26, 32, 60, 64, 132]),
    balanced: { '1g.18gb': 2, '2g.35gb': 1, '3g.71gb': 1 },
    productPatterns: [/H200/i],
    deviceIds: ['0x233510DE', '0x233B10DE'],
  },
  {
    key: 'A30',
    label: 'A30 24GB',
    memorySlices: 4,
    computeSlices: 4,
    memoryMiB: 24576,
    profiles: profiles([
      ['1g.6gb', 14, 1, 1, 4, [0, 1, 2, 3], 5952, 14],
      ['1g.6gb+me', 21, 1, 1, 1, [0, 1, 2, 3], 5952, 14],
      ['2g.12gb', 5, 2, 2, 2, [0, 2], 11968, 28],
      ['2g.12gb+me', 6, 2, 2, 1, [0, 2], 11968, 28],
      ['4g.24gb', 0, 4, 4, 1, [0], 24000, 56],
    ]),
    balanced: { '1g.6gb': 2, '2g.12gb': 1 },
    productPatterns: [/A30\b/i],
    deviceIds: ['0x20B710DE'],
  },
];

/** The MIG model for a GFD product name (MIG and sharing suffixes are ignored), or undefined when the GPU has no MIG. */
export function migModelFor(product: string | undefined): MigModel | undefined {
  if (!product) return undefined;
  return MIG_MODELS.find((m) => m.productPatterns.some((re) => re.test(product)));
}

export function profileOf(model: MigModel, name: string): MigProfile | undefined {
  return model.profiles.find((p) => p.name === name);
}

export interface Placement {
  profile: string;
  start: number;
  size: number;
}

/**
 * Places instances on one GPU: largest first, each at its lowest allowed free
 * start, backtracking when a greedy choice blocks a later instance. Returns
 * null when no placement exists.
 */
export function placeOnGpu(model: MigModel, counts: Record<string, number>): Placement[] | null {
  const wanted: MigProfile[] = [];
  for (const [name, n] of Object.entries(counts)) {
    const p = profileOf(model, name);
    if (!p) return null;
    for (let i = 0; i < n; i++) wanted.push(p);
  }
  wanted.sort((a, b) => b.memorySlices - a.memorySlices || b.computeSlices - a.computeSlices || a.name.localeCompare(b.name));
  const compute = wanted.reduce((s, p) => s + p.computeSlices, 0);
  if (compute > model.computeSlices) return null;
  const used = new Array<boolean>(model.memorySlices).fill(false);
  const out: Placement[] = [];
  const fits = (start: number, size: number) => start + size <= model.memorySlices && used.slice(start, start + size).every((u) => !u);
  const place = (i: number): boolean => {
    if (i === wanted.length) return true;
    const p = wanted[i]!;
    for (const start of p.starts) {
      if (!fits(start, p.memorySlices)) continue;
      for (let k = start; k < start + p.memorySlices; k++) used[k] = true;
      out.push({ profile: p.name, start, size: p.memorySlices });
      if (place(i + 1)) return true;
      out.pop();
      for (let k = start; k < start + p.memorySlices; k++) used[k] = false;
    }
    return false;
  };
  return place(0) ? out.sort((a, b) => a.start - b.start) : null;
}

/**
 * Spreads a node's MIG instance counts over its GPUs, GPU by GPU, filling
 * each as far as a valid placement allows. Used when the API only tells how
 * many instances of each profile a node has, not where they are.
 */
export function distributeOverGpus(model: MigModel, gpus: number, counts: Record<string, number>): Placement[][] {
  // Operators apply one config to all GPUs (all-balanced, all-1g.10gb…): an even split is the likely truth.
  const names = Object.keys(counts);
  if (gpus > 0 && names.every((n) => counts[n]! % gpus === 0)) {
    const share = Object.fromEntries(names.map((n) => [n, counts[n]! / gpus]));
    const one = placeOnGpu(model, share);
    if (one) return Array.from({ length: gpus }, () => one.map((p) => ({ ...p })));
  }
  const left = { ...counts };
  const layouts: Placement[][] = [];
  const order = Object.keys(left).sort((a, b) => (profileOf(model, b)?.memorySlices ?? 0) - (profileOf(model, a)?.memorySlices ?? 0));
  for (let g = 0; g < gpus; g++) {
    const mine: Record<string, number> = {};
    for (const name of order) {
      while ((left[name] ?? 0) > 0) {
        const attempt = { ...mine, [name]: (mine[name] ?? 0) + 1 };
        if (!placeOnGpu(model, attempt)) break;
        mine[name] = attempt[name]!;
        left[name]!--;
      }
    }
    layouts.push(placeOnGpu(model, mine) ?? []);
  }
  return layouts;
}
