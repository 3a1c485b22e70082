/**
 * The arithmetic of showback, kept pure so it can be checked by hand: hours of
 * a pod's lifetime inside a period, a MIG slice's share of its GPU, the price
 * that applies to a device, and the roll-up by namespace, team and workload.
 */
import { MIG_MODELS, migModelFor, profileOf } from '../gpu/mig-geometry.ts';
import type { GpuUsageRecord, ShowbackRow } from '../model/showback.ts';
import type { GpuHourPrice } from '../model/settings.ts';

const HOUR_MS = 3_600_000;

/** Hours of [start, end) that fall inside [from, to); an open end runs to `to`. */
export function overlapHours(start: number, end: number | undefined, from: number, to: number): number {
  const a = Math.max(start, from);
  const b = Math.min(end ?? to, to);
  return b > a ? (b - a) / HOUR_MS : 0;
}

/** The MIG profile a device stands for: `nvidia.com/mig-<p>`, or a single-strategy node whose product says -MIG-<p>. */
export function migProfileOf(resource: string, model?: string): string | undefined {
  if (resource.startsWith('nvidia.com/mig-')) return resource.slice('nvidia.com/mig-'.length);
  const m = model ? /-MIG-(\d+g\.\d+gb(?:\+me)?)$/i.exec(model) : null;
  return m?.[1];
}

/** The GPU model without GFD's MIG or sharing suffix: prices are set per GPU model. */
export function baseModel(model: string | undefined): string | undefined {
  return model?.replace(/-MIG-.*$/i, '').replace(/-SHARED$/i, '');
}

/**
 * A MIG profile's share of its GPU: its memory slices over the GPU's (1g.10gb
 * on an H100 = 1/8). The node's model decides the geometry; when it is unknown,
 * the first model that has a profile of that name does (the names carry the
 * memory size, so they do not collide across geometries).
 */
export function migShare(profile: string, model?: string): number | undefined {
  const byModel = migModelFor(model);
  const m = byModel && profileOf(byModel, profile) ? byModel : MIG_MODELS.find((x) => profileOf(x, profile));
  const p = m && profileOf(m, profile);
  return m && p ? p.memorySlices / m.memorySlices : undefined;
}

export interface DevicePrice {
  /** GPU-equivalents one device counts for (1 for a whole GPU, the slice share for MIG). */
  share: number;
  /** Price of one device-hour, or undefined when no price applies. */
  perDeviceHour?: number;
  /** How the price was found, for the report's tooltip. */
  basis: string;
}

const sameModel = (a: string, b: string | undefined) => b !== undefined && a.toLowerCase() === b.toLowerCase();

/**
 * What one device-hour costs. A price set for the MIG profile (for this model,
 * else for "*") is the price of one slice-hour; otherwise a slice costs its
 * share of the GPU's price (this model, else "*").
 */
export function devicePrice(prices: readonly GpuHourPrice[], resource: string, model?: string): DevicePrice {
  const base = baseModel(model);
  const profile = migProfileOf(resource, model);
  const find = (prof: string | undefined) => prices.find((p) => sameModel(p.model, base) && p.profile === prof) ?? prices.find((p) => p.model === '*' && p.profile === prof);
  if (profile) {
    const share = migShare(profile, model) ?? 1;
    const own = find(profile);
    if (own) return { share, perDeviceHour: own.price, basis: `${own.model} ${profile} price` };
    const gpu = find(undefined);
    if (gpu) return { share, perDeviceHour: gpu.price * share, basis: `${share.toFixed(3).replace(/0+$/, '')} of ${gpu.model} GPU price` };
    return { share, basis: `no price for ${base ?? 'this model'} or ${profile}` };
  }
  const gpu = find(undefined);
  return gpu ? { share: 1, perDeviceHour: gpu.price, basis: `${gpu.model} GPU price` } : { share: 1, basis: `no price for ${base ?? 'an unknown model'}` };
}

export interface PricedUsage {
  record: GpuUsageRecord;
  /** Device-hours inside the period (devices × hours). */
  deviceHours: number;
  gpuHours: number;
  cost: number;
  unpricedHours: number;
}

