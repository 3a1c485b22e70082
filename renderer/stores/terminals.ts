import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ParamsOf } from '../../shared/contract/index.ts';
import type { PodChoice, PodShell } from '../../shared/contract/terminals.ts';
import { api } from '../api/client.ts';

/** What a tab was opened on: kept so Reconnect opens the same thing again. */
export type TerminalSpec =
  | { kind: 'ssh'; hostId: string; label: string }
  | { kind: 'ssh'; target: { address: string; port?: number; user: string }; label: string }
  | { kind: 'pod'; clusterId: string; namespace: string; pod: string; container?: string; shell?: PodShell; label: string };

export interface TerminalTab {
  key: string;
  spec: TerminalSpec;
  /** The core session; a reconnect gives the tab a new one. */
  sessionId?: string;
  title: string;
  banner: string;
  state: 'opening' | 'open' | 'exited' | 'failed';
  exit?: { code: number | null; reason: string };
  error?: ErrorShape;
}

/** Where a tab's bytes go: the xterm instance, which lives outside the store (bytes never enter React state). */
export interface TerminalSink {
  write(bytes: Uint8Array): void;
  notice(message: string, tone: 'info' | 'bad'): void;
  size(): { cols: number; rows: number };
  /** The tab is closed: let go of the terminal. */
  dispose?(): void;
}

interface PodPicker {
  clusterId: string;
  pods: PodChoice[];
  loading: boolean;
  error?: ErrorShape;
  /** The RBAC answer for the chosen namespace: pod exec is offered only when allowed. */
  access?: { namespace: string; allowed: boolean; reason: string };
}

interface TerminalsState {
  tabs: TerminalTab[];
  active: string | null;
  picker: PodPicker | null;
  open(spec: TerminalSpec): Promise<void>;
  reconnect(key: string): Promise<void>;
  close(key: string): Promise<void>;
  select(key: string): void;
  /** The view attaches its xterm; output flows until the returned function is called. */
  attach(key: string, sink: TerminalSink): () => void;
  input(key: string, data: string): void;
  resize(key: string, cols: number, rows: number): void;
  loadPods(clusterId: string): Promise<void>;
  checkExec(clusterId: string, namespace: string): Promise<void>;
}

const shape = (err: unknown): ErrorShape => ({ code: (err as ErrorShape).code ?? 'INTERNAL', message: (err as Error).message ?? String(err), ...((err as ErrorShape).details ? { details: (err as ErrorShape).details } : {}) });

let seq = 0;
const sinks = new Map<string, TerminalSink>();
const streams = new Map<string, () => void>();
/**
 * Keystrokes are sent one call at a time, so they arrive in order over HTTP;
 * what is typed while a call is in flight goes in the next one.
 */
const typing = new Map<string, { pending: string; busy: boolean }>();

