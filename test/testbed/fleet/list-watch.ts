// A generic list-then-watch cache for one collection (Nodes, a custom
// resource), with the same reconnect rules as pod-informer.ts: resume from the
// last resourceVersion, re-list on 410 Gone, back off while the API server is
// away. Objects are kept in a slim form chosen by the caller.
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';

interface Meta {
  metadata: { name: string; namespace?: string; resourceVersion: string };
}

export class ListWatch<T> {
  readonly items = new Map<string, T>();
  private readonly rvs = new Map<string, number>();
  private rv = '';
  private stopped = false;
  private current?: { close(): void };
  private markSynced!: () => void;
  /** Settles after the first full list has been delivered. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly kube: Kube,
    private readonly path: string,
    private readonly slim: (raw: any) => T,
    /** Called with the key, the new slim object (undefined when deleted) and the previous one. */
    private readonly onChange: (key: string, obj: T | undefined, prev: T | undefined) => void,
    private readonly log: (m: string) => void,
    /** A 404 on list means the CRD is not installed (yet): retried quietly. */
    private readonly optional = false,
  ) {}

  private key(o: Meta): string {
    return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  }

  /** Stores an object the caller got back from its own write, so its view does not wait for the watch. */
  put(raw: Meta): void {
    const key = this.key(raw);
    // A write's response can arrive after a newer watch event for the same object.
    const rv = Number(raw.metadata.resourceVersion);
    if (rv < (this.rvs.get(key) ?? 0)) return;
    this.rvs.set(key, rv);
    const prev = this.items.get(key);
    const obj = this.slim(raw);
    this.items.set(key, obj);
    this.onChange(key, obj, prev);
  }

  async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        if (!this.rv) await this.relist();
        const started = Date.now();
        await this.watchOnce();
        if (Date.now() - started < 1000) await sleep(backoff);
        else backoff = 250;
      } catch (err) {
        if (err instanceof KubeError && err.status === 410) {
          this.rv = '';
          continue;
        }
        if (!(this.optional && err instanceof KubeError && err.status === 404)) {
          this.log(`watch ${this.path}: ${err instanceof Error ? err.message : String(err)}; retrying in ${backoff} ms`);
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.close();
  }

  private async relist(): Promise<void> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.kube.get<{ metadata: { resourceVersion: string; continue?: string }; items: Meta[] }>(this.path, { limit: 500, continue: cont });
      for (const raw of page.items) {
        seen.add(this.key(raw));
        this.put(raw);
      }
      rv = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    for (const [key, prev] of this.items) {
      if (!seen.has(key)) {
        this.items.delete(key);
        this.rvs.delete(key);
        this.onChange(key, undefined, prev);
      }
    }
    this.rv = rv;
    this.markSynced();
  }

  private async watchOnce(): Promise<void> {
    let gone = false;
    const handle = this.kube.watch(this.path, { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds: 300 }, (e) => {
      if (e.type === 'ERROR') {
        if (e.object?.code === 410) gone = true;
        else this.log(`watch ${this.path} error event: ${JSON.stringify(e.object)}`);
        handle.close();
        return;
      }
      const raw = e.object as Meta;
      this.rv = raw.metadata.resourceVersion;
      if (e.type === 'BOOKMARK') return;
      const key = this.key(raw);
      if (e.type === 'DELETED') {
        const prev = this.items.get(key);
        this.items.delete(key);
        this.rvs.delete(key);
        this.onChange(key, undefined, prev);
      } else this.put(raw);
    });
    this.current = handle;
    await handle.done;
    if (gone) throw new KubeError('WATCH', this.path, 410, { message: 'resourceVersion too old' });
  }
}
