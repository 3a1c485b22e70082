// Team GPU quotas: per namespace, GPU and MIG usage against its ResourceQuotas,
// quota refusals, and editing a quota's GPU keys. An edit is access-reviewed
// first, sent with the resourceVersion the user saw (so a quota changed in
// between is refused, not overwritten), and recorded before and after.
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { NamespaceQuota, QuotaList, QuotaUpdateResult } from '../../../shared/contract/quotas.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { kubeJson, listPages } from '../kube/kube-http.ts';
import { ACTIVE_PODS } from '../nodes/node-inventory.ts';
import { applyHardChanges, namespaceQuotas, quotaObject, type RawEvent, type RawPod, type RawQuota } from './quota-usage.ts';
import type { ClusterHandle } from '../clusters/cluster-handle.ts';

export type QuotaCluster = ClusterHandle;

export interface QuotaServiceOptions {
  cluster(id: string): QuotaCluster;
  audit(input: AuditInput): Promise<unknown>;
  now?: () => number;
}

const forbidden = (err: unknown) => err instanceof TesseraError && (err.code === 'FORBIDDEN' || err.details?.['status'] === 403);
const statusOf = (err: unknown) => (err instanceof TesseraError ? (err.details?.['status'] as number | undefined) : undefined);

/** Keeps only what quota rows read, so a 16,000-pod list does not stay in memory whole. */
function slimPod(raw: RawPod): RawPod {
  return { metadata: { name: raw.metadata?.name, namespace: raw.metadata?.namespace, labels: raw.metadata?.labels ?? {} }, spec: { containers: raw.spec?.containers?.map((c) => ({ resources: c.resources })) }, status: { phase: raw.status?.phase, conditions: raw.status?.conditions } };
}

export class QuotaService {
  constructor(private readonly o: QuotaServiceOptions) {}

