// The GPU workloads `up` starts: real Deployments, StatefulSets and Jobs in a
// few team namespaces, so pods carry the ownerReferences controllers give
// them. Sized from the fleet to hold about half of every device class, with
// whole-node training pods placed first (the scheduler spreads small pods,
// which would leave no whole node free), a few idle notebooks, one Job that
// completes, and two pods that stay Pending because nothing in the fleet fits.
import { Kube, KubeError, mapLimit } from '../kube.ts';
import type { NodeSpec } from '../fleet/catalog.ts';
import { sleep } from '../processes.ts';
import { classKey, deviceClasses, dnsLabel, type DeviceClass } from './classes.ts';
import { gpuPodTemplate, type GpuAsk } from './pod-template.ts';

export const WORKLOAD_NAMESPACES = ['ml-research', 'inference', 'team-a', 'batch'] as const;
type Ns = (typeof WORKLOAD_NAMESPACES)[number];

export interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'Job';
  namespace: Ns;
  name: string;
  replicas: number;
  ask: GpuAsk;
  image: string;
  idle?: boolean;
  /** Pods finish after this long (a Job that completes). */
  runMs?: number;
  /** Created and waited for before the rest. */
  first?: boolean;
  /** Nothing in the fleet can run it. */
  pending?: boolean;
}

const IMAGES = {
  pytorch: 'nvcr.io/nvidia/pytorch:24.05-py3',
  vllm: 'docker.io/vllm/vllm-openai:v0.5.4',
  triton: 'nvcr.io/nvidia/tritonserver:24.05-py3',
  notebook: 'quay.io/jupyter/pytorch-notebook:cuda12-python-3.11',
  cuda: 'nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04',
};

const FILL = 0.5;
const short = (product: string) => dnsLabel(product.replace(/^(NVIDIA|Tesla)-/, '').replace(/-MIG-.*$/, '').replace(/-SXM4|-HBM3/g, ''));

function forClass(c: DeviceClass): Workload[] {
  const target = Math.round(c.total * FILL);
  const out: Workload[] = [];
  const ask = (count: number): GpuAsk => ({ resource: c.resource, count, product: c.product });
  const add = (w: Omit<Workload, 'ask'> & { count?: number }) => w.replicas > 0 && out.push({ ...w, ask: ask(w.count ?? 1) });
  if (c.kind === 'gpu') {
    const model = short(c.product!);
    let left = target;
    if (c.perNode === 8) {
      const whole = Math.min(Math.floor(left / 8), Math.max(1, Math.floor(c.nodes / 4)));
      add({ kind: 'StatefulSet', namespace: 'ml-research', name: `pretrain-${model}`, replicas: whole, count: 8, image: IMAGES.pytorch, first: true });
      left -= whole * 8;
      const pairs = Math.floor(left / 4);
      add({ kind: 'Job', namespace: 'batch', name: `sweep-${model}`, replicas: pairs, count: 2, image: IMAGES.pytorch });
      left -= pairs * 2;
      add({ kind: 'Deployment', namespace: 'team-a', name: `dev-${model}`, replicas: left, image: IMAGES.pytorch });
    } else {
      const idle = c.perNode > 1 ? Math.max(1, Math.round(left * 0.1)) : 0;
      add({ kind: 'Deployment', namespace: 'team-a', name: `notebook-${model}`, replicas: idle, image: IMAGES.notebook, idle: true });
      add({ kind: 'Deployment', namespace: 'inference', name: c.perNode > 1 ? `vllm-${model}` : `triton-${model}`, replicas: left - idle, image: c.perNode > 1 ? IMAGES.vllm : IMAGES.triton });
    }
  } else if (c.kind === 'mig-single') {
    const tag = `${short(c.product!)}-${dnsLabel(c.product!.replace(/^.*-MIG-/, ''))}`;
    const idle = Math.max(1, Math.round(target / 3));
    add({ kind: 'Deployment', namespace: 'team-a', name: `jupyter-${tag}`, replicas: idle, image: IMAGES.notebook, idle: true });
    add({ kind: 'Job', namespace: 'batch', name: `eval-${tag}`, replicas: target - idle, image: IMAGES.cuda });
  } else {
    const profile = c.resource.replace('nvidia.com/mig-', '');
    const tag = dnsLabel(profile);
    if (profile.startsWith('1g')) add({ kind: 'Deployment', namespace: 'inference', name: `embed-${tag}`, replicas: target, image: IMAGES.triton });
    else if (profile.startsWith('2g')) add({ kind: 'Job', namespace: 'batch', name: `lora-${tag}`, replicas: target, image: IMAGES.pytorch });
    else add({ kind: 'StatefulSet', namespace: 'inference', name: `llm-${tag}`, replicas: target, image: IMAGES.vllm });
  }
  return out;
}

