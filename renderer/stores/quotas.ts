import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { NamespaceQuota, QuotaList, QuotaUpdateResult } from '../../shared/contract/quotas.ts';
import { api } from '../api/client.ts';

/** An edit in progress: the quota as loaded and the values typed (empty = remove the key). */
export interface QuotaDraft {
  clusterId: string;
  namespace: string;
  name: string;
  resourceVersion?: string;
  before: Record<string, string>;
  values: Record<string, string>;
  /** Set once the user asked to save: the before/after shown for confirmation. */
  confirming: boolean;
}

interface QuotasState {
  clusterId?: string;
  list?: QuotaList;
  loading: boolean;
  error?: ErrorShape;
  draft?: QuotaDraft;
  draftError?: string;
  saving: boolean;
  saved?: QuotaUpdateResult;
  load(clusterId: string): Promise<void>;
  edit(row: NamespaceQuota, quotaName?: string): void;
  setValue(key: string, value: string): void;
  cancel(): void;
  review(): void;
  save(): Promise<void>;
}

const toError = (err: unknown): ErrorShape => ({ code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message });

/** The changes a draft makes, checked: whole numbers only, and nothing to save is said so. */
export function draftChanges(d: QuotaDraft): { changes: { resource: string; value?: number }[]; after: Record<string, string> } | { problem: string } {
  const changes: { resource: string; value?: number }[] = [];
  const after: Record<string, string> = {};
  for (const [key, raw] of Object.entries(d.values)) {
    const v = raw.trim();
    if (v === '') {
      if (d.before[key] !== undefined) changes.push({ resource: key });
      continue;
    }
    if (!/^\d+$/.test(v)) return { problem: `${key}: "${raw}" is not a whole number of devices` };
    after[key] = String(Number(v));
    if (d.before[key] !== after[key]) changes.push({ resource: key, value: Number(v) });
  }
  return changes.length ? { changes, after } : { problem: 'nothing changed' };
}

export const useQuotas = create<QuotasState>((set, get) => ({
  loading: false,
  saving: false,

  async load(clusterId) {
    set({ clusterId, loading: true, error: undefined, ...(get().clusterId !== clusterId ? { list: undefined } : {}) });
    try {
      const list = await api.call('quotas.list', { id: clusterId });
      if (get().clusterId === clusterId) set({ list, loading: false });
    } catch (err) {
      set({ loading: false, error: toError(err) });
    }
  },

  edit(row, quotaName) {
    const q = row.quotas.find((x) => x.name === quotaName) ?? row.quotas[0];
    const before = q ? { ...q.hard } : {};
    const values: Record<string, string> = { ...before };
    // Offer a key for every GPU resource the namespace uses that no quota caps yet.
    for (const l of row.lines) if (!Object.keys(values).some((k) => k.replace(/^(requests|limits)\./, '') === l.resource)) values[`requests.${l.resource}`] = '';
    if (Object.keys(values).length === 0) values['requests.nvidia.com/gpu'] = '';
    set({ draft: { clusterId: row.clusterId, namespace: row.namespace, name: q?.name ?? 'gpu-quota', ...(q ? { resourceVersion: q.resourceVersion } : {}), before, values, confirming: false }, draftError: undefined, saved: undefined });
  },

  setValue(key, value) {
    const d = get().draft;
    if (d) set({ draft: { ...d, values: { ...d.values, [key]: value }, confirming: false }, draftError: undefined });
  },

  cancel() {
    set({ draft: undefined, draftError: undefined });
  },

  review() {
    const d = get().draft;
    if (!d) return;
    const c = draftChanges(d);
    if ('problem' in c) set({ draftError: c.problem });
    else set({ draft: { ...d, confirming: true }, draftError: undefined });
  },

  async save() {
    const d = get().draft;
    if (!d) return;
    const c = draftChanges(d);
    if ('problem' in c) return set({ draftError: c.problem });
    set({ saving: true, draftError: undefined });
    try {
      const saved = await api.call('quotas.update', { id: d.clusterId, namespace: d.namespace, name: d.name, ...(d.resourceVersion ? { resourceVersion: d.resourceVersion, seen: Object.entries(d.before).map(([resource, value]) => ({ resource, value })) } : {}), changes: c.changes });
      set({ saving: false, saved, draft: undefined });
      await get().load(d.clusterId);
    } catch (err) {
      set({ saving: false, draftError: (err as Error).message });
    }
  },
}));
