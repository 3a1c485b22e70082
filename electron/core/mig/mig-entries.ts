import type { MigPartedEntry } from '../../../shared/gpu/mig-parted.ts';

/** The contract's entry shape (no records or unions in the schema language) as mig-parted entries. */
export interface ContractEntry {
  devices?: number[];
  enabled: boolean;
  counts: { profile: string; count: number }[];
  deviceFilter?: string[];
}

export function entriesFromContract(entries: readonly ContractEntry[]): MigPartedEntry[] {
  return entries.map((e) => {
    const counts: Record<string, number> = {};
    for (const c of e.counts) counts[c.profile] = (counts[c.profile] ?? 0) + c.count;
    return {
      devices: e.devices && e.devices.length ? [...e.devices] : 'all',
      enabled: e.enabled,
      counts,
      ...(e.deviceFilter?.length ? { deviceFilter: e.deviceFilter.length === 1 ? e.deviceFilter[0]! : [...e.deviceFilter] } : {}),
    };
  });
}

export function entriesToContract(entries: readonly MigPartedEntry[]): ContractEntry[] {
  return entries.map((e) => ({
    ...(e.devices === 'all' ? {} : { devices: [...e.devices] }),
    enabled: e.enabled,
    counts: Object.entries(e.counts).map(([profile, count]) => ({ profile, count })),
    ...(e.deviceFilter !== undefined ? { deviceFilter: Array.isArray(e.deviceFilter) ? [...e.deviceFilter] : [e.deviceFilter] } : {}),
  }));
}
