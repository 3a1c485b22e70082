// The ResourceQuota check a workstation passes before Tessera submits it. The
// API server enforces quota on pods, but a StatefulSet's pod is created later
// by a controller, so a refusal would only show up as a controller event; the
// console checks first and names the quota that would refuse it.
import { parseQuantity } from '../../../shared/quantity.ts';
import { gpuResource, type QuotaProblem, type WorkstationSpec } from '../../../shared/model/workstation.ts';
import type { KubeObject } from './ws-objects.ts';

/** What a workstation adds to a namespace's usage, in quota resource names. */
export function workstationDemand(spec: WorkstationSpec, opts: { volume: boolean }): Map<string, number> {
  const d = new Map<string, number>();
  const add = (k: string, v: number | undefined) => v !== undefined && d.set(k, (d.get(k) ?? 0) + v);
  const cpu = parseQuantity(spec.cpu);
  const mem = parseQuantity(spec.memory);
  for (const k of ['cpu', 'requests.cpu', 'limits.cpu']) add(k, cpu);
  for (const k of ['memory', 'requests.memory', 'limits.memory']) add(k, mem);
  add('pods', 1);
  add('count/pods', 1);
  const gpu = gpuResource(spec.gpu);
  // Extended resources can only be quota'd as requests.<name> (requests equal limits for them).
  if (gpu) add(`requests.${gpu.name}`, gpu.count);
  if (opts.volume) {
    const size = parseQuantity(spec.volumeSize);
    add('persistentvolumeclaims', 1);
    add('count/persistentvolumeclaims', 1);
    add('requests.storage', size);
    if (spec.storageClass) {
      add(`${spec.storageClass}.storageclass.storage.k8s.io/requests.storage`, size);
      add(`${spec.storageClass}.storageclass.storage.k8s.io/persistentvolumeclaims`, 1);
    }
  }
  return d;
}

function show(resource: string, v: number): string {
  if (resource.endsWith('memory') || resource.endsWith('storage')) {
    const gi = v / 2 ** 30;
    return Number.isInteger(gi) ? `${gi}Gi` : `${Math.round(gi * 100) / 100}Gi`;
  }
  return String(Math.round(v * 1000) / 1000);
}

/**
 * Every quota in the namespace that the demand would exceed. Quotas with scopes
 * (Terminating, BestEffort, PriorityClass) are matched conservatively: a
 * workstation pod is long-running, not BestEffort, and has no priority class,
 * so NotTerminating and NotBestEffort apply and the others do not.
 */
export function quotaProblems(quotas: readonly KubeObject[], demand: ReadonlyMap<string, number>): QuotaProblem[] {
  const problems: QuotaProblem[] = [];
  for (const q of quotas) {
    const scopes = (q.spec?.scopes ?? []) as string[];
    if (scopes.some((s) => s !== 'NotTerminating' && s !== 'NotBestEffort') || q.spec?.scopeSelector) continue;
    // spec.hard is the limit as set; status.hard lags it until the quota controller syncs.
    const hard = (q.spec?.hard ?? q.status?.hard ?? {}) as Record<string, string>;
    const used = (q.status?.used ?? {}) as Record<string, string>;
    for (const [resource, limit] of Object.entries(hard)) {
      const want = demand.get(resource);
      if (want === undefined) continue;
      const h = parseQuantity(limit) ?? Infinity;
      const u = parseQuantity(used[resource]) ?? 0;
      if (u + want > h + 1e-9) problems.push({ quota: q.metadata.name, resource, hard: limit, used: show(resource, u), requested: show(resource, want) });
    }
  }
  return problems;
}

export function describeQuotaProblem(namespace: string, p: QuotaProblem): string {
  return `ResourceQuota "${p.quota}" in ${namespace} allows ${p.resource} ${p.hard}; ${p.used} is in use and this workstation asks for ${p.requested}`;
}