/** The workload set for a fleet; the same fleet always gets the same set. */
export function planWorkloads(specs: NodeSpec[]): Workload[] {
  const classes = deviceClasses(specs);
  const plan = classes.flatMap(forClass);
  const byKey = new Map(classes.map((c) => [classKey(c), c]));
  const h100 = byKey.get('nvidia.com/gpu|NVIDIA-H100-80GB-HBM3');
  const l40s = byKey.get('nvidia.com/gpu|NVIDIA-L40S');
  // No node has 16 GPUs, and no node offers a 7g MIG device.
  plan.push({ kind: 'Job', namespace: 'ml-research', name: 'finetune-16gpu', replicas: 1, ask: { resource: 'nvidia.com/gpu', count: 16, product: h100?.product }, image: IMAGES.pytorch, pending: true });
  plan.push({ kind: 'Deployment', namespace: 'inference', name: 'llm-70b-7g', replicas: 1, ask: { resource: 'nvidia.com/mig-7g.80gb', count: 1 }, image: IMAGES.vllm, pending: true });
  if (l40s) plan.push({ kind: 'Job', namespace: 'batch', name: 'dataset-prep', replicas: 2, ask: { resource: 'nvidia.com/gpu', count: 1, product: l40s.product }, image: IMAGES.cuda, runMs: 1500 });
  return plan;
}

function manifest(w: Workload): { path: string; body: Record<string, unknown> } {
  const labels = { app: w.name, 'tessera.dev/workload': w.name };
  const template = gpuPodTemplate(w.ask, {
    image: w.image,
    labels,
    idle: w.idle,
    runMs: w.runMs,
    restartPolicy: w.kind === 'Job' ? 'Never' : 'Always',
  });
  const metadata = { name: w.name, namespace: w.namespace, labels };
  if (w.kind === 'Job') {
    return {
      path: `/apis/batch/v1/namespaces/${w.namespace}/jobs`,
      body: { apiVersion: 'batch/v1', kind: 'Job', metadata, spec: { parallelism: w.replicas, completions: w.replicas, backoffLimit: 0, template } },
    };
  }
  const selector = { matchLabels: { app: w.name } };
  if (w.kind === 'StatefulSet') {
    return {
      path: `/apis/apps/v1/namespaces/${w.namespace}/statefulsets`,
      // Parallel: all ranks of a training job start together, not one by one.
      body: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata, spec: { replicas: w.replicas, serviceName: w.name, podManagementPolicy: 'Parallel', selector, template } },
    };
  }
  return {
    path: `/apis/apps/v1/namespaces/${w.namespace}/deployments`,
    body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: { replicas: w.replicas, selector, template } },
  };
}

export async function ensureNamespace(kube: Kube, name: string, labels: Record<string, string> = {}): Promise<void> {
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }).catch((err) => {
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  });
}

async function createAll(kube: Kube, ws: Workload[]): Promise<void> {
  await mapLimit(ws, 8, async (w) => {
    const { path, body } = manifest(w);
    await kube.create(path, body).catch((err) => {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    });
  });
}

interface Settle {
  done: boolean;
  summary: string;
}

const COLLECTIONS = { Deployment: 'apps/v1/namespaces/NS/deployments', StatefulSet: 'apps/v1/namespaces/NS/statefulsets', Job: 'batch/v1/namespaces/NS/jobs' } as const;

