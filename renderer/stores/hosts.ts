import { create } from 'zustand';
import type { HostExecRun } from '../../shared/contract/hosts.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { HostGpus, HostInput, HostKeyInfo, HostTestResult, ImportResult, OperationInfo, SecretPromptEvent, SshHost } from '../../shared/model/host.ts';
import { api } from '../api/client.ts';

export type TestState = { running: true } | { running: false; result: HostTestResult };

interface HostsState {
  hosts: SshHost[];
  notice?: string;
  operations: OperationInfo[];
  selected: string[];
  tests: Record<string, TestState>;
  /** A first-contact key waiting for the person's decision. */
  pendingTrust: { hostId: string; key: HostKeyInfo } | null;
  prompts: SecretPromptEvent[];
  exec: { running: boolean; runId?: string; done: Record<string, boolean>; run?: HostExecRun; error?: ErrorShape };
  lastImport?: ImportResult & { warnings?: string[] };
  bundling: string | null;
  /** Hosts whose GPU panel is open, with the last reading (or why there is none). */
  gpus: Record<string, { reading: boolean; data?: HostGpus; error?: ErrorShape }>;
  error?: ErrorShape;
  /** App-wide: prompts (a passphrase for a terminal, a sudo password) can arrive while any page is shown. */
  start(): () => void;
  load(): Promise<void>;
  save(input: HostInput, id?: string): Promise<ErrorShape | null>;
  remove(id: string): Promise<void>;
  importConfig(content: string, group?: string): Promise<void>;
  importNodes(clusterId: string, user: string, identityFile?: string, group?: string): Promise<void>;
  test(id: string): Promise<void>;
  decideTrust(accept: boolean): Promise<void>;
  runOperation(operation: string, args: { name: string; value: string }[], sudo: boolean): Promise<void>;
  cancelRun(): Promise<void>;
  answer(id: string, secret: string | undefined, remember: boolean): Promise<string | undefined>;
  bundle(id: string): Promise<{ filename: string; base64: string } | null>;
  /** Opens the host's GPU panel and reads nvidia-smi (again). */
  readGpus(id: string): Promise<void>;
  closeGpus(id: string): void;
  toggle(id: string): void;
  selectAll(ids: string[]): void;
  clearError(): void;
}

const shape = (err: unknown): ErrorShape => ({ code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message ?? String(err), ...((err as ErrorShape).details ? { details: (err as ErrorShape).details } : {}) });

