import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ParamsOf } from '../../shared/contract/index.ts';
import type { CloneTarget, WorkstationCheck, WorkstationOptions } from '../../shared/contract/workstations.ts';
import type { GpuOffer, IdeForward, Workstation, WorkstationSnapshot, WorkstationTemplate } from '../../shared/model/workstation.ts';
import { api } from '../api/client.ts';

export interface WsKey {
  clusterId: string;
  namespace: string;
  name: string;
}

/** The create form as the user fills it; GPU choice as one select value. */
export interface WsDraft {
  clusterId: string;
  name: string;
  namespace: string;
  image: string;
  /** "none", "full:<pool>", "mig:<profile>" or "mig:<profile>@<pool>". */
  gpuChoice: string;
  gpuCount: number;
  cpu: string;
  memory: string;
  volumeSize: string;
  storageClass: string;
  env: string;
}

export type WsSpecParams = ParamsOf<'ws.create'>['spec'];

interface WorkstationsState {
  list: Workstation[];
  loaded: boolean;
  loading: boolean;
  error?: ErrorShape;
  selected: WsKey | null;
  snapshots: WorkstationSnapshot[];
  options: Record<string, WorkstationOptions | undefined>;
  offers: Record<string, GpuOffer[] | undefined>;
  templates: WorkstationTemplate[];
  /** The action in flight, in words ("stopping team-a/ws1"). */
  busy?: string;
  /** The last action's error or success line, shown above the list. */
  actionError?: ErrorShape;
  notice?: string;
  check?: WorkstationCheck;
  creating: boolean;
  /** IDE forwards this console holds open (core's list). */
  forwards: IdeForward[];
  /** Other clusters a snapshot could be cloned into, by "cluster|namespace|snapshot". */
  cloneTargets: Record<string, CloneTarget[] | undefined>;
  openIde(w: Workstation): Promise<IdeForward | undefined>;
  loadForwards(): Promise<void>;
  closeForward(forwardId: string): Promise<void>;
  loadCloneTargets(s: WorkstationSnapshot): Promise<void>;
  load(): Promise<void>;
  select(key: WsKey | null): void;
  loadSnapshots(clusterId: string, namespace: string): Promise<void>;
  loadFormData(clusterId: string): Promise<void>;
  setCreating(on: boolean): void;
  runCheck(clusterId: string, spec: WsSpecParams): Promise<WorkstationCheck | undefined>;
  create(clusterId: string, spec: WsSpecParams): Promise<boolean>;
  start(w: Workstation): Promise<void>;
  stop(w: Workstation): Promise<void>;
  snapshot(w: Workstation, className?: string): Promise<void>;
  clone(s: WorkstationSnapshot, target: { namespace: string; name: string }, targetCluster?: string): Promise<void>;
  cloneVolume(w: Workstation, name: string): Promise<void>;
  restore(w: Workstation, snapshot: string): Promise<void>;
  remove(w: Workstation, deleteVolume: boolean): Promise<void>;
  saveTemplate(t: ParamsOf<'ws.saveTemplate'>['template']): Promise<void>;
}

function shape(err: unknown): ErrorShape {
  const e = err as ErrorShape;
  return { code: e.code ?? 'INTERNAL', message: e.message ?? String(err) };
}

const keyOf = (w: WsKey) => `${w.clusterId}|${w.namespace}|${w.name}`;

/** The draft as a contract spec; env lines are NAME=VALUE. */
export function draftSpec(d: WsDraft): WsSpecParams {
  const env = d.env
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf('=');
      return i > 0 ? { name: l.slice(0, i), value: l.slice(i + 1) } : { name: l, value: '' };
    });
  const [kind, rest = ''] = d.gpuChoice.split(/:(.*)/s) as [string, string?];
  let gpu: WsSpecParams['gpu'] = { kind: 'none' };
  let nodePool: string | undefined;
  if (kind === 'full') {
    gpu = { kind: 'full', count: d.gpuCount };
    nodePool = rest || undefined;
  } else if (kind === 'mig') {
    const [profile, pool] = rest.split('@');
    gpu = { kind: 'mig', profile: profile!, count: d.gpuCount };
    nodePool = pool || undefined;
  }
  return {
    name: d.name,
    namespace: d.namespace,
    image: d.image,
    gpu,
    cpu: d.cpu,
    memory: d.memory,
    volumeSize: d.volumeSize,
    ...(d.storageClass ? { storageClass: d.storageClass } : {}),
    ...(env.length ? { env } : {}),
    ...(nodePool ? { nodePool } : {}),
  };
}

