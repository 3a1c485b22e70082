/**
 * Tessera's preferences in <dataDir>/settings.json, written atomically with a
 * backup (atomic-json.ts, shared with the hosts store). A file that does not
 * parse or validate is kept aside as settings.json.corrupt-<time>, reported
 * once through `notice`, and replaced by the backup or the defaults; nothing
 * else in the data folder is touched. Secrets never live here: any field
 * named like one is refused, whoever asks.
 */
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { settingsPatch, type SettingsView } from '../../../shared/contract/settings.ts';
import { validate, type Infer } from '../../../shared/contract/schema.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { DEFAULT_SETTINGS, SECRET_FIELD, type Settings } from '../../../shared/model/settings.ts';
import { loadJson, saveJson } from '../hosts/atomic-json.ts';

export type SettingsPatch = Infer<typeof settingsPatch>;

export interface SettingsServiceOptions {
  dataDir: string;
  record?: (input: AuditInput) => Promise<unknown>;
  now?: () => Date;
}

const FILE = 'settings.json';

/** The first key, at any depth, that looks like it names a secret. */
export function secretLikeField(value: unknown, at = ''): string | undefined {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = secretLikeField(v, `${at}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const here = at ? `${at}.${k}` : k;
    if (SECRET_FIELD.test(k)) return here;
    const hit = secretLikeField(v, here);
    if (hit) return hit;
  }
  return undefined;
}

function checkPatch(raw: unknown): SettingsPatch {
  const secret = secretLikeField(raw);
  if (secret)
    throw new TesseraError('INVALID_REQUEST', `settings never hold secrets: "${secret}" looks like one; Tessera keeps passwords, passphrases and tokens only in the OS keychain`, { field: secret });
  const v = validate(settingsPatch, raw);
  if (!v.ok) {
    const first = v.issues[0]!;
    throw new TesseraError('INVALID_REQUEST', `settings: ${first.path || 'request'} ${first.message}`, { issues: v.issues });
  }
  const prices = v.value.showback?.prices ?? [];
  const seen = new Set<string>();
  for (const p of prices) {
    const key = `${p.model}|${p.profile ?? ''}`;
    if (seen.has(key)) throw new TesseraError('INVALID_REQUEST', `settings: two prices for ${p.model}${p.profile ? ` ${p.profile}` : ''}`);
    seen.add(key);
  }
  return v.value;
}

/** Defaults overlaid with a (validated) patch; the price list is replaced whole, not merged. */
export function applyPatch(base: Settings, patch: SettingsPatch): Settings {
  return {
    idle: { ...base.idle, ...patch.idle },
    metrics: { ...base.metrics, ...patch.metrics },
    mig: { ...base.mig, ...patch.mig },
    connection: { ...base.connection, ...patch.connection },
    audit: { ...base.audit, ...patch.audit },
    showback: {
      currency: patch.showback?.currency ?? base.showback.currency,
      prices: (patch.showback?.prices ?? base.showback.prices).map((p) => ({ model: p.model, ...(p.profile ? { profile: p.profile } : {}), price: p.price })),
      // An empty string clears it.
      ...((patch.showback?.prometheusUrl ?? base.showback.prometheusUrl) ? { prometheusUrl: patch.showback?.prometheusUrl ?? base.showback.prometheusUrl } : {}),
    },
  };
}

/** What is on disk: a full or partial settings object, checked like an update. */
function parseFile(raw: unknown): Settings {
  const { version, ...rest } = (typeof raw === 'object' && raw !== null ? raw : { version: -1 }) as Record<string, unknown>;
  if (version !== 1) throw new Error(`unsupported settings version ${JSON.stringify(version)}`);
  return applyPatch(DEFAULT_SETTINGS, checkPatch(rest));
}

export class SettingsService {
  private readonly file: string;
  private current: Promise<{ settings: Settings; notice?: string }> | undefined;
  /** Updates run one at a time so two saves cannot interleave read-modify-write. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SettingsServiceOptions) {
    this.file = path.join(opts.dataDir, FILE);
  }

  private load(): Promise<{ settings: Settings; notice?: string }> {
    this.current ??= loadJson(this.file, parseFile, () => applyPatch(DEFAULT_SETTINGS, {}), this.opts.now, 'default settings').then((o) => ({
      settings: o.value,
      ...(o.notice ? { notice: o.notice } : {}),
    }));
    return this.current;
  }

  async get(): Promise<SettingsView> {
    const { settings, notice } = await this.load();
    return { settings, ...(notice ? { notice } : {}) };
  }

  update(rawPatch: unknown): Promise<SettingsView> {
    const run = this.queue.then(async () => {
      // Checked before anything is read or written: a refused patch changes nothing.
      const patch = checkPatch(rawPatch);
      const { settings: before } = await this.load();
      const after = applyPatch(before, patch);
      try {
        await saveJson(this.file, { version: 1, ...after });
      } catch (err) {
        await this.opts.record?.({ action: 'settings.update', outcome: 'failed', targets: [{ kind: 'Settings', name: FILE }], params: patch, error: err });
        throw new TesseraError('INTERNAL', `could not save settings: ${(err as Error).message}`);
      }
      // The notice about a corrupt file has been acted on once a good file is written.
      this.current = Promise.resolve({ settings: after });
      await this.opts.record?.({ action: 'settings.update', outcome: 'succeeded', targets: [{ kind: 'Settings', name: FILE }], params: patch, before, after });
      return { settings: after };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
