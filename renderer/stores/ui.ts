import { create } from 'zustand';

export type Page = 'fleet' | 'gpumap' | 'nodes' | 'mig' | 'rollouts' | 'workstations' | 'endpoints' | 'hosts' | 'terminals' | 'clusters' | 'audit' | 'settings' | 'quotas' | 'showback';

export interface NodeKey {
  clusterId: string;
  name: string;
}

interface UiState {
  page: Page;
  /** The node whose detail panel is open, if any. */
  node: NodeKey | null;
  go(page: Page): void;
  openNode(node: NodeKey | null): void;
}

export const useUi = create<UiState>((set) => ({
  page: 'clusters',
  node: null,
  go: (page) => set({ page, node: null }),
  openNode: (node) => set({ node }),
}));
