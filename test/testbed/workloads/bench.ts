// GPU pods in bulk for benchmarks: tens of thousands, fast, each asking for one
// device of a class that still has room (so they run rather than queue), owned
// in groups by a Kubeflow PyTorchJob. Nothing reconciles PyTorchJobs here, so
// the pods are exactly the ones created, yet ownerReferences lead the console
// to a workload and the garbage collector removes pods with their job.
import { Kube, KubeError, mapLimit } from '../kube.ts';
import { sleep } from '../processes.ts';
import { PRODUCT_LABEL, classKey } from './classes.ts';
import { gpuPodTemplate, type GpuAsk } from './pod-template.ts';
import { ensureNamespace } from './seed.ts';

export const BENCH_LABEL = 'tessera.dev/bench';
const CRD = 'pytorchjobs.kubeflow.org';
const JOBS = (ns: string) => `/apis/kubeflow.org/v1/namespaces/${ns}/pytorchjobs`;

export interface GpuPodOptions {
  count: number;
  /** Spread round-robin over these (created when missing); default bench-a..bench-d. */
  namespaces?: string[];
  /** Name prefix of the PyTorchJobs; pods are <job>-worker-<i>. Default "bench". */
  prefix?: string;
  /**
   * scheduler (default): pods carry the resource and a product nodeSelector and
   * kube-scheduler binds them. direct: nodeName is set here from a first-fit plan,
   * skipping the scheduler, for when only the API load matters.
   */
  schedule?: 'scheduler' | 'direct';
  concurrency?: number;
  podsPerJob?: number;
  /** Share of pods annotated idle (tessera.dev/sim-idle); default 0.1. */
  idleShare?: number;
}

export interface GpuPodsResult {
  created: number;
  failed: number;
  /** Pods asked for a device class that had room when they were planned. */
  placed: number;
  ms: number;
  firstError?: string;
}

interface Slot extends GpuAsk {
  node?: string;
}

async function ensurePyTorchJobCrd(kube: Kube): Promise<void> {
  try {
    await kube.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD },
      spec: {
        group: 'kubeflow.org',
        scope: 'Namespaced',
        names: { plural: 'pytorchjobs', singular: 'pytorchjob', kind: 'PyTorchJob', listKind: 'PyTorchJobList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, subresources: { status: {} } }],
      },
    });
  } catch (err) {
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const crd = await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD}`);
    if ((crd.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True')) return;
    await sleep(100);
  }
  throw new Error(`CRD ${CRD} not established`);
}

/** The admission plugin wants the namespace's default ServiceAccount before it admits a pod. */
async function ensureReadyNamespace(kube: Kube, ns: string): Promise<void> {
  await ensureNamespace(kube, ns, { [BENCH_LABEL]: 'true' });
  for (let i = 0; i < 100; i++) {
    try {
      await kube.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`);
      return;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      await sleep(100);
    }
  }
}

async function listAll<T>(kube: Kube, path: string, query: Record<string, string> = {}): Promise<T[]> {
  const items: T[] = [];
  let cont: string | undefined;
  do {
    const page = await kube.get<{ items: T[]; metadata: { continue?: string } }>(path, { limit: 500, ...query, continue: cont });
    items.push(...page.items);
    cont = page.metadata.continue || undefined;
  } while (cont);
  return items;
}

const DEVICE = (k: string) => k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-');

/**
 * Free devices right now, one slot per device, interleaved across nodes and
 * classes so that taking the first N spreads them over the fleet.
 */
