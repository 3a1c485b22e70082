import type { KubeAccess } from './kube-access.ts';
import { toErrorShape, type ErrorShape } from '../../../shared/contract/errors.ts';
import type { Clock } from '../clock.ts';
import { kubeWatch, listPages } from './kube-http.ts';

export type RawObject = { metadata?: { name?: string; namespace?: string; resourceVersion?: string } } & Record<string, unknown>;

export interface ListWatchHandlers<T> {
  /** The full set after a (re)list: replaces everything held before. */
  reset(items: Map<string, T>): void;
  upsert(key: string, value: T): void;
  remove(key: string): void;
  status(status: 'syncing' | 'live' | 'reconnecting', error?: ErrorShape): void;
}

export interface ListWatchOptions<T> {
  kubeConfig: () => Promise<KubeAccess>;
  /** Collection path, e.g. /api/v1/nodes. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Reduce the raw object to what Tessera uses; whole objects are never kept. */
  project: (raw: RawObject) => T;
  clock: Clock;
  pageSize?: number;
  maxBackoffMs?: number;
}

export function objectKey(raw: RawObject): string {
  const m = raw.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? '');
}

/**
 * List-then-watch with slim projections. Recovers from dropped watches by
 * resuming at the last resourceVersion, and from 410 Gone (or repeated
 * failures) by relisting.
 */
export class ListWatch<T> {
  private stopped = false;
  private resourceVersion?: string;
  private abort?: AbortController;
  private timer?: ReturnType<typeof setTimeout>;
  private failures = 0;

  constructor(
    private readonly opts: ListWatchOptions<T>,
    private readonly on: ListWatchHandlers<T>,
  ) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private selectors(): Record<string, string> {
    const q: Record<string, string> = {};
    if (this.opts.fieldSelector) q.fieldSelector = this.opts.fieldSelector;
    if (this.opts.labelSelector) q.labelSelector = this.opts.labelSelector;
    return q;
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    this.on.status(this.failures ? 'reconnecting' : 'syncing');
    try {
      const kc = await this.opts.kubeConfig();
      const items = new Map<string, T>();
      let rv: string | undefined;
      // Projected while each page streams in: raw objects never outlive their own parse.
      const keyed = (raw: RawObject): [string, T] => [objectKey(raw), this.opts.project(raw)];
      for await (const page of listPages(kc, this.opts.path, this.selectors(), { pageSize: this.opts.pageSize, map: keyed })) {
        for (const [k, v] of page.items) items.set(k, v);
        rv = page.resourceVersion;
        if (this.stopped) break;
      }
      if (this.stopped) return;
      this.resourceVersion = rv;
      this.failures = 0;
      this.on.reset(items);
      this.on.status('live');
      void this.watch(kc);
    } catch (err) {
      this.retry(err, () => this.relist());
    }
  }

  private async watch(kc: KubeAccess): Promise<void> {
    if (this.stopped) return;
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: '300', ...this.selectors() });
    if (this.resourceVersion) q.set('resourceVersion', this.resourceVersion);
    this.abort = new AbortController();
    let gone = false;
    try {
      await kubeWatch(
        kc,
        `${this.opts.path}?${q}`,
        {
          signal: this.abort.signal,
          // The server ends each watch after timeoutSeconds; this only catches dead connections.
          idleTimeoutMs: 330_000,
          onOpen: () => {
            if (this.failures === 0) return;
            this.failures = 0;
            this.on.status('live');
          },
        },
        (type, object) => {
          const obj = object as RawObject & { code?: number };
          if (type === 'ERROR') {
            if (obj.code === 410) gone = true;
            return;
          }
          const rv = obj.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (type === 'BOOKMARK') return;
          const key = objectKey(obj);
          if (type === 'DELETED') this.on.remove(key);
          else this.on.upsert(key, this.opts.project(obj));
        },
      );
      if (this.stopped) return;
      if (gone) return void this.relist();
      this.failures = 0;
      void this.watch(kc);
    } catch (err) {
      if (this.stopped) return;
      if (gone || (err as { details?: { status?: number } }).details?.status === 410) return void this.relist();
      this.retry(err, () => this.resume());
    }
  }

  /** After a failure: try to resume the watch; after a few failures, relist from scratch. */
  private async resume(): Promise<void> {
    if (this.failures > 3) return this.relist();
    try {
      await this.watch(await this.opts.kubeConfig());
    } catch (err) {
      this.retry(err, () => this.resume());
    }
  }

  private retry(err: unknown, next: () => void): void {
    if (this.stopped) return;
    this.failures++;
    this.on.status('reconnecting', toErrorShape(err));
    const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(this.failures - 1, 10));
    this.timer = this.opts.clock.setTimeout(next, delay);
  }
}
