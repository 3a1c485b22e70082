import { TesseraError } from '../../../shared/contract/errors.ts';
import type { RolloutState } from '../../../shared/model/rollout.ts';
import { statusOf, type RolloutApi } from './rollout-api.ts';
import { objectName, ROLLOUT_LABELS, ROLLOUT_NAMESPACE, ROLLOUT_SELECTOR } from './rollout-names.ts';

const KEY = 'rollout.json';
const CM = `/api/v1/namespaces/${ROLLOUT_NAMESPACE}/configmaps`;
/** History and per-node logs are capped so one ConfigMap stays far below its 1 MiB limit. */
export const MAX_HISTORY = 400;

interface ConfigMap {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

export type Mutation = (s: RolloutState) => void;

function decode(cm: ConfigMap): RolloutState {
  const raw = cm.data?.[KEY];
  if (!raw) throw new TesseraError('API_ERROR', `ConfigMap ${cm.metadata.name} holds no rollout state`);
  return JSON.parse(raw) as RolloutState;
}

function encode(s: RolloutState, rv?: string): ConfigMap & { apiVersion: string; kind: string } {
  if (s.history.length > MAX_HISTORY) s.history.splice(0, s.history.length - MAX_HISTORY);
  // Logs live in their own ConfigMap (rollout-logs.ts); this object stays small because every step rewrites it.
  for (const n of s.nodes) for (const ph of [n.upgrade, n.rollback]) if (ph) ph.log = [];
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: objectName(s.id),
      ...(rv ? { resourceVersion: rv } : {}),
      labels: { ...ROLLOUT_LABELS, 'tessera.dev/rollout': s.id, 'tessera.dev/phase': s.phase },
    },
    // The holder comes from the Lease when read; it is never stored.
    data: { [KEY]: JSON.stringify({ ...s, holder: undefined }) },
  };
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

/** Reads of rollout state that need no lock. */
export async function readRollout(api: RolloutApi, id: string): Promise<{ state: RolloutState; rv: string }> {
  const cm = await api.maybe<ConfigMap>(`${CM}/${objectName(id)}`, { action: `read rollout ${id}` });
  if (!cm) throw new TesseraError('NOT_FOUND', `no rollout "${id}" in namespace ${ROLLOUT_NAMESPACE}`, { rollout: id });
  return { state: decode(cm), rv: cm.metadata.resourceVersion ?? '' };
}

export async function listRollouts(api: RolloutApi): Promise<RolloutState[]> {
  const list = await api.maybe<{ items?: ConfigMap[] }>(`${CM}?labelSelector=${encodeURIComponent(ROLLOUT_SELECTOR)}`, { action: 'list rollouts' });
  const out: RolloutState[] = [];
  for (const cm of list?.items ?? []) {
    try {
      out.push(decode(cm));
    } catch {
      // A damaged ConfigMap must not hide the others.
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function createRollout(api: RolloutApi, s: RolloutState): Promise<RolloutStore> {
  await ensureNamespace(api);
  const cm = await api.json<ConfigMap>(CM, { method: 'POST', body: encode(structuredClone(s)), action: `create rollout ${s.id}` });
  return new RolloutStore(api, s.id, s, cm.metadata.resourceVersion ?? '');
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
    private rv: string,
  ) {}

  static async open(api: RolloutApi, id: string): Promise<RolloutStore> {
    const { state, rv } = await readRollout(api, id);
    return new RolloutStore(api, id, state, rv);
  }

  get state(): RolloutState {
    return this.current;
  }

  /** Picks up what other consoles wrote (control requests). */
  async refresh(): Promise<RolloutState> {
    const { state, rv } = await readRollout(this.api, this.id);
    if (rv !== this.rv) {
      this.current = state;
      this.rv = rv;
    }
    return this.current;
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

  private async commit(mut: Mutation): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const next = structuredClone(this.current);
      mut(next);
      next.updatedAt = new Date().toISOString();
      try {
        const cm = await this.api.json<ConfigMap>(`${CM}/${objectName(this.id)}`, { method: 'PUT', body: encode(next, this.rv), action: `update rollout ${this.id}` });
        this.writes++;
        this.current = next;
        this.rv = cm.metadata.resourceVersion ?? '';
        return;
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 20) throw err;
        await this.refresh();
      }
    }
  }
}
