import { create } from 'zustand';
import type { EndpointLogs, LoadTestEvent, UpdateEvent } from '../../shared/contract/endpoints.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ParamsOf } from '../../shared/contract/index.ts';
import {
  endpointKey,
  type DeleteStatement,
  type Endpoint,
  type EndpointAccess,
  type EndpointChange,
  type EndpointDetail,
  type EndpointPreview,
  type EndpointsDelta,
  type EndpointsDiscovery,
  type EndpointSpec,
  type EndpointUpdateResult,
  type LoadTestProgress,
  type LoadTestResult,
  type ProbeResult,
  type TestProtocol,
  type TestResult,
  type UpdateStep,
} from '../../shared/model/endpoints.ts';
import type { GpuOffer } from '../../shared/model/workstation.ts';
import { api } from '../api/client.ts';
import { syncPerCluster, without } from './subscriptions.ts';

export interface EpKey {
  clusterId: string;
  namespace: string;
  name: string;
}

/** Where an action's progress and outcome are shown: the create form, the detail's actions, or the test panel. */
export type Scope = 'create' | 'detail' | 'test';

export interface ActionState {
  /** In words, while it runs ("promoting inference/iris"). */
  busy?: string;
  error?: ErrorShape;
  notice?: string;
  /** Readiness-gated update progress, as core reports it. */
  steps?: UpdateStep[];
}

export interface ClusterEndpoints {
  rows: Map<string, Endpoint>;
  status: EndpointsDelta['status'] | 'polling';
  error?: { code: string; message: string };
}

type LoadParams = ParamsOf<'endpoints.loadTest'>;

interface EndpointsState {
  byCluster: Record<string, ClusterEndpoints>;
  selected: EpKey | null;
  detail?: EndpointDetail;
  detailError?: ErrorShape;
  logs?: EndpointLogs[];
  creating: boolean;
  /** Discovery per `clusterId|namespace` (namespace '' for the first look). */
  discovery: Record<string, EndpointsDiscovery | undefined>;
  offers: Record<string, GpuOffer[] | undefined>;
  /** RBAC per `clusterId|namespace`. */
  access: Record<string, EndpointAccess | undefined>;
  preview?: EndpointPreview;
  previewing: boolean;
  deletePlan?: DeleteStatement;
  actions: Record<Scope, ActionState>;
  probes?: ProbeResult[];
  test?: TestResult;
  load?: { progress?: LoadTestProgress; result?: LoadTestResult; running: boolean; error?: ErrorShape };
  /** An update's stream is open (its steps arrive in actions.detail.steps). */
  updating?: boolean;
  /** The outcome of a create or delete, shown above the list (the form or the detail it came from has closed). */
  pageNotice?: string;

  sync(clusterIds: string[]): void;
  select(key: EpKey | null): void;
  refreshDetail(): Promise<void>;
  loadLogs(pod?: string, previous?: boolean): Promise<void>;
  setCreating(on: boolean): void;
  loadFormData(clusterId: string, namespace: string): Promise<void>;
  loadAccess(clusterId: string, namespace: string): Promise<void>;
  runPreview(clusterId: string, input: { spec: EndpointSpec } | { yaml: string }): Promise<EndpointPreview | undefined>;
  create(clusterId: string, input: { spec: EndpointSpec } | { yaml: string }): Promise<boolean>;
  canary(e: Endpoint, change: EndpointChange, percent: number): Promise<void>;
  promote(e: Endpoint): Promise<void>;
  rollback(e: Endpoint): Promise<void>;
  /** A readiness-gated update, its steps shown as they happen (endpoints.updateRun). */
  update(e: Endpoint, change: EndpointChange): Promise<void>;
  /** Stops waiting for a running update (the change already sent stays applied). */
  stopUpdate(): void;
  planDelete(e: Endpoint): Promise<void>;
  remove(e: Endpoint): Promise<void>;
  probe(e: Endpoint): Promise<void>;
  sendTest(e: Endpoint, protocol: TestProtocol, body: string, target?: string): Promise<void>;
  startLoad(e: Endpoint, p: Omit<LoadParams, 'id' | 'namespace' | 'name'>): void;
  stopLoad(): void;
}

