import { create } from 'zustand';
import type { AuditPageResult, AuditVerifyResultView } from '../../shared/contract/audit.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { AuditEntry } from '../../shared/model/audit.ts';
import { api } from '../api/client.ts';

export interface AuditFilter {
  text: string;
  action: string;
  outcome: '' | 'started' | 'succeeded' | 'failed' | 'cancelled';
  window: '24h' | '7d' | '30d' | 'all';
}

interface AuditState {
  filter: AuditFilter;
  entries: AuditEntry[];
  nextBefore?: number;
  loading: boolean;
  error?: ErrorShape;
  verify?: AuditVerifyResultView;
  setFilter(patch: Partial<AuditFilter>): void;
  load(more?: boolean): Promise<void>;
  runVerify(): Promise<void>;
}

const WINDOW_MS: Record<AuditFilter['window'], number | null> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, all: null };

export const useAudit = create<AuditState>((set, get) => ({
  filter: { text: '', action: '', outcome: '', window: '7d' },
  entries: [],
  loading: false,

  setFilter(patch) {
    set((s) => ({ filter: { ...s.filter, ...patch } }));
    void get().load();
  },

  async load(more = false) {
    const { filter, nextBefore, entries } = get();
    const ms = WINDOW_MS[filter.window];
    set({ loading: true, error: undefined });
    try {
      const page: AuditPageResult = await api.call('audit.query', {
        limit: 200,
        ...(filter.text ? { text: filter.text } : {}),
        ...(filter.action ? { action: filter.action } : {}),
        ...(filter.outcome ? { outcome: filter.outcome } : {}),
        ...(ms ? { since: new Date(Date.now() - ms).toISOString() } : {}),
        ...(more && nextBefore ? { before: nextBefore } : {}),
      });
      set({ entries: more ? [...entries, ...page.entries] : page.entries, nextBefore: page.nextBefore, loading: false });
    } catch (err) {
      set({ loading: false, error: { code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message } });
    }
  },

  async runVerify() {
    try {
      set({ verify: await api.call('audit.verify', {}) });
    } catch (err) {
      set({ error: { code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message } });
    }
  },
}));
