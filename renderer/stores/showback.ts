import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ShowbackReport } from '../../shared/model/showback.ts';
import { api } from '../api/client.ts';
import { periodRange, type ShowbackPeriod } from '../../shared/showback/showback-period.ts';

export { periodRange, type ShowbackPeriod };

interface ShowbackState {
  clusterId?: string;
  period: ShowbackPeriod;
  report?: ShowbackReport;
  loading: boolean;
  error?: ErrorShape;
  load(clusterId: string, period?: ShowbackPeriod): Promise<void>;
}

export const useShowback = create<ShowbackState>((set, get) => ({
  period: '7d',
  loading: false,

  async load(clusterId, period = get().period) {
    set({ clusterId, period, loading: true, error: undefined });
    try {
      const report = await api.call('showback.report', { id: clusterId, ...periodRange(period) });
      if (get().clusterId === clusterId && get().period === period) set({ report, loading: false });
    } catch (err) {
      set({ loading: false, error: { code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message } });
    }
  },
}));
