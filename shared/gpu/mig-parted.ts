/**
 * mig-parted config files as plain JS objects (the shape `version: v1`,
 * `mig-configs: {name: [spec…]}` parses to). YAML text is not handled here:
 * shared/ may not import a YAML library. Validation mirrors mig-parted's
 * strict decoding: unknown keys and wrong types are rejected.
 */
import type { MigModel } from './mig-geometry.ts';

/** One mig-parted spec in app terms. */
export interface MigPartedEntry {
  devices: 'all' | number[];
  enabled: boolean;
  counts: Record<string, number>;
  deviceFilter?: string | string[];
}

/** One spec as it appears in the file. */
export interface MigPartedSpec {
  'device-filter'?: string | string[];
  devices: 'all' | number[];
  'mig-enabled': boolean;
  'mig-devices'?: Record<string, number>;
}

export interface MigPartedFile {
  version: 'v1';
  'mig-configs': Record<string, MigPartedSpec[]>;
}

export interface MigPartedParse {
  /** Configs without problems, by name. A config with any problem is left out. */
  configs: Record<string, MigPartedEntry[]>;
  problems: string[];
}

export interface ResolvedEntry {
  /** Index of the entry that applies, in the config's list. */
  entryIndex: number;
  enabled: boolean;
  counts: Record<string, number>;
}

const TOP_KEYS = ['version', 'mig-configs'];
const SPEC_KEYS = ['device-filter', 'devices', 'mig-enabled', 'mig-devices'];

/** go-nvlib's profile grammar: `[<C>c.]<G>g.<GB>gb[+me|+me.all|+gfx|-me]`. */
export const MIG_PROFILE_NAME = /^(?:\d+c\.)?\d+g\.\d+gb(?:\+me|\+me\.all|\+gfx|-me)?$/;

function specOf(e: MigPartedEntry): MigPartedSpec {
  const spec: MigPartedSpec = { devices: Array.isArray(e.devices) ? [...e.devices] : e.devices, 'mig-enabled': e.enabled };
  if (e.deviceFilter !== undefined) spec['device-filter'] = Array.isArray(e.deviceFilter) ? [...e.deviceFilter] : e.deviceFilter;
  // config-default writes `mig-devices: {}` for enabled-but-empty and leaves it out when disabled.
  if (e.enabled || Object.keys(e.counts).length > 0) spec['mig-devices'] = { ...e.counts };
  return spec;
}

/** A whole file holding one config. */
export function toMigParted(name: string, perGpu: readonly MigPartedEntry[]): MigPartedFile {
  return toMigPartedFile({ [name]: perGpu });
}