function shape(err: unknown): ErrorShape {
  const e = err as ErrorShape;
  return { code: e.code ?? 'INTERNAL', message: e.message ?? String(err) };
}

export const formKey = (clusterId: string, namespace: string) => `${clusterId}|${namespace}`;
const ref = (e: EpKey) => ({ id: e.clusterId, namespace: e.namespace, name: e.name });

function apply(prev: ClusterEndpoints | undefined, d: EndpointsDelta): ClusterEndpoints {
  const rows = d.reset ? new Map(d.reset.map((r) => [endpointKey(r), r])) : new Map(prev?.rows ?? []);
  for (const r of d.upsert) rows.set(endpointKey(r), r);
  for (const k of d.remove) rows.delete(k);
  return { rows, status: d.status, ...(d.error ? { error: d.error } : {}) };
}

const watches = new Map<string, () => void>();
let stopLoadRun: (() => void) | undefined;
/** Ends the running update's subscription, failing its promise with `why`. */
let stopUpdateRun: ((why: ErrorShape) => void) | undefined;
let detailSeq = 0;

export const useEndpoints = create<EndpointsState>((set, get) => {
  /** One change: says what it is doing in its scope, shows the error or outcome there, refreshes the detail after. */
  async function act<T>(scope: Scope, what: string, fn: () => Promise<T>, done?: (r: T) => string): Promise<T | undefined> {
    set((s) => ({ actions: { ...s.actions, [scope]: { busy: what } } }));
    try {
      const r = await fn();
      set((s) => ({ actions: { ...s.actions, [scope]: { ...s.actions[scope], busy: undefined, ...(done ? { notice: done(r) } : {}) } } }));
      return r;
    } catch (err) {
      set((s) => ({ actions: { ...s.actions, [scope]: { busy: undefined, error: shape(err) } } }));
      return undefined;
    } finally {
      if (get().selected) void get().refreshDetail();
    }
  }

  /**
   * The list: one watch per connected cluster. When a watch cannot run (an
   * older core, a refused stream), that cluster falls back to a 3 s poll.
   */
  function startWatch(id: string): () => void {
    let poll: ReturnType<typeof setInterval> | undefined;
    const pollOnce = async () => {
      try {
        const list = await api.call('endpoints.list', { id });
        set((s) => ({ byCluster: { ...s.byCluster, [id]: { rows: new Map(list.map((r) => [endpointKey(r), r])), status: 'polling' } } }));
      } catch (err) {
        set((s) => ({ byCluster: { ...s.byCluster, [id]: { rows: s.byCluster[id]?.rows ?? new Map(), status: 'polling', error: shape(err) } } }));
      }
    };
    const off = api.subscribe(
      'endpoints.watch',
      { id },
      (d) => {
        if (poll) clearInterval(poll);
        poll = undefined;
        set((s) => ({ byCluster: { ...s.byCluster, [id]: apply(s.byCluster[id], d) } }));
      },
      (e) => {
        set((s) => ({ byCluster: { ...s.byCluster, [id]: { rows: s.byCluster[id]?.rows ?? new Map(), status: 'reconnecting', error: e } } }));
        if (!poll) {
          void pollOnce();
          poll = setInterval(() => void pollOnce(), 3000);
        }
      },
    );
    return () => {
      off();
      if (poll) clearInterval(poll);
    };
  }

  return {
    byCluster: {},
    selected: null,
    creating: false,
    discovery: {},
    offers: {},
    access: {},
    previewing: false,
    actions: { create: {}, detail: {}, test: {} },

    sync(clusterIds) {
      syncPerCluster(watches, clusterIds, startWatch, (id) => set((s) => ({ byCluster: without(s.byCluster, id) })));
    },

    select(key) {
      get().stopLoad();
      set((s) => ({ selected: key, detail: undefined, detailError: undefined, logs: undefined, deletePlan: undefined, probes: undefined, test: undefined, load: undefined, actions: { ...s.actions, detail: {}, test: {} } }));
      if (key) void get().refreshDetail();
    },

    async refreshDetail() {
      const key = get().selected;
      if (!key) return;
      const seq = ++detailSeq;
      try {
        const detail = await api.call('endpoints.get', ref(key));
        // A slower answer for an endpoint no longer open must not overwrite the current one.
        if (seq === detailSeq) set({ detail, detailError: undefined });
      } catch (err) {
        if (seq === detailSeq) set({ detailError: shape(err) });
      }
    },

    async loadLogs(pod, previous) {
      const key = get().selected;
      if (!key) return;
      try {
        set({ logs: await api.call('endpoints.logs', { ...ref(key), ...(pod ? { pod } : {}), tailLines: 200, ...(previous ? { previous } : {}) }) });
      } catch (err) {
        set({ logs: [{ pod: pod ?? '', container: '', text: '', error: `could not read logs: ${shape(err).message}` }] });
      }
    },

    setCreating(on) {
      set((s) => ({ creating: on, preview: undefined, pageNotice: undefined, actions: { ...s.actions, create: {} } }));
    },

    async loadFormData(clusterId, namespace) {
      const k = formKey(clusterId, namespace);
      try {
        const [discovery, offers, access] = await Promise.all([
          api.call('endpoints.discover', { id: clusterId, ...(namespace ? { namespace } : {}) }),
          api.call('endpoints.offers', { id: clusterId }),
          namespace ? api.call('endpoints.access', { id: clusterId, namespace }) : Promise.resolve(undefined),
        ]);
        set((s) => ({ discovery: { ...s.discovery, [k]: discovery }, offers: { ...s.offers, [clusterId]: offers }, ...(access ? { access: { ...s.access, [k]: access } } : {}) }));
      } catch (err) {
        set((s) => ({ actions: { ...s.actions, create: { error: shape(err) } } }));
      }
    },

    async loadAccess(clusterId, namespace) {
      try {
        const access = await api.call('endpoints.access', { id: clusterId, namespace });
        set((s) => ({ access: { ...s.access, [formKey(clusterId, namespace)]: access } }));
      } catch {
        // Unknown access leaves the actions enabled; core checks again and says no with the reason.
      }
    },

    async runPreview(clusterId, input) {
      set({ previewing: true });
      try {
        const preview = await api.call('endpoints.preview', { id: clusterId, ...input });
        set({ preview, previewing: false });
        return preview;
      } catch (err) {
        set((s) => ({ preview: undefined, previewing: false, actions: { ...s.actions, create: { error: shape(err) } } }));
        return undefined;
      }
    },

    async create(clusterId, input) {
      const name = 'spec' in input ? `${input.spec.namespace}/${input.spec.name}` : 'the InferenceService';
      const made = await act('create', `creating ${name}`, () => api.call('endpoints.create', { id: clusterId, ...input }), (e) => `created ${e.namespace}/${e.name}; waiting for Ready`);
      if (!made) return false;
      set({ creating: false, preview: undefined, pageNotice: `created InferenceService ${made.namespace}/${made.name}` });
      get().select({ clusterId, namespace: made.namespace, name: made.name });
      return true;
    },

    async canary(e, change, percent) {
      await act('detail', `starting a ${percent}% canary of ${e.namespace}/${e.name}`, () => api.call('endpoints.canary', { ...ref(e), change, percent }), () => `canary started: ${percent}% of traffic goes to the new revision once it is ready`);
    },

    async promote(e) {
      await act('detail', `promoting ${e.namespace}/${e.name}`, () => api.call('endpoints.promote', ref(e)), () => 'promoted: all traffic goes to the latest revision');
    },

    async rollback(e) {
      await act('detail', `rolling back ${e.namespace}/${e.name}`, () => api.call('endpoints.rollback', ref(e)), () => 'rolled back: all traffic returns to the previous rolled-out revision');
    },

    async update(e, change) {
      get().stopUpdate();
      let steps: UpdateStep[] = [];
      const showSteps = () => set((s) => ({ actions: { ...s.actions, detail: { ...s.actions.detail, steps } } }));
      // The stream reports each step as core takes it, so the list grows while the update waits.
      const run = () =>
        new Promise<EndpointUpdateResult>((resolve, reject) => {
          let over = false;
          let off: (() => void) | undefined;
          const finish = (fn: () => void) => {
            if (over) return;
            over = true;
            stopUpdateRun = undefined;
            set({ updating: false });
            // Unsubscribing from inside the callback is deferred: the transport may still be delivering.
            queueMicrotask(() => off?.());
            fn();
          };
          stopUpdateRun = (why) => finish(() => reject(why));
          set({ updating: true });
          off = api.subscribe(
            'endpoints.updateRun',
            { ...ref(e), change, wait: true, timeoutSeconds: 300 },
            (ev: UpdateEvent) => {
              if (over) return;
              if (ev.kind === 'step') {
                steps = [...steps, ev.step];
                showSteps();
              } else if (ev.kind === 'result') finish(() => resolve(ev.result));
              else finish(() => reject(ev.error));
            },
            (err) => finish(() => reject(err)),
          );
          if (over) off();
        });
      const r = await act('detail', `updating ${e.namespace}/${e.name} (waiting for the new pods to be Ready)`, run, () => 'updated: the new pods are Ready and the old ones are gone');
      // The result's steps are the whole list; on an error the steps so far still say how far it got.
      if (r) steps = r.steps;
      showSteps();
    },

    stopUpdate() {
      stopUpdateRun?.({ code: 'INTERNAL', message: 'stopped waiting for the update; the change already sent stays applied' });
    },

    async planDelete(e) {
      const plan = await act('detail', `reading what deleting ${e.namespace}/${e.name} removes`, () => api.call('endpoints.deletePlan', ref(e)));
      set({ deletePlan: plan });
    },

    async remove(e) {
      const r = await act('detail', `deleting ${e.namespace}/${e.name}`, () => api.call('endpoints.delete', ref(e)), (st) => st.summary);
      set({ deletePlan: undefined });
      if (r) set({ selected: null, detail: undefined, pageNotice: `deleted: ${r.summary}` });
    },

    async probe(e) {
      set({ probes: undefined });
      const probes = await act('test', `probing ${e.name}`, () => api.call('endpoints.probe', ref(e)));
      if (probes) set({ probes });
    },

    async sendTest(e, protocol, body, target) {
      set({ test: undefined });
      const test = await act('test', `sending a ${protocol} request to ${e.name}`, () => api.call('endpoints.test', { ...ref(e), protocol, body, ...(target ? { target } : {}) }));
      if (test) set({ test });
    },

    startLoad(e, p) {
      get().stopLoad();
      set({ load: { running: true, progress: { done: 0, total: p.requests, errors: 0 } } });
      const off = api.subscribe(
        'endpoints.loadTestRun',
        { ...ref(e), ...p },
        (ev: LoadTestEvent) => {
          if (ev.kind === 'progress') set((s) => ({ load: { ...s.load, running: true, progress: ev.progress } }));
          else if (ev.kind === 'result') {
            set((s) => ({ load: { ...s.load, running: false, result: ev.result, progress: { done: ev.result.completed, total: ev.result.requests, errors: ev.result.completed - ev.result.succeeded } } }));
            get().stopLoad();
          } else {
            set((s) => ({ load: { ...s.load, running: false, error: shape(ev.error) } }));
            get().stopLoad();
          }
        },
        (err) => {
          set((s) => ({ load: { ...s.load, running: false, error: err } }));
          get().stopLoad();
        },
      );
      stopLoadRun = off;
    },

    stopLoad() {
      const off = stopLoadRun;
      stopLoadRun = undefined;
      off?.();
      const l = get().load;
      if (l?.running) set({ load: { ...l, running: false, error: { code: 'INTERNAL', message: 'stopped before it finished' } } });
    },
  };
});

export const endpointSelectors = {
  /** Every endpoint on the connected clusters, sorted by cluster, namespace and name. */
  all(byCluster: Record<string, ClusterEndpoints>): Endpoint[] {
    const out: Endpoint[] = [];
    for (const c of Object.values(byCluster)) out.push(...c.rows.values());
    return out.sort((a, b) => a.clusterId.localeCompare(b.clusterId) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  },
  /** The open endpoint's list row: live between detail refreshes. */
  row(s: EndpointsState): Endpoint | undefined {
    return s.selected ? s.byCluster[s.selected.clusterId]?.rows.get(endpointKey(s.selected)) : undefined;
  },
  key: endpointKey,
};
