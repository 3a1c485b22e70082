// One list+watch of the cluster's Nodes, shared by every node a rollout has in
// flight. A node's waiter sleeps until that node changes (its upgrade-state
// label, its version labels, Ready) instead of each waiter reading the node
// every few hundred milliseconds: with 20 nodes in flight that was 80 GETs a
// second and up to a poll interval of latency on every state change.
// Only what the rollout reads is kept (labels, cordon, capacity, conditions).
import type { Clock } from '../clock.ts';
import { ListWatch, type RawObject } from '../kube/list-watch.ts';
import type { RawNode } from './node-facts.ts';
import type { RolloutApi } from './rollout-api.ts';

type Waiter = () => void;

function slim(raw: RawObject): RawNode {
  const n = raw as unknown as RawNode & { status?: RawNode['status'] & Record<string, unknown> };
  return {
    metadata: {
      name: n.metadata.name,
      ...(n.metadata.labels ? { labels: n.metadata.labels } : {}),
      ...(n.metadata.resourceVersion ? { resourceVersion: n.metadata.resourceVersion } : {}),
    },
    ...(n.spec?.unschedulable ? { spec: { unschedulable: true } } : {}),
    status: {
      ...(n.status?.capacity ? { capacity: n.status.capacity } : {}),
      ...(n.status?.conditions ? { conditions: n.status.conditions.map((c) => ({ type: c.type, status: c.status })) } : {}),
    },
  };
}

/**
 * resourceVersions are etcd revisions on every real API server; comparing them
 * only decides which of two copies of one node is newer (the watch's, or the
 * answer to our own PATCH), and an unparsable one simply counts as newer.
 */
function newer(a: RawNode | undefined, b: RawNode | undefined): RawNode | undefined {
  if (!a || !b) return a ?? b;
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  if (!Number.isFinite(ra) || !Number.isFinite(rb)) return a;
  return rb > ra ? b : a;
}

export class NodeWatch {
  private readonly nodes = new Map<string, RawNode>();
  /** Copies we got from our own writes, newer than the watch may have delivered yet. */
  private readonly seeds = new Map<string, RawNode>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly lw: ListWatch<RawNode>;
  private live = false;
  private started = false;

  constructor(
    api: RolloutApi,
    private readonly clock: Clock,
  ) {
    this.lw = new ListWatch<RawNode>(
      {
        kubeConfig: () => api.access(),
        path: '/api/v1/nodes',
        project: slim,
        clock,
        pageSize: 500,
      },
      {
        reset: (items) => {
          this.nodes.clear();
          for (const [k, v] of items) this.nodes.set(k, v);
          this.wakeAll();
        },
        upsert: (k, v) => {
          this.nodes.set(k, v);
          this.wake(k);
        },
        remove: (k) => {
          this.nodes.delete(k);
          this.wake(k);
        },
        status: (s) => {
          this.live = s === 'live';
          this.wakeAll();
        },
      },
    );
  }

  /** Starts listing on first use; a rollout that never follows a node never opens the watch. */
  private ensure(): void {
    if (this.started) return;
    this.started = true;
    this.lw.start();
  }

  /** The node as last seen, or undefined while the watch is not live (callers then read it themselves). */
  get(name: string): RawNode | undefined {
    this.ensure();
    if (!this.live) return undefined;
    const best = newer(this.nodes.get(name), this.seeds.get(name));
    if (best && best === this.nodes.get(name)) this.seeds.delete(name);
    return best;
  }

  /** A copy of the node fresher than the watch may be (the answer to a PATCH we just made). */
  seed(node: RawNode | undefined): void {
    if (node?.metadata?.name) this.seeds.set(node.metadata.name, slim(node as unknown as RawObject));
  }

  /** Resolves when the node changes, the watch's state changes, the signal fires, or after maxMs. */
  changed(name: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    this.ensure();
    return new Promise<void>((resolve) => {
      let done = false;
      const set = this.waiters.get(name) ?? this.waiters.set(name, new Set()).get(name)!;
      const finish = () => {
        if (done) return;
        done = true;
        set.delete(finish);
        if (set.size === 0 && this.waiters.get(name) === set) this.waiters.delete(name);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      set.add(finish);
      signal?.addEventListener('abort', finish, { once: true });
      this.clock.setTimeout(finish, maxMs);
    });
  }

  private wake(name: string): void {
    for (const w of [...(this.waiters.get(name) ?? [])]) w();
  }

  private wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w();
  }

  stop(): void {
    this.lw.stop();
    this.wakeAll();
  }
}
