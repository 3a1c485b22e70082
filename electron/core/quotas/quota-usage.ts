// GPU quota usage per namespace, from raw API objects: what the namespace's
// Running and Pending pods request, what its ResourceQuotas allow (status.used
// against spec.hard), and which pods a quota kept from being created at all.
// On Kubernetes 1.20 a quota refusal never produces a Pending pod: admission
// refuses the create, so the only trace is the owner's FailedCreate event
// ("... is forbidden: exceeded quota: <name>, requested: ..., used: ..., limited: ...").
import { GPU_QUOTA_KEY, type NamespaceQuota, type QuotaLine, type QuotaObject, type QuotaRefusal } from '../../../shared/contract/quotas.ts';
import { podGpuResources } from '../../../shared/gpu/node-gpu.ts';
import { parseQuantity } from '../../../shared/quantity.ts';

export const TEAM_LABEL = 'tessera.dev/team';

export interface RawMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  managedFields?: { time?: string; fieldsV1?: Record<string, unknown> }[];
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
}
export interface RawQuota {
  metadata?: RawMeta;
  spec?: { hard?: Record<string, string>; scopes?: string[]; scopeSelector?: unknown };
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
}
export interface RawPod {
  metadata?: RawMeta;
  spec?: { containers?: Parameters<typeof podGpuResources>[0]; nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
export interface RawEvent {
  metadata?: RawMeta;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
}

/** `requests.nvidia.com/gpu`, `limits.nvidia.com/gpu` and `nvidia.com/gpu` all cap `nvidia.com/gpu`. */
export function resourceOfKey(key: string): string | undefined {
  return GPU_QUOTA_KEY.test(key) ? key.replace(/^(requests|limits)\./, '') : undefined;
}

export function isQuotaRefusal(e: RawEvent): boolean {
  return e.reason === 'FailedCreate' && /exceeded quota/i.test(e.message ?? '');
}

function gpuKeys(r: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r ?? {})) if (resourceOfKey(k)) out[k] = v;
  return out;
}

/** The latest managedFields entry that wrote spec (the quota controller's status writes do not count). */
function specChangedAt(q: RawQuota): { specChangedAt?: string } {
  const times = (q.metadata?.managedFields ?? []).filter((m) => m.time && m.fieldsV1 && 'f:spec' in m.fieldsV1).map((m) => m.time!).sort();
  return times.length ? { specChangedAt: times.at(-1)! } : {};
}

export function quotaObject(q: RawQuota): QuotaObject {
  return {
    name: q.metadata?.name ?? '',
    resourceVersion: q.metadata?.resourceVersion ?? '',
    hard: gpuKeys(q.spec?.hard),
    used: gpuKeys(q.status?.used),
    scoped: (q.spec?.scopes?.length ?? 0) > 0 || q.spec?.scopeSelector !== undefined,
    ...specChangedAt(q),
  };
}

interface Inputs {
  clusterId: string;
  namespaces: { name: string; labels?: Record<string, string> }[];
  quotas: RawQuota[];
  pods: RawPod[];
  events: RawEvent[];
}

/**
 * One row per namespace that has anything to do with GPUs: pods asking for
 * them, a quota with a GPU key, or a quota refusal. canEdit is filled in by
 * the service (it needs an access review per namespace).
 */
export function namespaceQuotas(inp: Inputs): Omit<NamespaceQuota, 'canEdit'>[] {
  const rows = new Map<string, Omit<NamespaceQuota, 'canEdit'>>();
  const nsLabels = new Map(inp.namespaces.map((n) => [n.name, n.labels ?? {}]));
  const row = (ns: string) => {
    let r = rows.get(ns);
    if (!r) {
      const team = nsLabels.get(ns)?.[TEAM_LABEL];
      rows.set(ns, (r = { clusterId: inp.clusterId, namespace: ns, ...(team ? { team } : {}), lines: [], quotas: [], refusals: [], pendingPods: [] }));
    }
    return r;
  };
  const line = (r: Omit<NamespaceQuota, 'canEdit'>, resource: string): QuotaLine => {
    let l = r.lines.find((x) => x.resource === resource);
    if (!l) r.lines.push((l = { resource, running: 0, pending: 0 }));
    return l;
  };

  for (const p of inp.pods) {
    const ns = p.metadata?.namespace;
    const phase = p.status?.phase;
    if (!ns || (phase !== 'Running' && phase !== 'Pending')) continue;
    const res = podGpuResources(p.spec?.containers);
    const keys = Object.keys(res).filter((k) => res[k]! > 0);
    if (keys.length === 0) continue;
    const r = row(ns);
    if (!r.team && p.metadata?.labels?.[TEAM_LABEL]) r.team = p.metadata.labels[TEAM_LABEL];
    for (const k of keys) line(r, k)[phase === 'Running' ? 'running' : 'pending'] += res[k]!;
    if (phase === 'Pending') {
      const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
      r.pendingPods.push({ name: p.metadata?.name ?? '', reason: c ? `${c.reason ?? 'Unschedulable'}: ${c.message ?? ''}`.trim() : 'waiting to be scheduled' });
    }
  }

  for (const q of inp.quotas) {
    const ns = q.metadata?.namespace;
    if (!ns) continue;
    const obj = quotaObject(q);
    if (Object.keys(obj.hard).length === 0) continue;
    const r = row(ns);
    r.quotas.push(obj);
    for (const [key, hardText] of Object.entries(obj.hard)) {
      const resource = resourceOfKey(key)!;
      const hard = parseQuantity(hardText) ?? Infinity;
      const used = parseQuantity(obj.used[key]) ?? 0;
      const l = line(r, resource);
      // Several quotas may cap the same resource; the one with least room left is the one that refuses first.
      if (!l.quota || hard - used < l.quota.hard - l.quota.used) l.quota = { name: obj.name, key, used, hard };
    }
  }

  const refusals = new Map<string, QuotaRefusal & { ns: string }>();
  for (const e of inp.events) {
    if (!isQuotaRefusal(e)) continue;
    const ns = e.involvedObject?.namespace ?? e.metadata?.namespace;
    if (!ns) continue;
    const owner = `${e.involvedObject?.kind ?? '?'}/${e.involvedObject?.name ?? '?'}`;
    const key = `${ns}|${owner}`;
    const when = e.lastTimestamp ?? e.eventTime;
    const prev = refusals.get(key);
    if (!prev || (when && (!prev.lastSeen || when > prev.lastSeen))) refusals.set(key, { ns, owner, message: e.message ?? '', count: (prev?.count ?? 0) + (e.count ?? 1), ...(when ? { lastSeen: when } : {}) });
    else prev.count += e.count ?? 1;
  }
  for (const { ns, ...ref } of refusals.values()) row(ns).refusals.push(ref);

  for (const r of rows.values()) {
    r.lines.sort((a, b) => a.resource.localeCompare(b.resource));
    r.quotas.sort((a, b) => a.name.localeCompare(b.name));
  }
  return [...rows.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
}

/** The new spec.hard: the GPU keys changed as asked, every other key untouched. */
export function applyHardChanges(hard: Record<string, string>, changes: readonly { resource: string; value?: number }[]): Record<string, string> {
  const out = { ...hard };
  for (const c of changes) {
    if (c.value === undefined) delete out[c.resource];
    else out[c.resource] = String(c.value);
  }
  return out;
}
