import { create } from 'zustand';

export type Page = 'clusters' | 'nodes';

interface UiState {
  page: Page;
  go(page: Page): void;
}

export const useUi = create<UiState>((set) => ({
  page: 'clusters',
  go: (page) => set({ page }),
}));
