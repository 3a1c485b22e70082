// List-then-watch over all pods with the reconnect rules every client must follow:
// resume from the last resourceVersion, re-list on 410 Gone, back off while the
// API server is unreachable (e.g. during the apiserver-restart fault).
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';

export interface Pod {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; restartPolicy?: string; hostNetwork?: boolean; containers: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string; image: string }> };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

export const podKey = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

export class PodInformer {
  readonly pods = new Map<string, Pod>();
  private rv = '';
  private stopped = false;
  private current?: { close(): void };

  constructor(
    private readonly kube: Kube,
    private readonly onChange: (pod: Pod, deleted: boolean) => void,
    private readonly log: (m: string) => void,
  ) {}

  async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        if (!this.rv) await this.relist();
        const started = Date.now();
        await this.watchOnce();
        // A stream the server closes at once (shutting down) must not become a busy loop.
        if (Date.now() - started < 1000) await sleep(backoff);
        else backoff = 250;
      } catch (err) {
        if (err instanceof KubeError && err.status === 410) {
          this.log('pod watch: 410 Gone, re-listing');
          this.rv = '';
          continue;
        }
        this.log(`pod watch: ${err instanceof Error ? err.message : String(err)}; retrying in ${backoff} ms`);
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
    const list = await this.kube.get<{ metadata: { resourceVersion: string }; items: Pod[] }>('/api/v1/pods');
    const seen = new Set<string>();
    for (const pod of list.items) {
      seen.add(podKey(pod));
      this.pods.set(podKey(pod), pod);
      this.onChange(pod, false);
    }
    for (const [key, pod] of this.pods) {
      if (!seen.has(key)) {
        this.pods.delete(key);
        this.onChange(pod, true);
      }
    }
    this.rv = list.metadata.resourceVersion;
  }

  private async watchOnce(): Promise<void> {
    let gone = false;
    const handle = this.kube.watch('/api/v1/pods', { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds: 300 }, (e) => {
      if (e.type === 'ERROR') {
        if (e.object?.code === 410) gone = true;
        else this.log(`pod watch error event: ${JSON.stringify(e.object)}`);
        handle.close();
        return;
      }
      const pod = e.object as Pod;
      this.rv = pod.metadata.resourceVersion;
      if (e.type === 'BOOKMARK') return;
      if (e.type === 'DELETED') this.pods.delete(podKey(pod));
      else this.pods.set(podKey(pod), pod);
      this.onChange(pod, e.type === 'DELETED');
    });
    this.current = handle;
    await handle.done;
    if (gone) throw new KubeError('WATCH', '/api/v1/pods', 410, { message: 'resourceVersion too old' });
  }
}
