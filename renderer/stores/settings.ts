import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ParamsOf } from '../../shared/contract/index.ts';
import type { Settings } from '../../shared/model/settings.ts';
import { api } from '../api/client.ts';

export type SettingsPatch = ParamsOf<'settings.update'>['patch'];

interface SettingsState {
  settings?: Settings;
  /** A problem reading the settings file, as core reported it (file kept aside, defaults used). */
  notice?: string;
  loading: boolean;
  saving: boolean;
  error?: ErrorShape;
  /** When the last save succeeded, for a short confirmation. */
  savedAt?: number;
  load(): Promise<void>;
  save(patch: SettingsPatch): Promise<boolean>;
}

const asError = (err: unknown): ErrorShape => ({ code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message, ...((err as ErrorShape).details ? { details: (err as ErrorShape).details } : {}) });

export const useSettings = create<SettingsState>((set) => ({
  loading: false,
  saving: false,

  async load() {
    set({ loading: true, error: undefined });
    try {
      const view = await api.call('settings.get', {});
      set({ settings: view.settings, notice: view.notice, loading: false });
    } catch (err) {
      set({ loading: false, error: asError(err) });
    }
  },

  async save(patch) {
    set({ saving: true, error: undefined, savedAt: undefined });
    try {
      const view = await api.call('settings.update', { patch });
      set({ settings: view.settings, notice: view.notice, saving: false, savedAt: Date.now() });
      return true;
    } catch (err) {
      set({ saving: false, error: asError(err) });
      return false;
    }
  },
}));