export function priceUsage(records: readonly GpuUsageRecord[], prices: readonly GpuHourPrice[], from: number, to: number): PricedUsage[] {
  const out: PricedUsage[] = [];
  for (const r of records) {
    const hours = overlapHours(Date.parse(r.start), r.end ? Date.parse(r.end) : undefined, from, to);
    if (hours <= 0 || r.count <= 0) continue;
    const p = devicePrice(prices, r.resource, r.model);
    const deviceHours = hours * r.count;
    const gpuHours = deviceHours * p.share;
    out.push({ record: r, deviceHours, gpuHours, cost: p.perDeviceHour === undefined ? 0 : deviceHours * p.perDeviceHour, unpricedHours: p.perDeviceHour === undefined ? gpuHours : 0 });
  }
  return out;
}

function emptyRow(key: string): ShowbackRow {
  return { key, gpuHours: 0, cost: 0, unpricedHours: 0, idleHours: null, usedHours: null, unknownIdleHours: 0, pods: 0 };
}

function add(row: ShowbackRow, u: PricedUsage, pods: Set<string>): void {
  row.gpuHours += u.gpuHours;
  row.cost += u.cost;
  row.unpricedHours += u.unpricedHours;
  const idle = u.record.idleFraction;
  if (idle === undefined) row.unknownIdleHours += u.gpuHours;
  else {
    row.idleHours = (row.idleHours ?? 0) + u.gpuHours * idle;
    row.usedHours = (row.usedHours ?? 0) + u.gpuHours * (1 - idle);
  }
  pods.add(`${u.record.cluster}|${u.record.namespace}|${u.record.pod}`);
  row.pods = pods.size;
}

export interface Rollup {
  totals: ShowbackRow;
  byNamespace: ShowbackRow[];
  byTeam: ShowbackRow[];
  byWorkload: ShowbackRow[];
}

/** Sums priced usage by namespace, team (records without one go to "(no team)") and workload; largest first. */
export function rollUp(usage: readonly PricedUsage[]): Rollup {
  const groups = { ns: new Map<string, [ShowbackRow, Set<string>]>(), team: new Map<string, [ShowbackRow, Set<string>]>(), wl: new Map<string, [ShowbackRow, Set<string>]>() };
  const totals: [ShowbackRow, Set<string>] = [emptyRow('total'), new Set()];
  const into = (m: Map<string, [ShowbackRow, Set<string>]>, key: string, init: Partial<ShowbackRow>) => {
    let g = m.get(key);
    if (!g) m.set(key, (g = [{ ...emptyRow(key), ...init }, new Set()]));
    return g;
  };
  for (const u of usage) {
    const r = u.record;
    for (const [row, pods] of [
      totals,
      into(groups.ns, r.namespace, { namespace: r.namespace }),
      into(groups.team, r.team ?? '(no team)', r.team ? { team: r.team } : {}),
      into(groups.wl, `${r.namespace}/${r.workload}`, { namespace: r.namespace, ...(r.team ? { team: r.team } : {}) }),
    ] as const)
      add(row, u, pods);
  }
  const sorted = (m: Map<string, [ShowbackRow, Set<string>]>) => [...m.values()].map(([row]) => row).sort((a, b) => b.gpuHours - a.gpuHours || a.key.localeCompare(b.key));
  return { totals: totals[0], byNamespace: sorted(groups.ns), byTeam: sorted(groups.team), byWorkload: sorted(groups.wl) };
}

const csvCell = (v: string | number | null | undefined) => {
  const s = v === null || v === undefined ? '' : typeof v === 'number' ? String(Math.round(v * 10_000) / 10_000) : v;
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One CSV with the three groupings, a `group` column telling them apart; idle is blank where unknown. */
export function showbackCsv(r: Rollup, currency: string): string {
  const head = ['group', 'key', 'namespace', 'team', 'gpu_hours', 'used_hours', 'idle_hours', 'unknown_idle_hours', `cost_${currency}`, 'unpriced_hours', 'pods'];
  const lines = [head.join(',')];
  for (const [group, rows] of [['namespace', r.byNamespace], ['team', r.byTeam], ['workload', r.byWorkload], ['total', [r.totals]]] as const) {
    for (const x of rows) lines.push([group, x.key, x.namespace, x.team, x.gpuHours, x.usedHours, x.idleHours, x.unknownIdleHours, x.cost, x.unpricedHours, x.pods].map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}