export const useWorkstations = create<WorkstationsState>((set, get) => {
  /** Runs one change, says what it is doing, refreshes the list after. */
  async function act(what: string, fn: () => Promise<unknown>, done?: string): Promise<boolean> {
    set({ busy: what, actionError: undefined, notice: undefined });
    try {
      await fn();
      set({ notice: done });
      return true;
    } catch (err) {
      set({ actionError: shape(err) });
      return false;
    } finally {
      set({ busy: undefined });
      void get().load();
    }
  }

  return {
    list: [],
    loaded: false,
    loading: false,
    selected: null,
    snapshots: [],
    options: {},
    offers: {},
    templates: [],
    creating: false,
    forwards: [],
    cloneTargets: {},

    async openIde(w) {
      let opened: IdeForward | undefined;
      await act(`forwarding the IDE of ${w.namespace}/${w.name}`, async () => {
        const f = await api.call('ws.open', { id: w.clusterId, namespace: w.namespace, name: w.name });
        opened = f;
        set({ forwards: await api.call('ws.forwards', {}) });
      });
      if (opened) set({ notice: `IDE of ${w.namespace}/${w.name} forwarded to 127.0.0.1:${opened.localPort}` });
      return opened;
    },

    async loadForwards() {
      try {
        set({ forwards: await api.call('ws.forwards', {}) });
      } catch {
        // The list is advisory; the next refresh tries again.
      }
    },

    async closeForward(forwardId) {
      await act('closing the IDE forward', () => api.call('ws.closeForward', { forwardId }), 'IDE forward closed');
      await get().loadForwards();
    },

    async loadCloneTargets(snap) {
      const key = `${snap.clusterId}|${snap.namespace}|${snap.name}`;
      try {
        const targets = await api.call('ws.cloneTargets', { id: snap.clusterId, namespace: snap.namespace, snapshot: snap.name });
        set((st) => ({ cloneTargets: { ...st.cloneTargets, [key]: targets } }));
      } catch (err) {
        set({ actionError: shape(err) });
      }
    },

    async load() {
      if (get().loading) return;
      set({ loading: true });
      try {
        const list = await api.call('ws.list', {});
        set({ list, loaded: true, loading: false, error: undefined });
      } catch (err) {
        set({ loading: false, loaded: true, error: shape(err) });
      }
    },

    select(key) {
      set({ selected: key, snapshots: [] });
      if (key) void get().loadSnapshots(key.clusterId, key.namespace);
    },

    async loadSnapshots(clusterId, namespace) {
      try {
        const snapshots = await api.call('ws.snapshots', { id: clusterId, namespace });
        set({ snapshots });
      } catch (err) {
        set({ snapshots: [], actionError: shape(err) });
      }
    },

    async loadFormData(clusterId) {
      try {
        const [options, offers, templates] = await Promise.all([api.call('ws.options', { id: clusterId }), api.call('ws.offers', { id: clusterId }), api.call('ws.templates', {})]);
        set((s) => ({ options: { ...s.options, [clusterId]: options }, offers: { ...s.offers, [clusterId]: offers }, templates }));
      } catch (err) {
        set({ actionError: shape(err) });
      }
    },

    setCreating(on) {
      set({ creating: on, check: undefined, actionError: undefined, notice: undefined });
    },

    async runCheck(clusterId, spec) {
      try {
        const check = await api.call('ws.check', { id: clusterId, spec });
        set({ check });
        return check;
      } catch (err) {
        set({ check: undefined, actionError: shape(err) });
        return undefined;
      }
    },

    async create(clusterId, spec) {
      const ok = await act(`creating ${spec.namespace}/${spec.name}`, () => api.call('ws.create', { id: clusterId, spec }), `created ${spec.namespace}/${spec.name}`);
      if (ok) set({ creating: false, check: undefined, selected: { clusterId, namespace: spec.namespace, name: spec.name } });
      return ok;
    },

    async start(w) {
      await act(`starting ${w.namespace}/${w.name}`, () => api.call('ws.start', { id: w.clusterId, namespace: w.namespace, name: w.name }), `started ${w.namespace}/${w.name}`);
    },

    async stop(w) {
      await act(`stopping ${w.namespace}/${w.name}`, () => api.call('ws.stop', { id: w.clusterId, namespace: w.namespace, name: w.name }), `stopped ${w.namespace}/${w.name}; its volume is kept`);
    },

    async snapshot(w, className) {
      await act(`snapshotting ${w.namespace}/${w.name}`, () => api.call('ws.snapshot', { id: w.clusterId, namespace: w.namespace, name: w.name, ...(className ? { className } : {}) }), `snapshot of ${w.namespace}/${w.name} requested`);
      await get().loadSnapshots(w.clusterId, w.namespace);
    },

    async clone(s, target, targetCluster) {
      const where = targetCluster && targetCluster !== s.clusterId ? ` on ${targetCluster}` : '';
      await act(`cloning ${s.namespace}/${s.name} to ${target.namespace}/${target.name}${where}`, () => api.call('ws.clone', { id: s.clusterId, namespace: s.namespace, snapshot: s.name, target, ...(where ? { targetCluster } : {}) }), `cloned into ${target.namespace}/${target.name}${where}`);
    },

    async cloneVolume(w, name) {
      await act(`cloning the volume of ${w.namespace}/${w.name} into ${name}`, () => api.call('ws.cloneVolume', { id: w.clusterId, namespace: w.namespace, source: w.name, target: { namespace: w.namespace, name } }), `cloned into ${w.namespace}/${name}`);
    },

    async restore(w, snapshot) {
      await act(`restoring ${w.namespace}/${w.name} from ${snapshot}`, () => api.call('ws.restore', { id: w.clusterId, namespace: w.namespace, name: w.name, snapshot }), `restored ${w.namespace}/${w.name} from ${snapshot}`);
    },

    async remove(w, deleteVolume) {
      const ok = await act(`deleting ${w.namespace}/${w.name}`, () => api.call('ws.delete', { id: w.clusterId, namespace: w.namespace, name: w.name, deleteVolume }), `deleted ${w.namespace}/${w.name}${deleteVolume ? ' and its volumes' : '; its volume is kept'}`);
      if (ok && get().selected && keyOf(get().selected!) === keyOf(w)) set({ selected: null });
    },

    async saveTemplate(t) {
      await act(`saving template ${t.name}`, async () => {
        await api.call('ws.saveTemplate', { template: t });
        set({ templates: await api.call('ws.templates', {}) });
      }, `template ${t.name} saved`);
    },
  };
});

export const workstationSelectors = {
  selected: (s: WorkstationsState) => (s.selected ? s.list.find((w) => keyOf(w) === keyOf(s.selected!)) : undefined),
  key: keyOf,
};
