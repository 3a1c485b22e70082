/**
 * The user's SSH hosts, one JSON file in the data folder. Every change is
 * validated first, then written atomically; callers are serialized so two
 * edits never interleave their read-modify-write.
 */
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { HostInput, HostSource, SshHost } from '../../../shared/model/host.ts';
import { loadJson, saveJson } from './atomic-json.ts';
import { checkHostInput, findJumpCycle, invalidHost, makeId } from './host-validate.ts';

interface HostsFile {
  version: 1;
  hosts: SshHost[];
}

export interface HostStoreOptions {
  dataDir: string;
  home?: string;
}

export class HostStore {
  readonly file: string;
  private hosts: SshHost[] | null = null;
  private notice: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HostStoreOptions) {
    this.file = path.join(opts.dataDir, 'hosts.json');
  }

  async list(): Promise<{ hosts: SshHost[]; notice?: string }> {
    const hosts = await this.load();
    return { hosts: hosts.map((h) => ({ ...h, proxyJump: [...h.proxyJump] })), ...(this.notice ? { notice: this.notice } : {}) };
  }

  async get(id: string): Promise<SshHost> {
    const h = (await this.load()).find((x) => x.id === id);
    if (!h) throw new TesseraError('NOT_FOUND', `no host with id "${id}"`, { id });
    return h;
  }

  add(input: HostInput, source: HostSource = { kind: 'manual' }): Promise<SshHost> {
    return this.mutate((hosts) => {
      const host = this.build(hosts, input, source);
      return { hosts: [...hosts, host], result: host };
    });
  }

  update(id: string, input: HostInput): Promise<SshHost> {
    return this.mutate((hosts) => {
      const old = hosts.find((h) => h.id === id);
      if (!old) throw new TesseraError('NOT_FOUND', `no host with id "${id}"`, { id });
      const host = this.build(hosts, input, old.source, old.id);
      return { hosts: hosts.map((h) => (h.id === id ? host : h)), result: host };
    });
  }

  remove(id: string): Promise<SshHost> {
    return this.mutate((hosts) => {
      const old = hosts.find((h) => h.id === id);
      if (!old) throw new TesseraError('NOT_FOUND', `no host with id "${id}"`, { id });
      const users = hosts.filter((h) => h.proxyJump.includes(id)).map((h) => h.name);
      if (users.length) throw new TesseraError('INVALID_REQUEST', `${old.name} is the jump host of ${users.join(', ')}; change those first`, { id, usedBy: users });
      return { hosts: hosts.filter((h) => h.id !== id), result: old };
    });
  }

  /**
   * Adds or updates many hosts at once (an import): a host with the same
   * source identity is updated, others are added; invalid ones are skipped
   * with their reason. One write for the whole batch.
   */
  upsertMany(items: { input: HostInput; source: HostSource; key: string }[]): Promise<{ added: SshHost[]; updated: SshHost[]; skipped: { name: string; reason: string }[] }> {
    return this.mutate((hosts) => {
      const next = [...hosts];
      const added: SshHost[] = [];
      const updated: SshHost[] = [];
      const skipped: { name: string; reason: string }[] = [];
      for (const item of items) {
        const i = next.findIndex((h) => sourceKey(h.source) === item.key);
        try {
          if (i >= 0) {
            const host = this.build(next, item.input, item.source, next[i]!.id);
            next[i] = host;
            updated.push(host);
          } else {
            const host = this.build(next, item.input, item.source);
            next.push(host);
            added.push(host);
          }
        } catch (err) {
          skipped.push({ name: item.input.name, reason: (err as Error).message });
        }
      }
      return { hosts: next, result: { added, updated, skipped } };
    });
  }

  private build(hosts: readonly SshHost[], input: HostInput, source: HostSource, id?: string): SshHost {
    const ids = new Set(hosts.map((h) => h.id));
    const { value, problems } = checkHostInput(input, ids, id, this.opts.home);
    const clash = hosts.find((h) => h.name.toLowerCase() === value.name.toLowerCase() && h.id !== id);
    if (clash) problems.push({ field: 'name', message: `a host named "${clash.name}" already exists` });
    if (problems.length) throw invalidHost(problems);
    const host: SshHost = { id: id ?? makeId(value.name, ids), ...value, source };
    const cycle = findJumpCycle([...hosts.filter((h) => h.id !== host.id), host], host.id);
    if (cycle) throw invalidHost([{ field: 'proxyJump', message: `jump hosts form a loop: ${cycle.join(' → ')}` }]);
    return host;
  }

  private async load(): Promise<SshHost[]> {
    if (this.hosts) return this.hosts;
    const out = await loadJson(this.file, parseHostsFile, () => ({ version: 1 as const, hosts: [] }));
    this.hosts = out.value.hosts;
    this.notice = out.notice;
    return this.hosts;
  }

  private mutate<T>(fn: (hosts: SshHost[]) => { hosts: SshHost[]; result: T }): Promise<T> {
    const run = async (): Promise<T> => {
      const { hosts, result } = fn(await this.load());
      await saveJson(this.file, { version: 1, hosts } satisfies HostsFile);
      this.hosts = hosts;
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

export function sourceKey(s: HostSource): string {
  switch (s.kind) {
    case 'manual':
      return 'manual';
    case 'ssh-config':
      return `ssh-config:${s.alias}`;
    case 'kubernetes':
      return `kubernetes:${s.cluster}:${s.node}`;
  }
}

/** Strict enough that a hand-edited file with a wrong shape is treated as corrupt, not half-loaded. */
function parseHostsFile(raw: unknown): HostsFile {
  const f = raw as Partial<HostsFile>;
  if (typeof f !== 'object' || f === null || f.version !== 1 || !Array.isArray(f.hosts)) throw new Error('not a Tessera hosts file (version 1)');
  for (const [i, h] of f.hosts.entries()) {
    const ok =
      typeof h === 'object' && h !== null && typeof h.id === 'string' && typeof h.name === 'string' && typeof h.address === 'string' &&
      typeof h.port === 'number' && typeof h.user === 'string' && Array.isArray(h.proxyJump) && typeof h.source === 'object' && h.source !== null;
    if (!ok) throw new Error(`host #${i + 1} is malformed`);
  }
  return f as HostsFile;
}
