import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ClusterSummary, KubeconfigSource } from '../../shared/model/cluster.ts';
import { api } from '../api/client.ts';
import { without } from './subscriptions.ts';

interface ClustersState {
  clusters: ClusterSummary[];
  sources: KubeconfigSource[];
  loaded: boolean;
  /** Actions in flight, by cluster id. */
  busy: Record<string, 'connecting' | 'disconnecting'>;
  /** The last error of a user action, by cluster id (or 'import'). */
  actionErrors: Record<string, ErrorShape | undefined>;
  start(): () => void;
  connect(id: string): Promise<void>;
  disconnect(id: string): Promise<void>;
  importKubeconfig(label: string, content: string): Promise<boolean>;
  clearError(id: string): void;
}

function shape(err: unknown): ErrorShape {
  const e = err as ErrorShape;
  return { code: e.code ?? 'INTERNAL', message: e.message ?? String(err) };
}

type Set = (fn: (s: ClustersState) => Partial<ClustersState>) => void;

/** Marks a cluster busy while an action runs and keeps its error for the card to show. */
async function runBusy(set: Set, id: string, what: 'connecting' | 'disconnecting', action: () => Promise<unknown>): Promise<void> {
  set((s) => ({ busy: { ...s.busy, [id]: what }, actionErrors: { ...s.actionErrors, [id]: undefined } }));
  try {
    await action();
  } catch (err) {
    set((s) => ({ actionErrors: { ...s.actionErrors, [id]: shape(err) } }));
  } finally {
    set((s) => ({ busy: without(s.busy, id) }));
  }
}

export const useClusters = create<ClustersState>((set, get) => ({
  clusters: [],
  sources: [],
  loaded: false,
  busy: {},
  actionErrors: {},

  start() {
    void api.call('clusters.sources', {}).then((sources) => set({ sources }));
    return api.subscribe('clusters.watch', {}, (clusters) => set({ clusters, loaded: true }));
  },

  connect: (id) => runBusy(set, id, 'connecting', () => api.call('clusters.connect', { id })),

  disconnect: (id) => runBusy(set, id, 'disconnecting', () => api.call('clusters.disconnect', { id })),

  async importKubeconfig(label, content) {
    get().clearError('import');
    try {
      await api.call('clusters.import', { label, content });
      set({ sources: await api.call('clusters.sources', {}) });
      return true;
    } catch (err) {
      set((s) => ({ actionErrors: { ...s.actionErrors, import: shape(err) } }));
      return false;
    }
  },

  clearError(id) {
    set((s) => ({ actionErrors: { ...s.actionErrors, [id]: undefined } }));
  },
}));

export const clusterSelectors = {
  connected: (s: ClustersState) => s.clusters.filter((c) => c.state === 'connected' || c.state === 'reconnecting'),
};
