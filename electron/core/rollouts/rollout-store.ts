import { TesseraError } from '../../../shared/contract/errors.ts';
import type { RolloutState } from '../../../shared/model/rollout.ts';
import { statusOf, type RolloutApi } from './rollout-api.ts';
import { headOnly, inStageOrder, joinState, NEW_LAYOUT, SHARD_NODES, splitState, STATE_KEY, withBody, type Layout, type NodeCounts, type PlanLists, type RolloutHead, type Shard } from './rollout-shards.ts';
import { objectName, ROLLOUT_LABELS, ROLLOUT_NAMESPACE, ROLLOUT_SELECTOR } from './rollout-names.ts';

const CM = `/api/v1/namespaces/${ROLLOUT_NAMESPACE}/configmaps`;
/**
 * History is capped so the head ConfigMap stays small whatever the fleet's size: the rollout's own
 * events (stages, decisions, failures) up to MAX_HISTORY, node steps only the latest MAX_NODE_HISTORY
 * (each node's state says where it is, its log what happened, and the audit trail keeps every step).
 */
export const MAX_HISTORY = 300;
export const MAX_NODE_HISTORY = 100;
const SHARD_KIND = 'rollout-nodes';
const PLAN_KIND = 'rollout-plan';
const shardName = (id: string, k: number) => `${objectName(id)}-nodes-${k}`;

interface ConfigMap {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

export type Mutation = (s: RolloutState) => void;

/** What was last read or written, per object, so a write sends only what changed. */
interface Stored {
  head: { json: string; rv: string };
  shards: { json: string; rv: string }[];
  /** Nodes per shard and what the head leaves out: fixed for the rollout's life, so a node never moves between shards. */
  layout: Omit<Layout, 'shards'>;
}

function parseHead(cm: ConfigMap): RolloutHead {
  const raw = cm.data?.[STATE_KEY];
  if (!raw) throw new TesseraError('API_ERROR', `ConfigMap ${cm.metadata.name} holds no rollout state`);
  return JSON.parse(raw) as RolloutHead;
}

function headObject(s: RolloutState, json: string, rv?: string): ConfigMap & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: objectName(s.id),
      ...(rv ? { resourceVersion: rv } : {}),
      labels: { ...ROLLOUT_LABELS, 'tessera.dev/rollout': s.id, 'tessera.dev/phase': s.phase },
    },
    data: { [STATE_KEY]: json },
  };
}

function shardObject(id: string, k: number, json: string, rv?: string): ConfigMap & { apiVersion: string; kind: string } {
  return partObject(id, shardName(id, k), { 'tessera.dev/kind': SHARD_KIND, 'tessera.dev/shard': String(k) }, json, rv);
}

function partObject(id: string, name: string, labels: Record<string, string>, json: string, rv?: string): ConfigMap & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, ...(rv ? { resourceVersion: rv } : {}), labels: { ...ROLLOUT_LABELS, ...labels, 'tessera.dev/rollout': id } },
    data: { [STATE_KEY]: json },
  };
}

export function capHistory(s: RolloutState): void {
  // Newest first, so each kind keeps its latest entries; the kept ones stay in their order.
  const left = { node: MAX_NODE_HISTORY, other: MAX_HISTORY };
  const keep: boolean[] = [];
  for (let i = s.history.length - 1; i >= 0; i--) keep[i] = s.history[i]!.kind === 'node' ? left.node-- > 0 : left.other-- > 0;
  if (!keep.every(Boolean)) s.history = s.history.filter((_, i) => keep[i]);
}

async function ensureNamespace(api: RolloutApi): Promise<void> {
  if (await api.maybe(`/api/v1/namespaces/${ROLLOUT_NAMESPACE}`, { action: `read namespace ${ROLLOUT_NAMESPACE}` })) return;
  await api
    .json('/api/v1/namespaces', {
      method: 'POST',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ROLLOUT_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'tessera' } } },
      action: `create namespace ${ROLLOUT_NAMESPACE}`,
    })
    .catch((err) => {
      if (statusOf(err) !== 409) throw err;
    });
}

async function readShards(api: RolloutApi, id: string): Promise<{ shards: (Shard | undefined)[]; stored: Stored['shards']; lists?: PlanLists }> {
  const sel = `app.kubernetes.io/managed-by=tessera,tessera.dev/kind in (${SHARD_KIND},${PLAN_KIND}),tessera.dev/rollout=${id}`;
  const list = await api.json<{ items?: ConfigMap[] }>(`${CM}?labelSelector=${encodeURIComponent(sel)}`, { action: `read the nodes of rollout ${id}` });
  const shards: (Shard | undefined)[] = [];
  const stored: Stored['shards'] = [];
  let lists: PlanLists | undefined;
  for (const cm of list.items ?? []) {
    const json = cm.data?.[STATE_KEY];
    if (!json) continue;
    if (cm.metadata.labels?.['tessera.dev/kind'] === PLAN_KIND) {
      lists = JSON.parse(json) as PlanLists;
      continue;
    }
    const k = Number(cm.metadata.labels?.['tessera.dev/shard']);
    if (!Number.isInteger(k) || k < 0) continue;
    shards[k] = JSON.parse(json) as Shard;
    stored[k] = { json, rv: cm.metadata.resourceVersion ?? '' };
  }
  return { shards, stored, ...(lists ? { lists } : {}) };
}

