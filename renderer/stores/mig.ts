import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import { migModelFor, type MigModel } from '../../shared/gpu/mig-geometry.ts';
import { autoPlace, type LayoutItem } from '../../shared/gpu/mig-layout.ts';
import { configCountsFor, type MigPartedEntry } from '../../shared/gpu/mig-parted.ts';
import type { MigApplyJob, MigCheck, MigConfigSet, MigSshApplyView } from '../../shared/model/mig.ts';
import type { NodeRow } from '../../shared/model/node.ts';
import { api } from '../api/client.ts';

/** The planned layout: one list of instances per GPU index. */
export type PlannedLayout = LayoutItem[][];

interface MigState {
  clusterId?: string;
  selected: string[];
  planned: PlannedLayout;
  /** One layout for every GPU of the selected nodes (mig-parted `devices: all`). */
  sameForAll: boolean;
  /** The profile the next click on a free slice places. */
  brush?: string;
  configName: string;
  configs?: MigConfigSet;
  check?: MigCheck;
  jobs: MigApplyJob[];
  sshResult?: MigSshApplyView;
  busy?: string;
  error?: ErrorShape;
  notice?: string;
  setCluster(id: string | undefined): void;
  toggleNode(row: NodeRow): void;
  startFrom(row: NodeRow): void;
  setPlanned(gpu: number, items: LayoutItem[]): void;
  setSameForAll(v: boolean): void;
  setBrush(p: string | undefined): void;
  setConfigName(name: string): void;
  loadConfigs(): Promise<void>;
  usePreset(name: string, model: MigModel, gpus: number): void;
  save(model: MigModel): Promise<void>;
  runCheck(): Promise<void>;
  apply(opts: { maxParallel: number; drain: boolean; pointPolicy: boolean }): Promise<void>;
  applySsh(hostId: string, gpus: number[], model: MigModel, force: boolean): Promise<void>;
  cancel(applyId: string): Promise<void>;
  revert(applyId: string): Promise<void>;
}

let unwatch: (() => void) | undefined;

export const migSelectors = {
  /** The GPU model of the selected nodes (they must share one). */
  model(rows: NodeRow[]): MigModel | undefined {
    return migModelFor(rows[0]?.gpu?.model);
  },
  /** The current layout of a node, per GPU, as the inventory reports (or infers) it. */
  current(row: NodeRow | undefined): LayoutItem[][] {
    return (row?.gpu?.devices ?? []).map((d) => d.slots.map((s) => ({ profile: s.profile, start: s.start })));
  },
};

/** Planned layouts as mig-parted entries: `devices: all` when every GPU is the same. */
export function plannedEntries(planned: PlannedLayout, sameForAll: boolean): MigPartedEntry[] {
  const countsOf = (items: LayoutItem[]) => {
    const c: Record<string, number> = {};
    for (const i of items) c[i.profile] = (c[i.profile] ?? 0) + 1;
    return c;
  };
  if (sameForAll) {
    const items = planned[0] ?? [];
    return [{ devices: 'all', enabled: items.length > 0, counts: countsOf(items) }];
  }
  return planned.map((items, i) => ({ devices: [i], enabled: items.length > 0, counts: countsOf(items) }));
}

const toContract = (entries: MigPartedEntry[]) =>
  entries.map((e) => ({ ...(e.devices === 'all' ? {} : { devices: e.devices }), enabled: e.enabled, counts: Object.entries(e.counts).map(([profile, count]) => ({ profile, count })) }));

