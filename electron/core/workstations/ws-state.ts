// What a workstation is doing, derived from its workload (Notebook or
// StatefulSet), its pod and its claims. Pure, so every state has a unit test.
import { MIG_MODELS } from '../../../shared/gpu/mig-geometry.ts';
import { gpuLabel, IDLE_DEFAULTS, WS_ANNOTATIONS, WS_LABEL, type IdlePolicy, type Workstation, type WorkstationGpu, type WorkstationSpec, type WorkstationState } from '../../../shared/model/workstation.ts';
import { idleOf } from './ws-idle.ts';
import { HOME_VOLUME, POOL_LABEL, type KubeObject } from './ws-objects.ts';

/** Container waiting reasons that will not clear on their own. */
const STUCK = new Set(['CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** The pod spec inside a workload of either kind. */
export function templateSpec(workload: KubeObject): KubeObject | undefined {
  return workload.kind === 'Notebook' ? workload.spec?.template?.spec : workload.spec?.template?.spec;
}

/** The claim mounted as the home volume (the volume named "home", else the first claim). */
export function homeClaimOf(workload: KubeObject): string | undefined {
  const vols = (templateSpec(workload)?.volumes ?? []) as KubeObject[];
  const home = vols.find((v) => v.name === HOME_VOLUME && v.persistentVolumeClaim) ?? vols.find((v) => v.persistentVolumeClaim);
  return home?.persistentVolumeClaim?.claimName;
}

export function isStopRequested(workload: KubeObject): boolean {
  if (workload.kind === 'Notebook') return workload.metadata?.annotations?.[WS_ANNOTATIONS.notebookStopped] !== undefined;
  return (workload.spec?.replicas ?? 1) === 0;
}

/** GPU choice read back from a pod template (for Notebooks Tessera did not make). */
export function gpuFromResources(resources: Record<string, string | number> | undefined): WorkstationGpu {
  for (const [k, v] of Object.entries(resources ?? {})) {
    const n = Number(v);
    if (k === 'nvidia.com/gpu' && n > 0) return { kind: 'full', count: n };
    if (k.startsWith('nvidia.com/mig-') && n > 0) return { kind: 'mig', profile: k.slice('nvidia.com/mig-'.length), count: n };
  }
  return { kind: 'none' };
}

/** The spec from Tessera's annotation, else read from the pod template. */
export function specOf(workload: KubeObject): WorkstationSpec {
  const raw = workload.metadata?.annotations?.[WS_ANNOTATIONS.spec];
  if (raw) {
    try {
      const parsed = JSON.parse(raw) as WorkstationSpec;
      if (parsed && typeof parsed.image === 'string' && parsed.gpu) return { ...parsed, name: workload.metadata.name, namespace: workload.metadata.namespace };
    } catch {
      // A hand-edited annotation: fall back to what the template says.
    }
  }
  const c = (templateSpec(workload)?.containers ?? [])[0] ?? {};
  const limits = { ...c.resources?.requests, ...c.resources?.limits } as Record<string, string>;
  const pool = templateSpec(workload)?.nodeSelector?.[POOL_LABEL] as string | undefined;
  return {
    name: workload.metadata.name,
    namespace: workload.metadata.namespace,
    image: c.image ?? '',
    gpu: gpuFromResources(limits),
    cpu: String(limits.cpu ?? ''),
    memory: String(limits.memory ?? ''),
    volumeSize: '',
    env: ((c.env ?? []) as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => ({ name: e.name, value: e.value! })),
    ...(pool ? { nodePool: pool } : {}),
    ...(c.ports?.[0]?.containerPort ? { port: c.ports[0].containerPort } : {}),
  };
}

/**
 * How much of a GPU the choice is, for GPU-hours: full GPUs count whole, a MIG
 * slice by its share of the GPU's compute slices (1g on an A100 is 1/7).
 */
export function gpuWeight(g: WorkstationGpu): number {
  if (g.kind === 'none') return 0;
  if (g.kind === 'full') return g.count;
  for (const m of MIG_MODELS) {
    const p = m.profiles.find((x) => x.name === g.profile);
    if (p) return (g.count * p.computeSlices) / m.computeSlices;
  }
  return g.count;
}

/** When the current run began: the container's start, else the pod's. */
export function runStart(pod: KubeObject | undefined): string | undefined {
  if (!pod || pod.status?.phase !== 'Running') return undefined;
  return pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? pod.status?.startTime;
}

export function deriveState(workload: KubeObject, pod: KubeObject | undefined): { state: WorkstationState; reason?: string } {
  const stop = isStopRequested(workload);
  if (stop) return pod ? { state: 'stopping', reason: 'waiting for the pod to end' } : { state: 'stopped' };
  if (!pod) return { state: 'starting', reason: 'waiting for the pod to be created' };
  if (pod.metadata?.deletionTimestamp) return { state: 'starting', reason: 'the previous pod is still ending' };
  const phase = pod.status?.phase;
  if (phase === 'Failed') return { state: 'failed', reason: [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ') || 'the pod failed' };
  const waiting = (pod.status?.containerStatuses ?? []).map((c: KubeObject) => c.state?.waiting).find((w: KubeObject | undefined) => w && STUCK.has(w.reason));
  if (waiting) return { state: 'failed', reason: [waiting.reason, waiting.message].filter(Boolean).join(': ') };
  if (phase === 'Running') {
    const ready = (pod.status?.conditions ?? []).find((c: KubeObject) => c.type === 'Ready');
    return ready && ready.status !== 'True' ? { state: 'starting', reason: 'the container is not ready yet' } : { state: 'running' };
  }
  const sched = (pod.status?.conditions ?? []).find((c: KubeObject) => c.type === 'PodScheduled');
  // Right after create the claim may not be bound yet: that is a wait for storage, not for GPUs.
  if (sched?.status === 'False' && /unbound immediate PersistentVolumeClaims/.test(sched.message ?? '') && !/Insufficient/.test(sched.message ?? '')) return { state: 'starting', reason: 'waiting for its volume to be bound' };
  if (sched?.status === 'False' && sched.reason === 'Unschedulable') return { state: 'pending-no-capacity', reason: sched.message ?? 'no node has room for it' };
  return { state: 'starting', reason: pod.spec?.nodeName ? `starting on ${pod.spec.nodeName}` : 'waiting for the scheduler' };
}

export interface DeriveInput {
  clusterId: string;
  workload: KubeObject;
  pod?: KubeObject;
  claims: ReadonlyMap<string, KubeObject>;
  now: number;
  /** The namespace's idle policy (defaults when absent). */
  policy?: IdlePolicy;
}

export function deriveWorkstation({ clusterId, workload, pod, claims, now, policy }: DeriveInput): Workstation {
  const spec = specOf(workload);
  const md = workload.metadata ?? {};
  const { state, reason } = deriveState(workload, pod);
  const claimName = homeClaimOf(workload);
  const claim = claimName ? claims.get(`${md.namespace}/${claimName}`) : undefined;
  if (claim && !spec.volumeSize) spec.volumeSize = claim.spec?.resources?.requests?.storage ?? '';
  if (claim?.spec?.storageClassName && !spec.storageClass) spec.storageClass = claim.spec.storageClassName;
  const since = runStart(pod);
  const past = Number(md.annotations?.[WS_ANNOTATIONS.gpuSeconds] ?? 0) || 0;
  const live = since ? Math.max(0, (now - Date.parse(since)) / 1000) * gpuWeight(spec.gpu) : 0;
  const created = md.creationTimestamp as string | undefined;
  const owner = md.annotations?.[WS_ANNOTATIONS.owner] ?? md.annotations?.['notebooks.kubeflow.org/creator'];
  const lastActivity = md.annotations?.['notebooks.kubeflow.org/last-activity'];
  // Idle only means something while it runs with a GPU; the marker lives on the pod, so a new run starts busy.
  const idle = state === 'running' && spec.gpu.kind !== 'none' ? idleOf(policy ?? IDLE_DEFAULTS, pod?.metadata?.annotations?.[WS_ANNOTATIONS.idleSince], now) : undefined;
  const stoppedReason = state === 'stopped' || state === 'stopping' ? (md.annotations?.[WS_ANNOTATIONS.stoppedReason] as string | undefined) : undefined;
  return {
    clusterId,
    namespace: md.namespace,
    name: md.name,
    kind: workload.kind === 'Notebook' ? 'notebook' : 'statefulset',
    ...(owner ? { owner } : {}),
    state,
    ...(reason ? { reason } : {}),
    spec,
    gpuLabel: gpuLabel(spec.gpu),
    ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(pod ? { pod: pod.metadata.name } : {}),
    ...(created ? { createdAt: created } : {}),
    ageSeconds: created ? Math.max(0, Math.round((now - Date.parse(created)) / 1000)) : 0,
    ...(since ? { runningSince: since } : {}),
    // Kept to the GPU-second: a short run must not round away to nothing (views format it).
    gpuHours: (past + live) / 3600,
    ...(claimName ? { volume: { claim: claimName, ...(claim?.status?.phase ? { phase: claim.status.phase } : {}), ...(claim?.status?.capacity?.storage ? { size: claim.status.capacity.storage } : {}), ...(claim?.spec?.storageClassName ? { storageClass: claim.spec.storageClassName } : {}) } } : {}),
    ...(lastActivity ? { lastActivity } : {}),
    ...(idle ? { idle } : {}),
    ...(stoppedReason ? { stoppedReason } : {}),
    ...(policy ? { idlePolicy: policy } : {}),
  };
}

/** Which pods belong to which workstation: `<name>-0` of the StatefulSet, by label. */
export function workstationLabelOf(pod: KubeObject): string | undefined {
  return pod.metadata?.labels?.[WS_LABEL] ?? pod.metadata?.labels?.['notebook-name'];
}