/**
 * Every workload has all its pods Running (or Succeeded), and only the expected
 * ones are Pending. Reads the controllers' status rather than listing thousands
 * of pods each time; pods are listed (non-Running only) once the counts add up.
 */
async function settled(kube: Kube, plan: Workload[]): Promise<Settle> {
  let ready = 0;
  let expected = 0;
  for (const ns of WORKLOAD_NAMESPACES) {
    for (const [kind, path] of Object.entries(COLLECTIONS) as Array<[Workload['kind'], string]>) {
      const mine = new Map(plan.filter((w) => w.namespace === ns && w.kind === kind && !w.pending).map((w) => [w.name, w]));
      if (mine.size === 0) continue;
      const { items } = await kube.get<{ items: any[] }>(`/apis/${path.replace('NS', ns)}`, { labelSelector: 'tessera.dev/workload' });
      for (const o of items) {
        const w = mine.get(o.metadata.name);
        if (!w) continue;
        expected += w.replicas;
        // Job pods count once created (active includes Pending ones); their phase is checked below.
        ready += kind === 'Job' ? (o.status?.active ?? 0) + (o.status?.succeeded ?? 0) : (o.status?.readyReplicas ?? 0);
      }
      for (const w of mine.values()) if (!items.some((o) => o.metadata.name === w.name)) expected += w.replicas;
    }
  }
  const summary = `${ready}/${expected} pods ready or started`;
  if (ready < expected) return { done: false, summary };
  const pendingOk = new Set(plan.filter((w) => w.pending).map((w) => w.name));
  const stuck: string[] = [];
  let succeeded = 0;
  for (const ns of WORKLOAD_NAMESPACES) {
    const { items } = await kube.get<{ items: any[] }>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: 'tessera.dev/workload', fieldSelector: 'status.phase!=Running' });
    for (const p of items) {
      if (p.status?.phase === 'Succeeded') succeeded++;
      else if (!pendingOk.has(p.metadata.labels['tessera.dev/workload'])) stuck.push(`${ns}/${p.metadata.name} ${p.status?.phase}`);
    }
  }
  const completions = plan.filter((w) => w.runMs !== undefined).reduce((s, w) => s + w.replicas, 0);
  return { done: stuck.length === 0 && succeeded >= completions, summary: `${summary}; not Running yet: ${stuck.length}, Succeeded ${succeeded}` };
}

/**
 * Creates the workloads (namespaces first) and waits until they have settled.
 * Returns the plan and how long it took.
 */
export async function seedWorkloads(kube: Kube, specs: NodeSpec[], log: (m: string) => void = () => {}): Promise<{ plan: Workload[]; ms: number }> {
  const t0 = performance.now();
  const plan = planWorkloads(specs);
  for (const ns of WORKLOAD_NAMESPACES) await ensureNamespace(kube, ns, { 'tessera.dev/workloads': 'true' });
  const pods = plan.reduce((s, w) => s + w.replicas, 0);
  log(`workloads: ${plan.length} objects, ${pods} GPU pods in ${WORKLOAD_NAMESPACES.join(', ')}`);
  const first = plan.filter((w) => w.first);
  await createAll(kube, first);
  const wholeNode = first.reduce((s, w) => s + w.replicas, 0);
  await waitUntil(60_000 + wholeNode * 100, 1000, async () => {
    let bound = 0;
    for (const w of first) {
      const list = await kube.get<{ items: any[] }>(`/api/v1/namespaces/${w.namespace}/pods`, { labelSelector: `app=${w.name}` });
      bound += list.items.filter((p) => p.spec.nodeName).length;
    }
    return bound >= wholeNode;
  });
  await createAll(kube, plan.filter((w) => !w.first));
  let lastLog = 0;
  await waitUntil(90_000 + pods * 30, 1000, async () => {
    const s = await settled(kube, plan);
    if (s.done || Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`workloads: ${s.summary}`);
    }
    return s.done;
  });
  return { plan, ms: performance.now() - t0 };
}

async function waitUntil(timeoutMs: number, everyMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('workloads did not settle in time');
    await sleep(everyMs);
  }
}
