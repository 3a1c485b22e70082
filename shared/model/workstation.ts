// GPU workstations: long-lived interactive environments (a container image,
// a full GPU or a MIG slice, a persistent home volume), kept as a Kubeflow
// Notebook where that API exists, else as Tessera's own StatefulSet + PVC +
// Service labelled `tessera.dev/workstation`.

/** Labels and annotations Tessera puts on what it creates, so it finds them again. */
export const WS_LABEL = 'tessera.dev/workstation';
export const WS_ANNOTATIONS = {
  /** The workstation's spec as JSON (on the workload, and on each snapshot). */
  spec: 'tessera.dev/workstation-spec',
  /** GPU-seconds used by runs that have ended (a running one is added live). */
  gpuSeconds: 'tessera.dev/gpu-seconds',
  owner: 'tessera.dev/owner',
  /** Kubeflow's stop annotation (its value is the time of the stop). */
  notebookStopped: 'kubeflow-resource-stopped',
  /** On a snapshot: which workstation and volume it was cut from. */
  snapshotOf: 'tessera.dev/snapshot-of',
  /**
   * On the workstation's pod: since when its GPUs have been below the idle
   * threshold (written by Tessera's idle watcher, removed when they are busy
   * again). On the pod, not the Notebook: the notebook controller copies a
   * Notebook's annotations into the pod template, so writing there would
   * restart the pod.
   */
  idleSince: 'tessera.dev/gpu-idle-since',
  /** On the workload: why it was stopped when something other than its owner stopped it (the idle policy). */
  stoppedReason: 'tessera.dev/stopped-reason',
} as const;

/**
 * A team's idle policy: annotations an admin sets on the team's namespace
 * (`kubectl annotate ns team-a tessera.dev/ws-idle-after=2h
 * tessera.dev/ws-idle-action=stop`). On the namespace because team members can
 * edit objects in it but not the namespace itself, so the policy stays the
 * admin's. Without them Tessera only flags, after IDLE_DEFAULTS.
 */
export const IDLE_POLICY_ANNOTATIONS = {
  /** GPU activity (percent, 0-100) below which a workstation counts as idle; default 5. */
  belowPct: 'tessera.dev/ws-idle-gpu-below',
  /** How long it must stay below: 90s, 30m, 2h, 1d; default 30m. */
  after: 'tessera.dev/ws-idle-after',
  /** flag (default) or stop. */
  action: 'tessera.dev/ws-idle-action',
} as const;

export interface IdlePolicy {
  belowPct: number;
  afterSeconds: number;
  action: 'flag' | 'stop';
  /** Where it came from: the namespace's annotations, or Tessera's defaults. */
  source: 'namespace' | 'default';
  /** Why a namespace's annotations were ignored (a typo an admin should fix). */
  problem?: string;
}

export const IDLE_DEFAULTS: IdlePolicy = { belowPct: 5, afterSeconds: 1800, action: 'flag', source: 'default' };

export interface WorkstationIdle {
  /** Since when its GPUs have been below the policy's threshold. */
  since: string;
  seconds: number;
  /** Idle for longer than the policy allows. */
  flagged: boolean;
  policy: IdlePolicy;
}

/** A local port-forward to a workstation's IDE, guarded by a per-forward token. */
export interface IdeForward {
  id: string;
  clusterId: string;
  namespace: string;
  name: string;
  pod: string;
  /** The IDE's port in the container. */
  remotePort: number;
  /** 127.0.0.1:<localPort> */
  localPort: number;
  /** The URL to open, token included (the first visit trades it for a cookie). */
  url: string;
  openedAt: string;
  /** Requests and WebSocket connections carried so far. */
  requests: number;
}

export type WorkstationGpu = { kind: 'none' } | { kind: 'full'; count: number } | { kind: 'mig'; profile: string; count: number };

export interface EnvVar {
  name: string;
  value: string;
}

/** What a workstation is made from: the create form, a template, and what a snapshot keeps. */
export interface WorkstationSpec {
  name: string;
  namespace: string;
  image: string;
  gpu: WorkstationGpu;
  /** Kubernetes quantities, e.g. "4" and "16Gi". */
  cpu: string;
  memory: string;
  volumeSize: string;
  /** Default storage class when absent. */
  storageClass?: string;
  env?: EnvVar[];
  /** A GPU product (nvidia.com/gpu.product label value) the pod must land on. */
  nodePool?: string;
  /** The IDE's port in the container (8888 for JupyterLab). */
  port?: number;
}

export type WorkstationState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'pending-no-capacity';

export interface WorkstationVolume {
  claim: string;
  phase?: string;
  size?: string;
  storageClass?: string;
}

export interface Workstation {
  clusterId: string;
  namespace: string;
  name: string;
  /** How it is kept in the cluster. */
  kind: 'notebook' | 'statefulset';
  owner?: string;
  state: WorkstationState;
  /** Why it is in that state: the scheduler's message when no capacity, a container's waiting reason. */
  reason?: string;
  spec: WorkstationSpec;
  /** "1× nvidia.com/gpu", "1× 1g.10gb", or "none". */
  gpuLabel: string;
  node?: string;
  pod?: string;
  createdAt?: string;
  ageSeconds: number;
  /** When the current run started (pod start), while running. */
  runningSince?: string;
  gpuHours: number;
  volume?: WorkstationVolume;
  /** Kubeflow's last-activity annotation when present. */
  lastActivity?: string;
  /** Its GPUs have been quiet since... (only while running with a GPU). */
  idle?: WorkstationIdle;
  /** Why it was stopped, when the idle policy (or another automatic stop) did it. */
  stoppedReason?: string;
  /** Its namespace's idle policy, as read with the list. */
  idlePolicy?: IdlePolicy;
}

export interface WorkstationSnapshot {
  clusterId: string;
  namespace: string;
  name: string;
  /** The workstation it was cut from, when Tessera made it. */
  workstation?: string;
  sourceClaim?: string;
  className?: string;
  readyToUse: boolean;
  restoreSize?: string;
  createdAt?: string;
  error?: string;
  /** The workstation's spec at snapshot time (from the annotation). */
  spec?: WorkstationSpec;
}

/** Where a GPU choice can be met right now, from the node inventory. */
export interface GpuOffer {
  /** "full" or the MIG profile. */
  kind: 'full' | 'mig';
  profile?: string;
  /** GPU model (H100-80GB...) and node pool (gpu.product). */
  model: string;
  pool: string;
  /** Devices free now, and on how many nodes. */
  free: number;
  nodes: number;
}

/** A saved form: a workstation's spec without where it goes (name is the template's own). */
export interface WorkstationTemplate extends Omit<WorkstationSpec, 'namespace'> {
  description?: string;
  updatedAt?: string;
}

/** A refusal reason of a quota check, naming the quota. */
export interface QuotaProblem {
  quota: string;
  resource: string;
  hard: string;
  used: string;
  requested: string;
}

export function gpuLabel(g: WorkstationGpu): string {
  if (g.kind === 'none') return 'none';
  if (g.kind === 'full') return `${g.count}× GPU`;
  return `${g.count}× ${g.profile}`;
}

/** The extended resource a GPU choice asks for. */
export function gpuResource(g: WorkstationGpu): { name: string; count: number } | undefined {
  if (g.kind === 'none') return undefined;
  return g.kind === 'full' ? { name: 'nvidia.com/gpu', count: g.count } : { name: `nvidia.com/mig-${g.profile}`, count: g.count };
}
