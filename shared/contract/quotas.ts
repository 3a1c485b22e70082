import type { AccessCheck } from '../model/cluster.ts';
import { method } from './define.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

/** One GPU resource in a namespace: what its pods ask for and what its quotas allow. */
export interface QuotaLine {
  /** `nvidia.com/gpu` or `nvidia.com/mig-<profile>`. */
  resource: string;
  /** Devices requested by the namespace's Running and Pending pods. */
  running: number;
  pending: number;
  /** The tightest quota on it: its name, the key it is set under, status.used and hard. */
  quota?: { name: string; key: string; used: number; hard: number };
}

export interface QuotaObject {
  name: string;
  resourceVersion: string;
  /** Every GPU-related key of spec.hard, as written. */
  hard: Record<string, string>;
  used: Record<string, string>;
  /** True when scopes or a scopeSelector narrow what the quota counts. */
  scoped: boolean;
  /** When spec.hard was last written (managedFields), so older refusals can be told apart from current ones. */
  specChangedAt?: string;
}

/** Pods that could not be created because a quota refused them (FailedCreate events on their owner). */
export interface QuotaRefusal {
  owner: string;
  message: string;
  count: number;
  lastSeen?: string;
}

export interface NamespaceQuota {
  clusterId: string;
  namespace: string;
  team?: string;
  lines: QuotaLine[];
  quotas: QuotaObject[];
  refusals: QuotaRefusal[];
  /** Pods Pending because nothing fits or a quota refused them, with the scheduler's reason. */
  pendingPods: { name: string; reason: string }[];
  /** update (or create, when there is no quota yet) on resourcequotas in this namespace. */
  canEdit: AccessCheck;
}

export interface QuotaList {
  namespaces: NamespaceQuota[];
  /** What could not be read (a namespace-scoped user cannot list namespaces, say). */
  notes: string[];
}

export interface QuotaUpdateResult {
  namespace: string;
  name: string;
  created: boolean;
  before: Record<string, string>;
  after: Record<string, string>;
  resourceVersion: string;
}

/** Quota keys Tessera edits: GPU and MIG requests, and the plain/limits forms some sites use. */
export const GPU_QUOTA_KEY = /^(requests\.|limits\.)?nvidia\.com\/(gpu|mig-\d+g\.\d+gb(\+me)?)$/;

const change = s.object({
  resource: s.string({ min: 1, max: 80, pattern: GPU_QUOTA_KEY, patternHint: 'must be a GPU quota key such as requests.nvidia.com/gpu or requests.nvidia.com/mig-1g.10gb' }),
  /** A whole number of devices; absent removes the key. */
  value: s.optional(s.number({ min: 0, max: 100_000, integer: true })),
});

export const quotaMethods = {
  'quotas.list': method<QuotaList>()(s.object({ id: clusterId }), 'Per namespace: GPU and MIG requests of Running and Pending pods against ResourceQuotas, quota refusals, and whether the quota may be edited.'),
  'quotas.update': method<QuotaUpdateResult>()(
    s.object({
      id: clusterId,
      namespace: k8sName,
      name: k8sName,
      /** The resourceVersion the user saw; absent only when creating a new quota. */
      resourceVersion: s.optional(s.string({ min: 1, max: 64, pattern: /^[0-9]+$/, patternHint: 'must be a resourceVersion' })),
      changes: s.array(change, { min: 1, max: 32 }),
      /**
       * The GPU keys' limits the user saw. When given, only a change to those
       * limits is a conflict: the quota controller rewrites status (and so the
       * resourceVersion) every time a pod comes or goes in a busy namespace.
       */
      seen: s.optional(s.array(s.object({ resource: s.string({ min: 1, max: 80, pattern: GPU_QUOTA_KEY, patternHint: 'must be a GPU quota key' }), value: s.string({ min: 1, max: 32 }) }), { max: 32 })),
    }),
    'Sets or removes GPU keys of a ResourceQuota (creates it when it does not exist and no resourceVersion is given); RBAC checked, audited.',
  ),
};