  async list(id: string): Promise<QuotaList> {
    const c = this.o.cluster(id);
    const kc = await c.kubeConfig();
    const notes: string[] = [];
    let scope: string[] | undefined;
    let namespaces: { name: string; labels?: Record<string, string> }[] = [];
    try {
      const ns = await kubeJson<{ items?: { metadata: { name: string; labels?: Record<string, string> } }[] }>(kc, '/api/v1/namespaces', { action: 'list namespaces' });
      namespaces = (ns.items ?? []).map((n) => ({ name: n.metadata.name, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}) }));
    } catch (err) {
      if (!forbidden(err) || !c.namespace) throw err;
      // A namespace-scoped user: show their namespace, and say why there is only one.
      scope = [c.namespace];
      namespaces = [{ name: c.namespace }];
      notes.push(`user "${c.userName ?? '?'}" may not list namespaces cluster-wide; showing namespace ${c.namespace} only`);
    }
    const read = async <T>(path: (ns?: string) => string, what: string, query: Record<string, string> = {}, map?: (raw: never) => T): Promise<T[]> => {
      const out: T[] = [];
      for (const ns of scope ?? [undefined]) {
        try {
          for await (const page of listPages<T>(kc, path(ns), query, map ? { map } : {})) out.push(...page.items);
        } catch (err) {
          if (!forbidden(err)) throw err;
          notes.push(`${what} could not be read${ns ? ` in ${ns}` : ''}: ${(err as Error).message}`);
        }
      }
      return out;
    };
    const [quotas, pods, events] = await Promise.all([
      read<RawQuota>((ns) => (ns ? `/api/v1/namespaces/${ns}/resourcequotas` : '/api/v1/resourcequotas'), 'ResourceQuotas'),
      read<RawPod>((ns) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'), 'pods', { fieldSelector: ACTIVE_PODS }, slimPod as (raw: never) => RawPod),
      read<RawEvent>((ns) => (ns ? `/api/v1/namespaces/${ns}/events` : '/api/v1/events'), 'events', { fieldSelector: 'reason=FailedCreate' }),
    ]);
    const rows = namespaceQuotas({ clusterId: id, namespaces, quotas, pods, events });
    if (scope) for (const ns of scope) if (!rows.some((r) => r.namespace === ns)) rows.push({ clusterId: id, namespace: ns, lines: [], quotas: [], refusals: [], pendingPods: [] });
    const withAccess: NamespaceQuota[] = [];
    // A few access reviews at a time; ClusterConnection caches them for 30 s.
    for (let i = 0; i < rows.length; i += 8) {
      const batch = rows.slice(i, i + 8);
      const checks = await Promise.all(batch.map((r) => c.canI({ verb: r.quotas.length ? 'update' : 'create', resource: 'resourcequotas', namespace: r.namespace })));
      batch.forEach((r, j) => withAccess.push({ ...r, canEdit: checks[j]! }));
    }
    return { namespaces: withAccess, notes };
  }

  async update(id: string, req: { namespace: string; name: string; resourceVersion?: string; changes: { resource: string; value?: number }[]; seen?: { resource: string; value: string }[] }): Promise<QuotaUpdateResult> {
    const seen = new Set<string>();
    for (const ch of req.changes) {
      if (seen.has(ch.resource)) throw new TesseraError('INVALID_REQUEST', `changes: ${ch.resource} is named twice`);
      seen.add(ch.resource);
    }
    const c = this.o.cluster(id);
    const targets = [{ kind: 'ResourceQuota', namespace: req.namespace, name: req.name }];
    const actor = c.userName ? { actor: { kubeUser: c.userName } } : {};
    const params = { changes: req.changes, ...(req.resourceVersion ? { resourceVersion: req.resourceVersion } : {}) };
    const t0 = this.o.now?.() ?? Date.now();
    const verb = req.resourceVersion ? 'update' : 'create';
    const access = await c.canI({ verb, resource: 'resourcequotas', namespace: req.namespace });
    if (!access.allowed) {
      // Refused before anything is sent; still recorded, as every refused change is.
      const err = new TesseraError('FORBIDDEN', `Cannot ${verb} ResourceQuota ${req.namespace}/${req.name}: ${access.reason}`, { permission: `${verb} resourcequotas`, namespace: req.namespace, missing: [`${verb} resourcequotas in ${req.namespace}`] });
      await this.o.audit({ action: 'quota.update', outcome: 'failed', cluster: id, targets, params, error: err, ...actor });
      throw err;
    }
    const kc = await c.kubeConfig();
    const base = `/api/v1/namespaces/${req.namespace}/resourcequotas`;
    try {
      let result: QuotaUpdateResult;
      if (!req.resourceVersion) {
        const hard = applyHardChanges({}, req.changes);
        const made = await kubeJson<RawQuota>(kc, base, { method: 'POST', body: { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: req.name, namespace: req.namespace, labels: { 'app.kubernetes.io/managed-by': 'tessera' } }, spec: { hard } }, action: `create ResourceQuota ${req.namespace}/${req.name}` });
        result = { namespace: req.namespace, name: req.name, created: true, before: {}, after: quotaObject(made).hard, resourceVersion: made.metadata?.resourceVersion ?? '' };
      } else {
        const current = await kubeJson<RawQuota>(kc, `${base}/${req.name}`, { action: `read ResourceQuota ${req.namespace}/${req.name}` });
        const moved = req.seen ? gpuLimitsDiffer(quotaObject(current).hard, req.seen) : current.metadata?.resourceVersion !== req.resourceVersion;
        if (moved)
          throw new TesseraError('CONFLICT', `ResourceQuota ${req.namespace}/${req.name} changed since it was shown (resourceVersion ${req.resourceVersion} → ${current.metadata?.resourceVersion}); reload and try again`, { status: 409 });
        const hard = applyHardChanges(current.spec?.hard ?? {}, req.changes);
        // PUT of the object read, carrying its resourceVersion: the API server refuses it (409) if anyone changed it in between.
        const put = await kubeJson<RawQuota>(kc, `${base}/${req.name}`, { method: 'PUT', body: { ...current, spec: { ...current.spec, hard } }, action: `update ResourceQuota ${req.namespace}/${req.name}` });
        result = { namespace: req.namespace, name: req.name, created: false, before: quotaObject(current).hard, after: quotaObject(put).hard, resourceVersion: put.metadata?.resourceVersion ?? '' };
      }
      await this.o.audit({ action: 'quota.update', outcome: 'succeeded', cluster: id, targets, params, before: result.before, after: result.after, durationMs: (this.o.now?.() ?? Date.now()) - t0, ...actor });
      return result;
    } catch (err) {
      const e = statusOf(err) === 409 && !(err instanceof TesseraError && err.code === 'CONFLICT') ? new TesseraError('CONFLICT', `ResourceQuota ${req.namespace}/${req.name} ${verb === 'create' ? 'already exists' : 'changed while it was being saved'}; reload and try again`, { status: 409 }) : err;
      await this.o.audit({ action: 'quota.update', outcome: 'failed', cluster: id, targets, params, error: e, durationMs: (this.o.now?.() ?? Date.now()) - t0, ...actor });
      throw e;
    }
  }
}

/** True when the quota's GPU limits are not the ones the user saw (other keys and status do not count). */
function gpuLimitsDiffer(gpuHard: Record<string, string>, seen: { resource: string; value: string }[]): boolean {
  const now = Object.entries(gpuHard);
  if (now.length !== seen.length) return true;
  const was = new Map(seen.map((e) => [e.resource, e.value]));
  return now.some(([k, v]) => was.get(k) !== v);
}
