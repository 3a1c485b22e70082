/** The settings.* contract bound to a SettingsService, so core.ts only spreads these in. */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { ParamsOf, ResultOf } from '../../../shared/contract/index.ts';
import type { settingsMethods } from '../../../shared/contract/settings.ts';
import { DEFAULT_SETTINGS } from '../../../shared/model/settings.ts';
import type { SettingsService } from './settings-service.ts';

type SettingsMethod = keyof typeof settingsMethods;
export type SettingsMethodHandlers = { [M in SettingsMethod]: (params: ParamsOf<M>) => Promise<ResultOf<M>> };

export function settingsHandlers(service: SettingsService | undefined): SettingsMethodHandlers {
  return {
    'settings.get': async () => (service ? service.get() : { settings: DEFAULT_SETTINGS, notice: 'defaults: this host has no data folder to keep settings in' }),
    'settings.update': async ({ patch }) => {
      if (!service) throw new TesseraError('INTERNAL', 'this host keeps no settings (no data folder)');
      return service.update(patch);
    },
  };
}