export const useHosts = create<HostsState>((set, get) => ({
  hosts: [],
  operations: [],
  selected: [],
  tests: {},
  pendingTrust: null,
  prompts: [],
  exec: { running: false, done: {} },
  bundling: null,
  gpus: {},

  start() {
    void api.call('hosts.operations', {}).then((operations) => set({ operations }), (err) => set({ error: shape(err) }));
    return api.subscribe('hosts.events', {}, (e) => {
      if (e.type === 'prompt') set((s) => ({ prompts: [...s.prompts.filter((p) => p.id !== e.id), e] }));
      else if (e.type === 'prompt-closed') set((s) => ({ prompts: s.prompts.filter((p) => p.id !== e.id) }));
      else if (e.type === 'exec-progress' && e.runId === get().exec.runId) set((s) => ({ exec: { ...s.exec, done: { ...s.exec.done, [e.hostId]: e.ok } } }));
    });
  },

  async load() {
    try {
      const r = await api.call('hosts.list', {});
      set({ hosts: r.hosts, notice: r.notice, selected: get().selected.filter((id) => r.hosts.some((h) => h.id === id)) });
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async save(input, id) {
    try {
      if (id) await api.call('hosts.update', { id, ...input });
      else await api.call('hosts.add', input);
      await get().load();
      return null;
    } catch (err) {
      return shape(err);
    }
  },

  async remove(id) {
    try {
      await api.call('hosts.remove', { id });
      await get().load();
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async importConfig(content, group) {
    try {
      const r = await api.call('hosts.importSshConfig', { content, ...(group ? { group } : {}) });
      set({ lastImport: r });
      await get().load();
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async importNodes(clusterId, user, identityFile, group) {
    try {
      const r = await api.call('hosts.importNodes', { id: clusterId, user, ...(identityFile ? { identityFile } : {}), ...(group ? { group } : {}) });
      set({ lastImport: r });
      await get().load();
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async test(id) {
    set((s) => ({ tests: { ...s.tests, [id]: { running: true } } }));
    try {
      const result = await api.call('hosts.test', { id });
      set((s) => ({ tests: { ...s.tests, [id]: { running: false, result } }, pendingTrust: !result.ok && result.unknownKey ? { hostId: id, key: result.unknownKey } : s.pendingTrust }));
    } catch (err) {
      const e = shape(err);
      set((s) => ({ tests: { ...s.tests, [id]: { running: false, result: { hostId: id, ok: false, error: e } } } }));
    }
  },

  async decideTrust(accept) {
    const p = get().pendingTrust;
    if (!p) return;
    set({ pendingTrust: null });
    try {
      await api.call('hosts.trust', { host: p.key.host, port: p.key.port, sha256Fingerprint: p.key.sha256Fingerprint, accept });
      // Test again: a host behind a jump host may show its own key next.
      if (accept) await get().test(p.hostId);
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async runOperation(operation, args, sudo) {
    const ids = get().selected;
    const runId = `run-${Date.now().toString(36)}`;
    set({ exec: { running: true, runId, done: {} } });
    try {
      const run = await api.call('hosts.exec', { ids, operation, runId, ...(args.length ? { args } : {}), ...(sudo ? { sudo } : {}) });
      set((s) => ({ exec: { ...s.exec, running: false, run } }));
    } catch (err) {
      set((s) => ({ exec: { ...s.exec, running: false, error: shape(err) } }));
    }
  },

  async cancelRun() {
    const runId = get().exec.runId;
    if (!runId || !get().exec.running) return;
    try {
      await api.call('hosts.cancel', { runId });
    } catch (err) {
      set({ error: shape(err) });
    }
  },

  async answer(id, secret, remember) {
    set((s) => ({ prompts: s.prompts.filter((p) => p.id !== id) }));
    try {
      const r = await api.call('hosts.answer', { id, ...(secret !== undefined ? { secret } : {}), remember });
      return r.note;
    } catch (err) {
      set({ error: shape(err) });
      return undefined;
    }
  },

  async bundle(id) {
    set({ bundling: id });
    try {
      const r = await api.call('hosts.bundle', { id });
      return { filename: r.filename, base64: r.base64 };
    } catch (err) {
      set({ error: shape(err) });
      return null;
    } finally {
      set({ bundling: null });
    }
  },

  async readGpus(id) {
    set((s) => ({ gpus: { ...s.gpus, [id]: { ...s.gpus[id], reading: true } } }));
    try {
      const data = await api.call('hosts.gpus', { id });
      set((s) => (s.gpus[id] ? { gpus: { ...s.gpus, [id]: { reading: false, data } } } : {}));
    } catch (err) {
      // The last good reading stays beside the error: a host that stopped answering is itself news.
      set((s) => (s.gpus[id] ? { gpus: { ...s.gpus, [id]: { reading: false, ...(s.gpus[id]?.data ? { data: s.gpus[id]!.data } : {}), error: shape(err) } } } : {}));
    }
  },

  closeGpus(id) {
    set((s) => {
      const { [id]: _closed, ...rest } = s.gpus;
      return { gpus: rest };
    });
  },

  toggle(id) {
    set((s) => ({ selected: s.selected.includes(id) ? s.selected.filter((x) => x !== id) : [...s.selected, id] }));
  },
  selectAll(ids) {
    set({ selected: ids });
  },
  clearError() {
    set({ error: undefined });
  },
}));

/** Hosts by group, groups sorted, "(no group)" last. */
export const hostSelectors = {
  grouped(hosts: readonly SshHost[]): [string, SshHost[]][] {
    const m = new Map<string, SshHost[]>();
    for (const h of hosts) {
      const g = h.group ?? '';
      m.set(g, [...(m.get(g) ?? []), h]);
    }
    return [...m.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)));
  },
};
