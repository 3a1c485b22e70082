import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ParamsOf } from '../../shared/contract/index.ts';
import { applyRolloutDelta } from '../../shared/model/rollout-delta.ts';
import type { RolloutPlan, RolloutState, RolloutSummary } from '../../shared/model/rollout.ts';
import { api } from '../api/client.ts';

export type RolloutForm = ParamsOf<'rollouts.plan'>;
type Control = 'pause' | 'resume' | 'abort' | 'rollback';

interface RolloutsState {
  clusterId?: string;
  list: RolloutSummary[];
  plan?: RolloutPlan;
  planFor?: RolloutForm;
  /** The rollout open in the detail view, kept live by rollouts.watch. */
  open?: RolloutState;
  busy?: string;
  error?: ErrorShape;
  setCluster(id: string | undefined): void;
  refresh(): Promise<void>;
  makePlan(form: RolloutForm): Promise<void>;
  start(): Promise<void>;
  openRollout(rollout: string | undefined): void;
  control(what: Control): Promise<void>;
  approve(stage: number): Promise<void>;
  clearPlan(): void;
}

let unwatch: (() => void) | undefined;

async function guarded<T>(set: (p: Partial<RolloutsState>) => void, busy: string, fn: () => Promise<T>): Promise<T | undefined> {
  set({ busy, error: undefined });
  try {
    return await fn();
  } catch (error) {
    set({ error: error as ErrorShape });
    return undefined;
  } finally {
    set({ busy: undefined });
  }
}

export const useRollouts = create<RolloutsState>((set, get) => ({
  list: [],

  setCluster(id) {
    if (id === get().clusterId) return;
    get().openRollout(undefined);
    set({ clusterId: id, list: [], plan: undefined, planFor: undefined, error: undefined });
    if (id) void get().refresh();
  },

  async refresh() {
    const id = get().clusterId;
    if (!id) return;
    try {
      set({ list: await api.call('rollouts.list', { id }) });
    } catch (error) {
      set({ error: error as ErrorShape });
    }
  },

  async makePlan(form) {
    const plan = await guarded(set, 'plan', () => api.call('rollouts.plan', form));
    if (plan) set({ plan, planFor: form });
  },

  async start() {
    const form = get().planFor;
    if (!form) return;
    const started = await guarded(set, 'start', () => api.call('rollouts.start', form));
    if (!started) return;
    set({ plan: undefined, planFor: undefined });
    get().openRollout(started.id);
    void get().refresh();
  },

  openRollout(rollout) {
    unwatch?.();
    unwatch = undefined;
    set({ open: undefined });
    const id = get().clusterId;
    if (!rollout || !id) return;
    // The stream's own copy: a control call's answer may be older or newer than what the next change was made against.
    let watched: RolloutState | undefined;
    unwatch = api.subscribe('rollouts.watch', { id, rollout }, (e) => {
      watched = applyRolloutDelta(watched, e);
      const before = get().open;
      set({ open: watched });
      if (before?.phase !== watched.phase) void get().refresh();
    }, (error) => set({ error }));
  },

  async control(what) {
    const { clusterId: id, open } = get();
    if (!id || !open) return;
    const method = `rollouts.${what}` as const;
    const next = await guarded(set, what, () => api.call(method, { id, rollout: open.id }));
    if (next) set({ open: next });
  },

  async approve(stage) {
    const { clusterId: id, open } = get();
    if (!id || !open) return;
    const next = await guarded(set, 'approve', () => api.call('rollouts.approve', { id, rollout: open.id, stage }));
    if (next) set({ open: next });
  },

  clearPlan: () => set({ plan: undefined, planFor: undefined }),
}));
