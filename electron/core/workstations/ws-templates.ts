// Workstation templates an admin defines once and teams reuse, kept in the
// data folder as one JSON document (atomic write, backup, corrupt files kept aside).
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { validate } from '../../../shared/contract/schema.ts';
import { wsTemplate } from '../../../shared/contract/workstations.ts';
import type { WorkstationTemplate } from '../../../shared/model/workstation.ts';
import { loadJson, saveJson } from '../hosts/atomic-json.ts';

interface TemplateFile {
  version: 1;
  templates: WorkstationTemplate[];
}

function parse(raw: unknown): TemplateFile {
  const f = raw as Partial<TemplateFile>;
  if (!f || f.version !== 1 || !Array.isArray(f.templates)) throw new Error('not a version-1 template file');
  // Entries that no longer validate (hand edits) are dropped rather than offered half-broken.
  const templates = f.templates.filter((t) => {
    const { updatedAt: _u, ...rest } = (t ?? {}) as WorkstationTemplate;
    return validate(wsTemplate, rest).ok;
  });
  return { version: 1, templates };
}

export class TemplateStore {
  readonly file: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, private readonly now: () => Date = () => new Date()) {
    this.file = path.join(dataDir, 'workstation-templates.json');
  }

  async list(): Promise<WorkstationTemplate[]> {
    return (await this.load()).templates.sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<WorkstationTemplate> {
    const t = (await this.load()).templates.find((x) => x.name === name);
    if (!t) throw new TesseraError('NOT_FOUND', `no workstation template named "${name}"`);
    return t;
  }

  /** Saves or replaces by name; returns what was there before (for the audit trail). */
  save(t: WorkstationTemplate): Promise<{ saved: WorkstationTemplate; before?: WorkstationTemplate }> {
    return this.serial(async () => {
      const f = await this.load();
      const before = f.templates.find((x) => x.name === t.name);
      const saved = { ...t, updatedAt: this.now().toISOString() };
      f.templates = [...f.templates.filter((x) => x.name !== t.name), saved];
      await saveJson(this.file, f);
      return { saved, ...(before ? { before } : {}) };
    });
  }

  remove(name: string): Promise<WorkstationTemplate | undefined> {
    return this.serial(async () => {
      const f = await this.load();
      const before = f.templates.find((x) => x.name === name);
      if (!before) return undefined;
      f.templates = f.templates.filter((x) => x.name !== name);
      await saveJson(this.file, f);
      return before;
    });
  }

  private async load(): Promise<TemplateFile> {
    return (await loadJson(this.file, parse, () => ({ version: 1 as const, templates: [] }))).value;
  }

  /** One read-modify-write at a time, so two saves never lose each other's change. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