function decode(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function openParams(spec: TerminalSpec, size: { cols: number; rows: number }): ParamsOf<'terminals.open'> {
  if (spec.kind === 'pod') {
    const { label: _label, ...rest } = spec;
    return { ...rest, ...size };
  }
  return 'hostId' in spec ? { kind: 'ssh', hostId: spec.hostId, ...size } : { kind: 'ssh', target: spec.target, ...size };
}

export const useTerminals = create<TerminalsState>((set, get) => {
  const patch = (key: string, p: Partial<TerminalTab>) => set((s) => ({ tabs: s.tabs.map((t) => (t.key === key ? { ...t, ...p } : t)) }));

  /** Subscribes the tab's current session to its sink, once both exist. */
  const connectStream = (key: string) => {
    const tab = get().tabs.find((t) => t.key === key);
    const sink = sinks.get(key);
    if (!tab?.sessionId || tab.state !== 'open' || !sink || streams.has(key)) return;
    const off = api.subscribe(
      'terminals.output',
      { id: tab.sessionId },
      (e) => {
        if (e.type === 'data') sink.write(decode(e.data));
        else if (e.type === 'notice') sink.notice(e.message, 'info');
        else {
          streams.get(key)?.();
          streams.delete(key);
          sink.notice(e.code !== null ? `${e.reason} (exit status ${e.code})` : e.reason, e.error ? 'bad' : 'info');
          patch(key, { state: 'exited', exit: { code: e.code, reason: e.reason }, ...(e.error ? { error: e.error } : {}) });
        }
      },
      (err) => {
        streams.delete(key);
        sink.notice(`output stream failed: ${err.message}`, 'bad');
        patch(key, { state: 'failed', error: err });
      },
    );
    streams.set(key, off);
  };

  const start = async (key: string, spec: TerminalSpec) => {
    const size = sinks.get(key)?.size() ?? { cols: 80, rows: 24 };
    try {
      const opened = await api.call('terminals.open', openParams(spec, size));
      patch(key, { sessionId: opened.id, title: opened.title, banner: opened.banner, state: 'open', error: undefined, exit: undefined });
      connectStream(key);
    } catch (err) {
      const e = shape(err);
      sinks.get(key)?.notice(`could not open: ${e.message}`, 'bad');
      patch(key, { state: 'failed', error: e });
    }
  };

  return {
    tabs: [],
    active: null,
    picker: null,

    async open(spec) {
      const key = `tab-${++seq}`;
      set((s) => ({ tabs: [...s.tabs, { key, spec, title: spec.label, banner: spec.label, state: 'opening' }], active: key }));
      // Let the view mount and measure its xterm before the session opens, so the first prompt has the right size.
      await new Promise((r) => setTimeout(r, 0));
      await start(key, spec);
    },

    async reconnect(key) {
      const tab = get().tabs.find((t) => t.key === key);
      if (!tab || tab.state === 'open' || tab.state === 'opening') return;
      streams.get(key)?.();
      streams.delete(key);
      sinks.get(key)?.notice('reconnecting…', 'info');
      patch(key, { state: 'opening', sessionId: undefined });
      await start(key, tab.spec);
    },

    async close(key) {
      const tab = get().tabs.find((t) => t.key === key);
      if (!tab) return;
      if (tab.sessionId && tab.state === 'open') await api.call('terminals.close', { id: tab.sessionId }).catch(() => undefined);
      streams.get(key)?.();
      streams.delete(key);
      typing.delete(key);
      sinks.get(key)?.dispose?.();
      sinks.delete(key);
      set((s) => {
        const tabs = s.tabs.filter((t) => t.key !== key);
        return { tabs, active: s.active === key ? (tabs.at(-1)?.key ?? null) : s.active };
      });
    },

    select(key) {
      set({ active: key });
    },

    attach(key, sink) {
      sinks.set(key, sink);
      connectStream(key);
      return () => {
        if (sinks.get(key) === sink) sinks.delete(key);
        streams.get(key)?.();
        streams.delete(key);
      };
    },

    input(key, data) {
      const tab = get().tabs.find((t) => t.key === key);
      if (!tab?.sessionId || tab.state !== 'open') return;
      const id = tab.sessionId;
      let q = typing.get(key);
      if (!q) typing.set(key, (q = { pending: '', busy: false }));
      q.pending += data;
      const q2 = q;
      const pump = async () => {
        if (q2.busy || !q2.pending) return;
        q2.busy = true;
        // The contract takes 64 KiB per call: a large paste goes in pieces, in order.
        const chunk = q2.pending.slice(0, 32_768);
        q2.pending = q2.pending.slice(chunk.length);
        try {
          await api.call('terminals.input', { id, data: chunk });
        } catch (err) {
          sinks.get(key)?.notice(`input not delivered: ${shape(err).message}`, 'bad');
          q2.pending = '';
        } finally {
          q2.busy = false;
        }
        void pump();
      };
      void pump();
    },

    resize(key, cols, rows) {
      const tab = get().tabs.find((t) => t.key === key);
      if (!tab?.sessionId || tab.state !== 'open') return;
      void api.call('terminals.resize', { id: tab.sessionId, cols, rows }).catch(() => undefined);
    },

    async loadPods(clusterId) {
      set({ picker: { clusterId, pods: [], loading: true } });
      try {
        const pods = await api.call('terminals.pods', { clusterId });
        set((s) => (s.picker?.clusterId === clusterId ? { picker: { clusterId, pods, loading: false } } : s));
      } catch (err) {
        set((s) => (s.picker?.clusterId === clusterId ? { picker: { clusterId, pods: [], loading: false, error: shape(err) } } : s));
      }
    },

    async checkExec(clusterId, namespace) {
      try {
        const r = await api.call('clusters.canI', { id: clusterId, verb: 'create', resource: 'pods', subresource: 'exec', namespace });
        set((s) => (s.picker?.clusterId === clusterId ? { picker: { ...s.picker, access: { namespace, allowed: r.allowed, reason: r.reason } } } : s));
      } catch (err) {
        set((s) => (s.picker?.clusterId === clusterId ? { picker: { ...s.picker, access: { namespace, allowed: false, reason: shape(err).message } } } : s));
      }
    },
  };
});

export const terminalSelectors = {
  activeTab: (s: TerminalsState) => s.tabs.find((t) => t.key === s.active) ?? null,
  namespaces: (s: TerminalsState) => [...new Set((s.picker?.pods ?? []).map((p) => p.namespace))].sort(),
};