export const useMig = create<MigState>((set, get) => ({
  selected: [],
  planned: [],
  sameForAll: true,
  configName: '',
  jobs: [],

  setCluster(id) {
    if (id === get().clusterId) return;
    unwatch?.();
    unwatch = undefined;
    set({ clusterId: id, selected: [], planned: [], configs: undefined, check: undefined, jobs: [], error: undefined, notice: undefined });
    if (!id) return;
    unwatch = api.subscribe('mig.watch', { id }, (jobs) => set({ jobs }), (error) => set({ error }));
    void get().loadConfigs();
  },

  toggleNode(row) {
    const { selected } = get();
    if (selected.includes(row.name)) {
      set({ selected: selected.filter((n) => n !== row.name), check: undefined });
      return;
    }
    if (selected.length === 0) return get().startFrom(row);
    set({ selected: [...selected, row.name], check: undefined });
  },

  startFrom(row) {
    const current = migSelectors.current(row);
    set({ selected: [row.name], planned: current.map((g) => [...g]), check: undefined, notice: undefined, sameForAll: current.every((g) => JSON.stringify(g) === JSON.stringify(current[0])) });
  },

  setPlanned(gpu, items) {
    const { sameForAll, planned } = get();
    set({ planned: sameForAll ? planned.map(() => [...items]) : planned.map((g, i) => (i === gpu ? items : g)), check: undefined });
  },

  setSameForAll(v) {
    const { planned } = get();
    set({ sameForAll: v, planned: v ? planned.map(() => [...(planned[0] ?? [])]) : planned });
  },

  setBrush: (brush) => set({ brush }),
  setConfigName: (configName) => set({ configName, check: undefined }),

  async loadConfigs() {
    const id = get().clusterId;
    if (!id) return;
    try {
      set({ configs: await api.call('mig.configs', { id }) });
    } catch (error) {
      set({ error: error as ErrorShape });
    }
  },

  usePreset(name, model, gpus) {
    const config = get().configs?.configs[name];
    if (!config) return;
    const planned: PlannedLayout = [];
    for (let i = 0; i < gpus; i++) {
      const e = configCountsFor(config, model, i);
      const placed = e && e.enabled ? autoPlace(model, e.counts) : { ok: true as const, placements: [] };
      if (!placed.ok) return set({ error: { code: 'INVALID_REQUEST', message: `${name} does not fit GPU ${i}: ${placed.reason}` } });
      planned.push(placed.placements.map((p) => ({ profile: p.profile, start: p.start })));
    }
    set({ planned, configName: name, sameForAll: planned.every((g) => JSON.stringify(g) === JSON.stringify(planned[0])), check: undefined, error: undefined });
  },

  async save(model) {
    const { clusterId, configName, planned, sameForAll } = get();
    if (!clusterId || !configName) return;
    set({ busy: 'save', error: undefined });
    try {
      const configs = await api.call('mig.saveConfig', { id: clusterId, name: configName, entries: toContract(plannedEntries(planned, sameForAll)) });
      set({ configs, notice: `Saved "${configName}" for ${model.label} in ${configs.own.namespace}/${configs.own.name}.` });
    } catch (error) {
      set({ error: error as ErrorShape });
    } finally {
      set({ busy: undefined });
    }
  },

  async runCheck() {
    const { clusterId, selected, configName } = get();
    if (!clusterId || selected.length === 0 || !configName) return;
    set({ busy: 'check', error: undefined });
    try {
      set({ check: await api.call('mig.check', { id: clusterId, nodes: selected, config: configName }) });
    } catch (error) {
      set({ error: error as ErrorShape });
    } finally {
      set({ busy: undefined });
    }
  },

  async apply(opts) {
    const { clusterId, selected, configName } = get();
    if (!clusterId) return;
    set({ busy: 'apply', error: undefined });
    try {
      const job = await api.call('mig.apply', { id: clusterId, nodes: selected, config: configName, ...opts });
      set((s) => ({ jobs: [job, ...s.jobs.filter((j) => j.applyId !== job.applyId)], notice: undefined, check: undefined }));
    } catch (error) {
      set({ error: error as ErrorShape });
    } finally {
      set({ busy: undefined });
    }
  },

  async applySsh(hostId, gpus, model, force) {
    const { planned } = get();
    set({ busy: 'ssh', error: undefined, sshResult: undefined });
    try {
      // Over SSH the placements are exact: GPU i of the plan goes to every chosen GPU.
      set({ sshResult: await api.call('mig.sshApply', { hostId, gpus, layout: planned[0] ?? [], model: model.label, ...(force ? { force } : {}) }) });
    } catch (error) {
      set({ error: error as ErrorShape });
    } finally {
      set({ busy: undefined });
    }
  },

  async cancel(applyId) {
    try {
      await api.call('mig.cancel', { applyId });
    } catch (error) {
      set({ error: error as ErrorShape });
    }
  },

  async revert(applyId) {
    try {
      const job = await api.call('mig.revert', { applyId });
      set((s) => ({ jobs: [job, ...s.jobs] }));
    } catch (error) {
      set({ error: error as ErrorShape });
    }
  },
}));
