/**
 * The GPU pods on a node, and taking them off it: a MIG change destroys every
 * GPU instance the MIG manager reconfigures, so a pod holding one would lose
 * its device mid-run. Evictions go through the Eviction API so
 * PodDisruptionBudgets are honoured; a 429 means a budget blocks it.
 */
import type { KubeAccess } from '../kube/kube-access.ts';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { PodRef } from '../../../shared/model/node.ts';
import { kubeJson } from '../kube/kube-http.ts';
import type { RawObject } from '../kube/list-watch.ts';
import { ACTIVE_PODS } from '../nodes/node-inventory.ts';
import { holdsGpu, projectPod } from '../nodes/node-projection.ts';

export async function gpuPodsOn(kc: KubeAccess, node: string): Promise<PodRef[]> {
  const selector = `${ACTIVE_PODS},spec.nodeName=${node}`;
  const list = await kubeJson<{ items?: RawObject[] }>(kc, `/api/v1/pods?fieldSelector=${encodeURIComponent(selector)}`, { action: `list the pods on ${node}` });
  return (list.items ?? []).map(projectPod).filter(holdsGpu).map((p) => p.ref);
}

export const podName = (p: PodRef) => `${p.namespace}/${p.name}`;

export async function setCordon(kc: KubeAccess, node: string, unschedulable: boolean): Promise<void> {
  await kubeJson(kc, `/api/v1/nodes/${node}`, {
    method: 'PATCH',
    contentType: 'application/strategic-merge-patch+json',
    body: { spec: { unschedulable } },
    action: `${unschedulable ? 'cordon' : 'uncordon'} node ${node}`,
  });
}

const statusOf = (err: unknown) => (err instanceof TesseraError ? (err.details?.['status'] as number | undefined) : undefined);

/** policy/v1 Eviction from Kubernetes 1.22; older servers only know policy/v1beta1. */
async function evict(kc: KubeAccess, pod: PodRef): Promise<'evicted' | 'blocked' | 'gone'> {
  const path = `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}/eviction`;
  for (const apiVersion of ['policy/v1', 'policy/v1beta1']) {
    try {
      await kubeJson(kc, path, { method: 'POST', body: { apiVersion, kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } }, action: `evict pod ${podName(pod)}` });
      return 'evicted';
    } catch (err) {
      const status = statusOf(err);
      if (status === 429) return 'blocked';
      if (status === 404 && err instanceof TesseraError && /pods? .*not found/i.test(err.message)) return 'gone';
      // An unknown Eviction version comes back as 400/404 naming the kind; try the older one.
      if ((status === 400 || status === 404) && apiVersion === 'policy/v1') continue;
      throw err;
    }
  }
  return 'blocked';
}

export interface DrainResult {
  ok: boolean;
  /** Pods a PodDisruptionBudget kept on the node until the timeout. */
  blocked: PodRef[];
}

/** Evicts the node's GPU pods, retrying budget refusals, until all are gone or the deadline passes. */
export async function drainGpuPods(kc: KubeAccess, node: string, deadline: number, signal: AbortSignal, sleep: (ms: number) => Promise<void>): Promise<DrainResult> {
  let blocked: PodRef[] = [];
  for (;;) {
    const pods = await gpuPodsOn(kc, node);
    if (pods.length === 0) return { ok: true, blocked: [] };
    blocked = [];
    for (const p of pods) if ((await evict(kc, p)) === 'blocked') blocked.push(p);
    if (Date.now() >= deadline || signal.aborted) return { ok: false, blocked: blocked.length ? blocked : pods };
    await sleep(1000);
  }
}