async function readHeadObject(api: RolloutApi, id: string): Promise<ConfigMap> {
  const cm = await api.maybe<ConfigMap>(`${CM}/${objectName(id)}`, { action: `read rollout ${id}` });
  if (!cm) throw new TesseraError('NOT_FOUND', `no rollout "${id}" in namespace ${ROLLOUT_NAMESPACE}`, { rollout: id });
  return cm;
}

async function readStored(api: RolloutApi, id: string): Promise<{ state: RolloutState; stored: Stored }> {
  api.wholeReads++;
  const cm = await readHeadObject(api, id);
  const head = parseHead(cm);
  const { shards, stored, lists } = head.layout ? await readShards(api, id) : { shards: [], stored: [], lists: undefined };
  let state: RolloutState;
  try {
    state = joinState(head, shards, lists);
  } catch (err) {
    throw new TesseraError('API_ERROR', `${(err as Error).message}: its ConfigMaps in ${ROLLOUT_NAMESPACE} were changed or deleted by hand`, { rollout: id });
  }
  return { state, stored: { head: { json: cm.data?.[STATE_KEY] ?? '', rv: cm.metadata.resourceVersion ?? '' }, shards: stored, layout: layoutOf(head) } };
}

function layoutOf(head: RolloutHead): Omit<Layout, 'shards'> {
  const { shards: _n, ...layout } = head.layout ?? { shards: 0, size: SHARD_NODES };
  return layout;
}

/**
 * The head's resourceVersion alone (its metadata, not its data), so a watcher can tell "nothing was written"
 * without reading the rollout. Undefined when the rollout does not exist.
 */
