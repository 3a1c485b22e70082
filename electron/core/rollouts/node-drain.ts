import { TesseraError } from '../../../shared/contract/errors.ts';
import type { Clock } from '../clock.ts';
import { evictable, listPdbs, pdbSelects, podsOn, type RawPod } from './node-facts.ts';
import { statusOf, type RolloutApi } from './rollout-api.ts';

export async function setCordon(api: RolloutApi, node: string, unschedulable: boolean): Promise<void> {
  await api.mergePatch(`/api/v1/nodes/${encodeURIComponent(node)}`, { spec: { unschedulable: unschedulable ? true : null } }, `${unschedulable ? 'cordon' : 'uncordon'} node ${node}`);
}

export interface DrainOptions {
  timeoutMs: number;
  /** Between retries of an eviction refused by a PodDisruptionBudget (429). */
  retryMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface DrainResult {
  evicted: string[];
}

const sleep = (clock: Clock, ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
const key = (p: RawPod) => `${p.metadata.namespace}/${p.metadata.name}`;

/**
 * Evicts the node's pods through the Eviction API, so PodDisruptionBudgets
 * are honoured: a 429 is retried until the drain timeout, then the drain fails
 * naming the budgets and the pods that were still blocked. Waits until the
 * evicted pods are gone from the node.
 */
export async function drainNode(api: RolloutApi, clock: Clock, node: string, opts: DrainOptions): Promise<DrainResult> {
  const deadline = clock.now() + opts.timeoutMs;
  const retryMs = opts.retryMs ?? 2000;
  const version = await api.policyVersion();
  const evicted = new Set<string>();
  const blocked = new Map<string, string>();
  let lastReported = '';
  for (;;) {
    if (opts.signal?.aborted) throw new TesseraError('INTERNAL', `drain of ${node} stopped`);
    const pods = (await podsOn(api, node)).filter(evictable);
    if (pods.length === 0) {
      if (evicted.size) opts.log?.(`evicted ${evicted.size} pod(s): ${[...evicted].slice(0, 8).join(', ')}${evicted.size > 8 ? ', …' : ''}`);
      return { evicted: [...evicted] };
    }
    blocked.clear();
    for (const p of pods) {
      if (evicted.has(key(p))) continue;
      try {
        await api.json(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`, {
          method: 'POST',
          body: { apiVersion: version, kind: 'Eviction', metadata: { name: p.metadata.name, namespace: p.metadata.namespace } },
          action: `evict pod ${key(p)} from ${node}`,
        });
        evicted.add(key(p));
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) continue;
        if (status !== 429) throw err;
        blocked.set(key(p), (err as Error).message);
      }
    }
    if (clock.now() >= deadline) {
      const left = pods.filter((p) => !evicted.has(key(p)) || blocked.has(key(p)));
      const stillBlocked = left.filter((p) => blocked.has(key(p)));
      if (stillBlocked.length) {
        const pdbs = await listPdbs(api).catch(() => []);
        const names = new Set<string>();
        for (const p of stillBlocked) for (const b of pdbs) if (pdbSelects(b, p)) names.add(`${b.metadata.namespace}/${b.metadata.name} (disruptionsAllowed ${b.status?.disruptionsAllowed ?? '?'})`);
        throw new TesseraError(
          'TIMEOUT',
          `drain of ${node} blocked by PodDisruptionBudget ${[...names].join(', ') || '(unknown budget)'}: pods ${stillBlocked.map(key).join(', ')} could not be evicted in ${Math.round(opts.timeoutMs / 1000)} s`,
          { node, pdbs: [...names], pods: stillBlocked.map(key) },
        );
      }
      throw new TesseraError('TIMEOUT', `drain of ${node}: pods ${left.map(key).join(', ')} did not go away in ${Math.round(opts.timeoutMs / 1000)} s`, { node, pods: left.map(key) });
    }
    const waitingOn = [...blocked.keys()].join(', ');
    if (blocked.size && waitingOn !== lastReported) opts.log?.(`waiting on a disruption budget for ${waitingOn}`);
    lastReported = waitingOn;
    await sleep(clock, blocked.size ? retryMs : Math.min(retryMs, 500));
  }
}
