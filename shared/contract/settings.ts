import type { Settings } from '../model/settings.ts';
import { method } from './define.ts';
import { s } from './schema.ts';

export interface SettingsView {
  settings: Settings;
  /** Why the settings file could not be used as it was (kept aside, defaults or backup used). */
  notice?: string;
}

const price = s.object({
  model: s.string({ min: 1, max: 120, pattern: /^[\w.*-][\w .*()-]*$/, patternHint: 'must be a GPU model name or *' }),
  profile: s.optional(s.string({ min: 1, max: 40, pattern: /^\d+g\.\d+gb(\+me)?$/, patternHint: 'must be a MIG profile such as 1g.10gb' })),
  price: s.number({ min: 0, max: 100_000 }),
});

/** Every field optional: an update names only what changes. Unknown fields (a "token", say) are refused. */
export const settingsPatch = s.object({
  idle: s.optional(
    s.object({
      utilizationPercent: s.optional(s.number({ min: 0, max: 100 })),
      minutes: s.optional(s.number({ integer: true, min: 1, max: 1440 })),
    }),
  ),
  metrics: s.optional(s.object({ intervalSeconds: s.optional(s.number({ integer: true, min: 5, max: 3600 })) })),
  mig: s.optional(s.object({ defaultMaxParallel: s.optional(s.number({ integer: true, min: 1, max: 64 })) })),
  connection: s.optional(s.object({ gzip: s.optional(s.boolean()) })),
  audit: s.optional(s.object({ mirrorEvents: s.optional(s.boolean()) })),
  showback: s.optional(
    s.object({
      currency: s.optional(s.string({ min: 1, max: 8, pattern: /^[A-Za-z$€£¥]+$/, patternHint: 'must be a currency code such as USD' })),
      prices: s.optional(s.array(price, { max: 200 })),
      prometheusUrl: s.optional(s.string({ max: 300, pattern: /^(https?:\/\/[A-Za-z0-9.\-\[\]:]+(\/[\w.\-/]*)?)?$/, patternHint: 'must be an http(s) URL such as http://prometheus.monitoring:9090, or empty' })),
    }),
  ),
});

export const settingsMethods = {
  'settings.get': method<SettingsView>()(s.object({}), 'The current settings, and any problem reading the file.'),
  'settings.update': method<SettingsView>()(
    s.object({ patch: settingsPatch }),
    'Change some settings; written atomically with a backup and audited. Secrets are refused.',
  ),
};