export async function headVersion(api: RolloutApi, id: string): Promise<string | undefined> {
  try {
    const text = await api.text(`${CM}/${objectName(id)}`, { accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1', action: `read rollout ${id}` });
    return (JSON.parse(text) as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? '';
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    // A server without metadata-only reads (406) answers the whole object.
    if (statusOf(err) !== 406) throw err;
    const cm = await api.maybe<ConfigMap>(`${CM}/${objectName(id)}`, { action: `read rollout ${id}` });
    return cm ? (cm.metadata.resourceVersion ?? '') : undefined;
  }
}

/** Reads of rollout state that need no lock. */
export async function readRollout(api: RolloutApi, id: string): Promise<{ state: RolloutState; rv: string }> {
  const { state, stored } = await readStored(api, id);
  return { state, rv: stored.head.rv };
}

/** Every rollout's head (its nodes stay unread: the head's counts and stages say enough for a list). */
export async function listRollouts(api: RolloutApi): Promise<{ state: RolloutState; counts: NodeCounts }[]> {
  const list = await api.maybe<{ items?: ConfigMap[] }>(`${CM}?labelSelector=${encodeURIComponent(ROLLOUT_SELECTOR)}`, { action: 'list rollouts' });
  const out: { state: RolloutState; counts: NodeCounts }[] = [];
  for (const cm of list?.items ?? []) {
    try {
      out.push(headOnly(parseHead(cm)));
    } catch {
      // A damaged ConfigMap must not hide the others.
    }
  }
  return out.sort((a, b) => b.state.createdAt.localeCompare(a.state.createdAt));
}

export async function createRollout(api: RolloutApi, s: RolloutState): Promise<RolloutStore> {
  await ensureNamespace(api);
  // Stored in stage order, so the stages' node lists can be rebuilt from the nodes rather than kept in the head.
  const next = structuredClone(inStageOrder(s));
  capHistory(next);
  const parts = splitState(next, NEW_LAYOUT);
  // Shards and plan lists first: a head that exists always finds its parts.
  if (parts.lists) await api.json(CM, { method: 'POST', body: partObject(s.id, `${objectName(s.id)}-plan`, { 'tessera.dev/kind': PLAN_KIND }, parts.lists), action: `create rollout ${s.id} (plan)` });
  const shards = await Promise.all(
    parts.shards.map(async (json, k) => {
      const cm = await api.json<ConfigMap>(CM, { method: 'POST', body: shardObject(s.id, k, json), action: `create rollout ${s.id} (nodes ${k})` });
      return { json, rv: cm.metadata.resourceVersion ?? '' };
    }),
  );
  const cm = await api.json<ConfigMap>(CM, { method: 'POST', body: headObject(next, parts.head), action: `create rollout ${s.id}` });
  return new RolloutStore(api, s.id, next, { head: { json: parts.head, rv: cm.metadata.resourceVersion ?? '' }, shards, layout: NEW_LAYOUT });
}

/**
 * One rollout's state as the driving console sees it. Writes are
 * read-modify-write with the ConfigMap's resourceVersion: on a conflict
 * (another console wrote a pause, abort or approval) the fresh state is read
 * and the same mutation applied again. Mutations that arrive while a write is
 * in flight are committed together in the next one, so parallel node workers
 * cost one request per batch, not one each.
 */
export class RolloutStore {
  private pending: { mut: Mutation; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;
  writes = 0;

  constructor(
    private readonly api: RolloutApi,
    readonly id: string,
    private current: RolloutState,
    private stored: Stored,
  ) {}

  static async open(api: RolloutApi, id: string): Promise<RolloutStore> {
    const { state, stored } = await readStored(api, id);
    return new RolloutStore(api, id, state, stored);
  }

  get state(): RolloutState {
    return this.current;
  }

  /**
   * Picks up what other consoles wrote (control requests) from the head. The nodes are
   * written only by the console holding the Lease, which is this one when it refreshes.
   */
  async refresh(): Promise<RolloutState> {
    const cm = await readHeadObject(this.api, this.id);
    const rv = cm.metadata.resourceVersion ?? '';
    if (rv === this.stored.head.rv) return this.current;
    const head = parseHead(cm);
    if (!head.layout) return this.reload();
    this.current = withBody(head, this.current);
    this.stored.head = { json: cm.data?.[STATE_KEY] ?? '', rv };
    return this.current;
  }

  private async reload(): Promise<RolloutState> {
    const { state, stored } = await readStored(this.api, this.id);
    this.current = state;
    this.stored = stored;
    return state;
  }

  update(mut: Mutation): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ mut, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      try {
        await this.commit((s) => {
          for (const p of batch) p.mut(s);
        });
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.writing = false;
  }

  /**
   * The head is written first, with its resourceVersion: a conflict there (another console's
   * pause, abort or approval) re-reads it and applies the mutation again before anything else
   * is sent. Then the shards that changed; a conflict on a shard means an older write of ours
   * landed late, and since only the Lease holder writes nodes, ours is sent again.
   */
  private async commit(mut: Mutation): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const next = structuredClone(this.current);
      mut(next);
      next.updatedAt = new Date().toISOString();
      capHistory(next);
      const parts = splitState(next, this.stored.layout);
      const changed = (json: string, k: number) => json !== this.stored.shards[k]?.json;
      // Shards the head has not named yet go first, so a head never names a shard that is not there.
      await Promise.all(parts.shards.map((json, k) => (!this.stored.shards[k] ? this.writeShard(k, json) : undefined)));
      try {
        const cm = await this.api.json<ConfigMap>(`${CM}/${objectName(this.id)}`, { method: 'PUT', body: headObject(next, parts.head, this.stored.head.rv), action: `update rollout ${this.id}` });
        this.stored.head = { json: parts.head, rv: cm.metadata.resourceVersion ?? '' };
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 20) throw err;
        await this.refresh();
        continue;
      }
      await Promise.all(parts.shards.map((json, k) => (changed(json, k) ? this.writeShard(k, json) : undefined)));
      this.writes++;
      this.current = next;
      return;
    }
  }

  private async writeShard(k: number, json: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const known = this.stored.shards[k];
      try {
        const cm = known
          ? await this.api.json<ConfigMap>(`${CM}/${shardName(this.id, k)}`, { method: 'PUT', body: shardObject(this.id, k, json, known.rv), action: `update rollout ${this.id} (nodes ${k})` })
          : await this.api.json<ConfigMap>(CM, { method: 'POST', body: shardObject(this.id, k, json), action: `update rollout ${this.id} (nodes ${k})` });
        this.stored.shards[k] = { json, rv: cm.metadata.resourceVersion ?? '' };
        return;
      } catch (err) {
        if ((statusOf(err) !== 409 && !(statusOf(err) === 404 && known)) || attempt >= 5) throw err;
        const fresh = await this.api.maybe<ConfigMap>(`${CM}/${shardName(this.id, k)}`, { action: `read rollout ${this.id} (nodes ${k})` });
        if (fresh) this.stored.shards[k] = { json: fresh.data?.[STATE_KEY] ?? '', rv: fresh.metadata.resourceVersion ?? '' };
        else delete this.stored.shards[k];
      }
    }
  }
}