/** A whole file holding several configs (what fromMigParted gives back). */
export function toMigPartedFile(configs: Readonly<Record<string, readonly MigPartedEntry[]>>): MigPartedFile {
  const out: Record<string, MigPartedSpec[]> = {};
  for (const [name, entries] of Object.entries(configs)) out[name] = entries.map(specOf);
  return { version: 'v1', 'mig-configs': out };
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function show(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${String(v)} (${typeof v})`;
}

function parseEntry(where: string, raw: unknown, problems: string[]): MigPartedEntry | null {
  const before = problems.length;
  if (!isMap(raw)) {
    problems.push(`${where}: must be a mapping with devices and mig-enabled, not ${show(raw)}.`);
    return null;
  }
  for (const k of Object.keys(raw)) {
    if (!SPEC_KEYS.includes(k)) problems.push(`${where}: unknown key "${k}" (allowed: ${SPEC_KEYS.join(', ')}).`);
  }

  let devices: 'all' | number[] = 'all';
  const d = raw['devices'];
  if (d === undefined) problems.push(`${where}: devices is missing; use "all" or a list of GPU indexes.`);
  else if (d === 'all') devices = 'all';
  else if (Array.isArray(d) && d.every((i) => Number.isInteger(i) && (i as number) >= 0)) {
    devices = d as number[];
    if (new Set(devices).size !== devices.length) problems.push(`${where}: devices lists a GPU index twice.`);
  } else problems.push(`${where}: devices must be "all" or a list of GPU indexes (0 or more), not ${show(d)}.`);

  let enabled = false;
  const me = raw['mig-enabled'];
  if (me === undefined) problems.push(`${where}: mig-enabled is missing; it must be true or false.`);
  else if (typeof me !== 'boolean') problems.push(`${where}: mig-enabled must be true or false, not ${show(me)}.`);
  else enabled = me;

  const counts: Record<string, number> = {};
  const md = raw['mig-devices'];
  if (md !== undefined) {
    if (!isMap(md)) problems.push(`${where}: mig-devices must be a mapping of profile to count, not ${show(md)}.`);
    else {
      for (const [profile, n] of Object.entries(md)) {
        if (!MIG_PROFILE_NAME.test(profile)) problems.push(`${where}: mig-devices key "${profile}" is not a MIG profile name (like 1g.10gb or 3g.40gb).`);
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) problems.push(`${where}: mig-devices "${profile}" is ${show(n)}; counts must be whole numbers, 0 or more.`);
        else counts[profile] = n;
      }
      if (me === false && Object.values(counts).some((n) => n > 0)) {
        problems.push(`${where}: mig-devices asks for instances but mig-enabled is false.`);
      }
    }
  }

  let deviceFilter: string | string[] | undefined;
  const f = raw['device-filter'];
  if (f !== undefined) {
    if (typeof f === 'string') deviceFilter = f;
    else if (Array.isArray(f) && f.every((x) => typeof x === 'string')) deviceFilter = f as string[];
    else problems.push(`${where}: device-filter must be a PCI device ID string or a list of them (like "0x20B210DE"), not ${show(f)}.`);
  }

  if (problems.length > before) return null;
  return { devices, enabled, counts, ...(deviceFilter !== undefined ? { deviceFilter } : {}) };
}

/** Reads a parsed mig-parted file. Every problem is one sentence naming the config and entry (entries count from 1). */
export function fromMigParted(obj: unknown): MigPartedParse {
  const problems: string[] = [];
  const configs: Record<string, MigPartedEntry[]> = {};
  if (!isMap(obj)) {
    problems.push(`A mig-parted config must be a mapping with version and mig-configs, not ${show(obj)}.`);
    return { configs, problems };
  }
  for (const k of Object.keys(obj)) {
    if (!TOP_KEYS.includes(k)) problems.push(`Unknown top-level key "${k}" (allowed: ${TOP_KEYS.join(', ')}).`);
  }
  const v = obj['version'];
  if (v === undefined) problems.push('version is missing; it must be "v1".');
  else if (v !== 'v1') problems.push(`version is ${show(v)}; it must be "v1".`);

  const mc = obj['mig-configs'];
  if (mc === undefined) problems.push('mig-configs is missing.');
  else if (!isMap(mc)) problems.push(`mig-configs must be a mapping of config name to a list of entries, not ${show(mc)}.`);
  else {
    for (const [name, list] of Object.entries(mc)) {
      if (!Array.isArray(list)) {
        problems.push(`Config "${name}": must be a list of entries, not ${show(list)}.`);
        continue;
      }
      if (list.length === 0) {
        problems.push(`Config "${name}": has no entries; it needs at least one.`);
        continue;
      }
      const before = problems.length;
      const entries = list.map((raw, i) => parseEntry(`Config "${name}", entry ${i + 1}`, raw, problems));
      if (problems.length === before) configs[name] = entries as MigPartedEntry[];
    }
  }
  return { configs, problems };
}

/** "0x20b2", "20B2", "0x20B210DE" → "0x20B210DE" (NVIDIA's vendor 10DE assumed for a bare 4-digit ID). */
export function normalizeDeviceId(id: string): string {
  let hex = id.trim().replace(/^0x/i, '').toUpperCase();
  if (/^[0-9A-F]{4}$/.test(hex)) hex += '10DE';
  return `0x${hex}`;
}

function filterMatches(filter: string | string[] | undefined, model: MigModel, deviceId: string | undefined): boolean {
  if (filter === undefined) return true;
  const wanted = (Array.isArray(filter) ? filter : [filter]).map(normalizeDeviceId);
  const have = deviceId !== undefined ? [normalizeDeviceId(deviceId)] : model.deviceIds.map(normalizeDeviceId);
  return wanted.some((w) => have.includes(w));
}

/**
 * The entry of a config that applies to GPU `gpuIndex` of the given model:
 * the first whose devices include the index and whose device-filter (if any)
 * matches the GPU's PCI device ID (`deviceId`, or any of the model's IDs when
 * it is not known). Null when no entry applies (mig-parted leaves that GPU alone).
 */
export function configCountsFor(config: readonly MigPartedEntry[], model: MigModel, gpuIndex: number, deviceId?: string): ResolvedEntry | null {
  for (let i = 0; i < config.length; i++) {
    const e = config[i]!;
    if (e.devices !== 'all' && !e.devices.includes(gpuIndex)) continue;
    if (!filterMatches(e.deviceFilter, model, deviceId)) continue;
    return { entryIndex: i, enabled: e.enabled, counts: { ...e.counts } };
  }
  return null;
}