async function freeSlots(kube: Kube): Promise<Slot[]> {
  const [nodes, pods] = await Promise.all([listAll<any>(kube, '/api/v1/nodes'), listAll<any>(kube, '/api/v1/pods', { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' })]);
  const used = new Map<string, number>();
  for (const p of pods) {
    if (!p.spec.nodeName) continue;
    for (const c of p.spec.containers) {
      for (const [k, v] of Object.entries({ ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) })) {
        if (DEVICE(k)) used.set(`${p.spec.nodeName}|${k}`, (used.get(`${p.spec.nodeName}|${k}`) ?? 0) + Number(v));
      }
    }
  }
  const perNode: Slot[][] = [];
  for (const n of nodes) {
    if (n.spec.unschedulable) continue;
    const product = n.metadata.labels?.[PRODUCT_LABEL];
    const slots: Slot[] = [];
    for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) {
      if (!DEVICE(k)) continue;
      const free = Number(v) - (used.get(`${n.metadata.name}|${k}`) ?? 0);
      for (let i = 0; i < free; i++) slots.push({ resource: k, count: 1, product: k === 'nvidia.com/gpu' ? product : undefined, node: n.metadata.name });
    }
    if (slots.length) perNode.push(slots);
  }
  const out: Slot[] = [];
  for (let round = 0; perNode.some((s) => s.length > round); round++) for (const s of perNode) if (s[round]) out.push(s[round]!);
  return out;
}

function podBody(name: string, ns: string, slot: Slot, owner: { name: string; uid: string }, index: number, opts: { direct: boolean; idle: boolean }) {
  const t = gpuPodTemplate(slot, {
    image: 'nvcr.io/nvidia/pytorch:24.05-py3',
    labels: {
      [BENCH_LABEL]: 'true',
      'training.kubeflow.org/job-name': owner.name,
      'training.kubeflow.org/replica-type': 'worker',
      'training.kubeflow.org/replica-index': String(index),
    },
    idle: opts.idle,
    restartPolicy: 'Never',
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...t.metadata,
      name,
      namespace: ns,
      ownerReferences: [{ apiVersion: 'kubeflow.org/v1', kind: 'PyTorchJob', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...t.spec, ...(opts.direct && slot.node ? { nodeName: slot.node } : {}) },
  };
}

/** Creates `asks.length` pods in groups under new PyTorchJobs. */
async function createOwned(kube: Kube, asks: Slot[], o: Required<Pick<GpuPodOptions, 'namespaces' | 'prefix' | 'concurrency' | 'podsPerJob' | 'idleShare'>> & { direct: boolean }): Promise<Omit<GpuPodsResult, 'placed' | 'ms'>> {
  const stamp = Date.now().toString(36);
  const groups: Array<{ ns: string; name: string; asks: Slot[]; first: number }> = [];
  for (let i = 0, g = 0; i < asks.length; i += o.podsPerJob, g++) {
    groups.push({ ns: o.namespaces[g % o.namespaces.length]!, name: `${o.prefix}-${stamp}-${g}`, asks: asks.slice(i, i + o.podsPerJob), first: i });
  }
  let created = 0;
  let failed = 0;
  let firstError: string | undefined;
  const fail = (err: unknown) => {
    failed++;
    firstError ??= err instanceof Error ? err.message : String(err);
  };
  const idleEvery = o.idleShare > 0 ? Math.round(1 / o.idleShare) : 0;
  await mapLimit(groups, Math.max(1, Math.ceil(o.concurrency / 4)), async (g) => {
    let owner: { name: string; uid: string };
    try {
      const job = await kube.create(JOBS(g.ns), {
        apiVersion: 'kubeflow.org/v1',
        kind: 'PyTorchJob',
        metadata: { name: g.name, namespace: g.ns, labels: { [BENCH_LABEL]: 'true' } },
        spec: { pytorchReplicaSpecs: { Worker: { replicas: g.asks.length, restartPolicy: 'Never' } } },
      });
      owner = { name: g.name, uid: job.metadata.uid };
    } catch (err) {
      for (let i = 0; i < g.asks.length; i++) fail(err);
      return;
    }
    await mapLimit(g.asks, 4, async (slot, i) => {
      const idle = idleEvery > 0 && (g.first + i) % idleEvery === 0;
      try {
        await kube.create(`/api/v1/namespaces/${g.ns}/pods`, podBody(`${g.name}-worker-${i}`, g.ns, slot, owner, i, { direct: o.direct, idle }));
        created++;
      } catch (err) {
        fail(err);
      }
    });
  });
  return { created, failed, firstError };
}

const DEFAULT_NAMESPACES = ['bench-a', 'bench-b', 'bench-c', 'bench-d'];

function withDefaults(opts: Partial<GpuPodOptions>) {
  return {
    namespaces: opts.namespaces?.length ? opts.namespaces : DEFAULT_NAMESPACES,
    prefix: opts.prefix ?? 'bench',
    concurrency: opts.concurrency ?? 48,
    podsPerJob: opts.podsPerJob ?? 8,
    idleShare: opts.idleShare ?? 0.1,
    direct: opts.schedule === 'direct',
  };
}

/**
 * Creates `count` GPU pods as fast as the API server takes them. Pods beyond the
 * fleet's free devices still ask for one (nvidia.com/gpu on the most common
 * product) and stay Pending, as they would on a full cluster.
 */
export async function createGpuPods(kube: Kube, opts: GpuPodOptions): Promise<GpuPodsResult> {
  const t0 = performance.now();
  const o = withDefaults(opts);
  await ensurePyTorchJobCrd(kube);
  for (const ns of o.namespaces) await ensureReadyNamespace(kube, ns);
  const slots = await freeSlots(kube);
  const placed = Math.min(opts.count, slots.length);
  const asks = slots.slice(0, placed);
  const common = mostCommon(slots) ?? { resource: 'nvidia.com/gpu', count: 1 };
  for (let i = placed; i < opts.count; i++) asks.push({ ...common, node: undefined });
  const r = await createOwned(kube, asks, o);
  return { ...r, placed, ms: performance.now() - t0 };
}

function mostCommon(slots: Slot[]): Slot | undefined {
  const counts = new Map<string, { n: number; s: Slot }>();
  for (const s of slots) {
    const k = classKey(s);
    const c = counts.get(k) ?? { n: 0, s };
    c.n++;
    counts.set(k, c);
  }
  return [...counts.values()].sort((a, b) => b.n - a.n)[0]?.s;
}

export interface ChurnResult {
  deleted: number;
  created: number;
  failed: number;
  ms: number;
}

/**
 * Deletes n benchmark pods and creates n new ones asking for the same devices,
 * all at once (a burst of 2n pod changes). The new pods go through the scheduler,
 * which places them as the deleted ones give their devices back.
 */
export async function churnPods(kube: Kube, n: number, opts: Partial<Omit<GpuPodOptions, 'count'>> = {}): Promise<ChurnResult> {
  const t0 = performance.now();
  const o = withDefaults(opts);
  const victims: any[] = [];
  let cont: string | undefined;
  do {
    const page = await kube.get<{ items: any[]; metadata: { continue?: string } }>('/api/v1/pods', { labelSelector: `${BENCH_LABEL}=true`, limit: 500, continue: cont });
    victims.push(...page.items.filter((p) => !p.metadata.deletionTimestamp));
    cont = page.metadata.continue || undefined;
  } while (cont && victims.length < n);
  victims.length = Math.min(victims.length, n);
  const asks: Slot[] = victims.map((p) => {
    const c = p.spec.containers[0];
    const [resource, v] = Object.entries(c.resources?.limits ?? {}).find(([k]) => DEVICE(k)) ?? ['nvidia.com/gpu', '1'];
    return { resource, count: Number(v), product: p.spec.nodeSelector?.[PRODUCT_LABEL] };
  });
  let deleted = 0;
  const [, made] = await Promise.all([
    mapLimit(victims, Math.ceil(o.concurrency / 2), async (p) => {
      await kube.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`).then(
        () => deleted++,
        () => undefined,
      );
    }),
    createOwned(kube, asks, { ...o, prefix: opts.prefix ?? 'churn', concurrency: Math.ceil(o.concurrency / 2), direct: false }),
  ]);
  return { deleted, created: made.created, failed: made.failed, ms: performance.now() - t0 };
}
