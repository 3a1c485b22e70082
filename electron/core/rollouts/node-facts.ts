// The few facts about a Node and its pods that a rollout reads: driver
// version, GPU count, MIG layout, cordon and readiness, the operator's
// upgrade state; and which pods a drain evicts.
import { readGpuLabels } from '../../../shared/gpu/labels.ts';
import type { RolloutApi } from './rollout-api.ts';

export const UPGRADE_STATE = 'nvidia.com/gpu-driver-upgrade-state';
export const UPGRADE_SKIP = 'nvidia.com/gpu-driver-upgrade.skip';
export const DRIVER_OWNER = 'nvidia.com/gpu-operator.driver.owner';

export interface RawNode {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { unschedulable?: boolean };
  status?: { capacity?: Record<string, string>; conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
}

export interface RawPod {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string; controller?: boolean }[]; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export interface NodeFacts {
  name: string;
  version?: string;
  gpuCount?: number;
  hasGpu: boolean;
  cordoned: boolean;
  ready: boolean;
  migConfig?: string;
  /** Capacity of every nvidia.com/* resource: the MIG layout as the device plugin reports it. */
  migResources: Record<string, string>;
  upgradeState?: string;
  skip?: string;
  owner?: string;
}

export function nodeFacts(n: RawNode): NodeFacts {
  const labels = n.metadata.labels ?? {};
  const g = readGpuLabels(labels);
  const migResources: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.status?.capacity ?? {})) if (k.startsWith('nvidia.com/')) migResources[k] = v;
  const capGpu = Number(n.status?.capacity?.['nvidia.com/gpu'] ?? NaN);
  return {
    name: n.metadata.name,
    ...(g.driverVersion ? { version: g.driverVersion } : {}),
    ...(g.count !== undefined ? { gpuCount: g.count } : Number.isFinite(capGpu) ? { gpuCount: capGpu } : {}),
    hasGpu: g.present || Object.keys(migResources).length > 0,
    cordoned: n.spec?.unschedulable === true,
    ready: (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    ...(labels['nvidia.com/mig.config'] ? { migConfig: labels['nvidia.com/mig.config'] } : {}),
    migResources,
    ...(labels[UPGRADE_STATE] !== undefined ? { upgradeState: labels[UPGRADE_STATE] } : {}),
    ...(labels[UPGRADE_SKIP] !== undefined ? { skip: labels[UPGRADE_SKIP] } : {}),
    ...(labels[DRIVER_OWNER] ? { owner: labels[DRIVER_OWNER] } : {}),
  };
}

export function readNode(api: RolloutApi, name: string): Promise<RawNode> {
  return api.json<RawNode>(`/api/v1/nodes/${encodeURIComponent(name)}`, { action: `read node ${name}` });
}

/**
 * Pods a drain evicts: not DaemonSet pods or mirror pods (kubectl drain
 * ignores those too), not the GPU Operator's own operands (the operator
 * manages them through the upgrade), not pods already finished or going.
 */
export function evictable(p: RawPod): boolean {
  if (p.metadata.deletionTimestamp) return false;
  if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return false;
  if (p.metadata.annotations?.['kubernetes.io/config.mirror']) return false;
  if ((p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet')) return false;
  if (p.metadata.labels?.['app.kubernetes.io/part-of'] === 'gpu-operator') return false;
  return true;
}

export function ownerOf(p: RawPod): string | undefined {
  const o = (p.metadata.ownerReferences ?? []).find((r) => r.controller) ?? p.metadata.ownerReferences?.[0];
  return o ? `${o.kind}/${o.name}` : undefined;
}

export async function podsOn(api: RolloutApi, node: string): Promise<RawPod[]> {
  const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${node}` });
  const list = await api.json<{ items?: RawPod[] }>(`/api/v1/pods?${q}`, { action: `list the pods on ${node}` });
  return list.items ?? [];
}

export interface RawPdb {
  metadata: { name: string; namespace: string };
  spec?: { selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } };
  status?: { disruptionsAllowed?: number };
}

export async function listPdbs(api: RolloutApi, namespace?: string): Promise<RawPdb[]> {
  const version = await api.policyVersion();
  const path = namespace ? `/apis/${version}/namespaces/${namespace}/poddisruptionbudgets` : `/apis/${version}/poddisruptionbudgets`;
  const list = await api.json<{ items?: RawPdb[] }>(path, { action: 'list PodDisruptionBudgets' });
  return list.items ?? [];
}

/** Label-selector semantics of a PDB: an empty selector matches nothing (policy/v1beta1) to stay on the safe side of "would block". */
export function pdbSelects(pdb: RawPdb, pod: RawPod): boolean {
  if (pdb.metadata.namespace !== pod.metadata.namespace) return false;
  const sel = pdb.spec?.selector;
  if (!sel || (!sel.matchLabels && !sel.matchExpressions)) return false;
  const labels = pod.metadata.labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const v = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && (v === undefined || !values.includes(v))) return false;
    if (e.operator === 'NotIn' && v !== undefined && values.includes(v)) return false;
    if (e.operator === 'Exists' && v === undefined) return false;
    if (e.operator === 'DoesNotExist' && v !== undefined) return false;
  }
  return true;
}
