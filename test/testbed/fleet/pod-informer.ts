// List-then-watch over all pods with the reconnect rules every client must follow:
// resume from the last resourceVersion, re-list on 410 Gone, back off while the
// API server is unreachable (e.g. during the apiserver-restart fault).
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';

export interface PodContainer {
  name: string;
  image: string;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  /** Declared ports (workstation IDEs are served on them, see pod-ide.ts). */
  ports?: { containerPort: number; name?: string }[];
  /** Only NB_PREFIX is kept: the path a Kubeflow notebook image serves its IDE under. */
  env?: { name: string; value?: string }[];
}

/** The slice of a pod the simulated kubelets act on (see slimPod). */
export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: { nodeName?: string; restartPolicy?: string; hostNetwork?: boolean; containers: PodContainer[]; initContainers?: PodContainer[] };
  status?: { phase?: string; podIP?: string; startTime?: string; conditions?: Array<{ type: string; status: string }> };
}

export const podKey = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

// app: dcgm-exporter pods; the workstation labels: pods that serve an IDE (pod-ide.ts).
const KEPT_LABELS = ['app', 'tessera.dev/workstation', 'notebook-name'];
const pickKeys = (o: Record<string, string> | undefined, keep: (k: string) => boolean) => {
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (keep(k)) out[k] = v;
  return out;
};
const slimContainer = (c: PodContainer): PodContainer => {
  const nbPrefix = c.env?.find((e) => e.name === 'NB_PREFIX');
  return {
    name: c.name,
    image: c.image,
    resources: {
      limits: pickKeys(c.resources?.limits, (k) => k.startsWith('nvidia.com/')),
      requests: pickKeys(c.resources?.requests, (k) => k.startsWith('nvidia.com/')),
    },
    ...(c.ports?.length ? { ports: c.ports.map((p) => ({ containerPort: p.containerPort, ...(p.name ? { name: p.name } : {}) })) } : {}),
    ...(nbPrefix ? { env: [{ name: nbPrefix.name, value: nbPrefix.value }] } : {}),
  };
};

/**
 * Keeps only what the simulator reads. A 2,000-node fleet carries tens of
 * thousands of pods; whole objects would cost the simulator hundreds of MB.
 */
export function slimPod(p: Pod): Pod {
  const m = p.metadata;
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
      annotations: pickKeys(m.annotations, (k) => k.startsWith('tessera.dev/')),
      labels: pickKeys(m.labels, (k) => KEPT_LABELS.includes(k)),
    },
    spec: {
      nodeName: p.spec.nodeName,
      restartPolicy: p.spec.restartPolicy,
      hostNetwork: p.spec.hostNetwork,
      containers: p.spec.containers.map(slimContainer),
      ...(p.spec.initContainers ? { initContainers: p.spec.initContainers.map(slimContainer) } : {}),
    },
    status: p.status && {
      phase: p.status.phase,
      podIP: p.status.podIP,
      startTime: p.status.startTime,
      conditions: p.status.conditions?.filter((c) => c.type === 'PodScheduled'),
    },
  };
}

export class PodInformer {
  readonly pods = new Map<string, Pod>();
  private rv = '';
  private stopped = false;
  private current?: { close(): void };
  private markSynced!: () => void;
  /** Settles after the first full list has been delivered. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

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
    // Paged, so a 20,000-pod list never sits in memory as one JSON string.
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.kube.get<{ metadata: { resourceVersion: string; continue?: string }; items: Pod[] }>('/api/v1/pods', { limit: 500, continue: cont });
      for (const raw of page.items) {
        const pod = slimPod(raw);
        seen.add(podKey(pod));
        this.pods.set(podKey(pod), pod);
        this.onChange(pod, false);
      }
      rv = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    for (const [key, pod] of this.pods) {
      if (!seen.has(key)) {
        this.pods.delete(key);
        this.onChange(pod, true);
      }
    }
    this.rv = rv;
    this.markSynced();
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
      this.rv = (e.object as Pod).metadata.resourceVersion;
      if (e.type === 'BOOKMARK') return;
      const pod = slimPod(e.object as Pod);
      if (e.type === 'DELETED') this.pods.delete(podKey(pod));
      else this.pods.set(podKey(pod), pod);
      this.onChange(pod, e.type === 'DELETED');
    });
    this.current = handle;
    await handle.done;
    if (gone) throw new KubeError('WATCH', '/api/v1/pods', 410, { message: 'resourceVersion too old' });
  }
}
