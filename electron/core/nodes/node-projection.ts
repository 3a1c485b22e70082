import { deriveNodeGpu, podGpuResources } from '../../../shared/gpu/node-gpu.ts';
import type { PodDevices } from '../../../shared/gpu/node-devices.ts';
import type { NodeRow, PodRef } from '../../../shared/model/node.ts';
import type { RawObject } from '../kube/list-watch.ts';

/** What Tessera keeps of a Node: labels it reads, resources, and a few status fields. */
export interface NodeSlim {
  name: string;
  labels: Record<string, string>;
  allocatable: Record<string, string>;
  capacity: Record<string, string>;
  ready: NodeRow['ready'];
  unschedulable: boolean;
  taints: number;
  internalIP?: string;
  kubeletVersion?: string;
  createdAt?: string;
}

/** What Tessera keeps of a Pod: where it runs, who owns it, and the GPU resources it holds. */
export interface PodSlim {
  nodeName?: string;
  ref: PodRef;
  resources: Record<string, number>;
}

const POOL_LABELS = ['tessera.dev/pool', 'node.kubernetes.io/pool', 'nodepool', 'cloud.google.com/gke-nodepool', 'eks.amazonaws.com/nodegroup', 'agentpool'];

function keepLabel(k: string): boolean {
  return k.startsWith('nvidia.com/') || k.startsWith('node-role.kubernetes.io/') || POOL_LABELS.includes(k);
}

type RawNode = RawObject & {
  metadata?: { name?: string; labels?: Record<string, string>; creationTimestamp?: string };
  spec?: { unschedulable?: boolean; taints?: unknown[] };
  status?: {
    allocatable?: Record<string, string>;
    capacity?: Record<string, string>;
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
    nodeInfo?: { kubeletVersion?: string };
  };
};

function pickResources(r: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r ?? {})) if (k === 'cpu' || k === 'memory' || k === 'pods' || k.startsWith('nvidia.com/')) out[k] = v;
  return out;
}

export function projectNode(raw: RawObject): NodeSlim {
  const n = raw as RawNode;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.metadata?.labels ?? {})) if (keepLabel(k)) labels[k] = v;
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return {
    name: n.metadata?.name ?? '',
    labels,
    allocatable: pickResources(n.status?.allocatable),
    capacity: pickResources(n.status?.capacity),
    ready: ready === 'True' || ready === 'False' ? ready : 'Unknown',
    unschedulable: n.spec?.unschedulable === true,
    taints: n.spec?.taints?.length ?? 0,
    internalIP: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address,
    kubeletVersion: n.status?.nodeInfo?.kubeletVersion,
    createdAt: n.metadata?.creationTimestamp,
  };
}

type RawPod = RawObject & {
  metadata?: { name?: string; namespace?: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec?: { nodeName?: string; containers?: Parameters<typeof podGpuResources>[0] };
};

/** A ReplicaSet named `<deployment>-<hash>` is shown as its Deployment: that is what people recognise. */
export function workloadOf(owners: { kind: string; name: string; controller?: boolean }[] | undefined): string | undefined {
  const o = owners?.find((x) => x.controller) ?? owners?.[0];
  if (!o) return undefined;
  if (o.kind === 'ReplicaSet') {
    const m = /^(.*)-[a-z0-9]{5,10}$/.exec(o.name);
    if (m?.[1]) return `Deployment/${m[1]}`;
  }
  return `${o.kind}/${o.name}`;
}

export function projectPod(raw: RawObject): PodSlim {
  const p = raw as RawPod;
  const ref: PodRef = { namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' };
  const workload = workloadOf(p.metadata?.ownerReferences);
  if (workload) ref.workload = workload;
  return { nodeName: p.spec?.nodeName, ref, resources: podGpuResources(p.spec?.containers) };
}

export function holdsGpu(p: PodSlim): boolean {
  for (const v of Object.values(p.resources)) if (v > 0) return true;
  return false;
}

export function nodeRow(n: NodeSlim, pods: PodDevices[]): NodeRow {
  const roles = Object.keys(n.labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  const pool = POOL_LABELS.map((k) => n.labels[k]).find(Boolean);
  const row: NodeRow = {
    name: n.name,
    ready: n.ready,
    unschedulable: n.unschedulable,
    roles,
    taints: n.taints,
    gpu: deriveNodeGpu(n.labels, n.allocatable, n.capacity, pods),
  };
  if (pool) row.pool = pool;
  if (n.internalIP) row.internalIP = n.internalIP;
  if (n.kubeletVersion) row.kubeletVersion = n.kubeletVersion;
  if (n.createdAt) row.createdAt = n.createdAt;
  return row;
}
