// Driver rollouts: the request a user makes, the plan Tessera shows before it
// starts, and the durable state (kept in a ConfigMap) that any console can
// read, drive, resume or roll back. Shared so the contract, the CLI and the
// rollout page use the same shapes.

/** Which nodes a rollout covers. Exactly one of the three is given. */
export interface RolloutTargets {
  nodes?: string[];
  /** A label selector, `key=value,key2!=v,key3` (equality-based and existence only). */
  selector?: string;
  /** A GPU node pool: the value of `nvidia.com/gpu.product` (e.g. NVIDIA-A100-SXM4-80GB). */
  pool?: string;
}

/** A stage after the canary: a node count or a percentage of all nodes to upgrade. */
export type StageSize = { count: number } | { percent: number };

export type StagePause = { kind: 'none' } | { kind: 'duration'; seconds: number } | { kind: 'approval' };

export type ExecutorSpec =
  /** The GPU Operator's upgrade controller, driven through ClusterPolicy or the node's NVIDIADriver. */
  | { kind: 'gpu-operator' }
  /** A site recipe run over SSH, chosen per node pool from the rollout settings file. */
  | { kind: 'ssh' };

export interface RolloutRequest {
  /** Cluster id (`<source>/<context>`). */
  id: string;
  /** Short human label; the rollout id is derived from it plus a random suffix. */
  name?: string;
  targets: RolloutTargets;
  driverVersion: string;
  executor: ExecutorSpec;
  /** Nodes in the canary stage (default 1; 0 for no canary). */
  canary?: number;
  /** Stages after the canary; whatever nodes remain form one last stage. */
  stages?: StageSize[];
  /** Nodes upgraded at once within a stage (default 1). */
  maxUnavailable?: number;
  pause?: StagePause;
  /** Failures tolerated per stage before the rollout halts (default 0: halt at the first). */
  tolerateFailures?: number;
  /** Roll upgraded nodes back on its own when a stage fails beyond its policy (default true). */
  autoRollback?: boolean;
  /** Per-node limits, seconds. */
  drainTimeoutSeconds?: number;
  upgradeTimeoutSeconds?: number;
  /** An upgrade whose state label does not move for this long is a failure. */
  stallTimeoutSeconds?: number;
  /** How long a console's hold on the rollout lasts without renewal. */
  leaseSeconds?: number;
}

export interface EvictionPreview {
  namespace: string;
  name: string;
  /** Owner kind/name, e.g. `ReplicaSet/train-abc`, so the user sees what will come back elsewhere. */
  owner?: string;
  /** The PDBs that select this pod. */
  pdbs: string[];
}

export interface PdbRisk {
  namespace: string;
  name: string;
  disruptionsAllowed: number;
  /** Target nodes that hold pods it protects. */
  nodes: string[];
}

export interface PlannedNode {
  name: string;
  currentVersion?: string;
  gpuCount?: number;
  cordoned: boolean;
  ready: boolean;
  /** The NVIDIADriver that owns the node (GPU Operator with the NVIDIADriver CRD); absent under ClusterPolicy. */
  driverOwner?: string;
  evictions: EvictionPreview[];
}

export interface PlannedStage {
  index: number;
  /** 'canary' for stage 0 when the plan has one. */
  label: string;
  nodes: string[];
  maxUnavailable: number;
  tolerateFailures: number;
}

export interface SkippedNode {
  name: string;
  reason: 'at-target' | 'not-ready' | 'no-gpu' | 'not-managed' | 'upgrade-in-progress';
  detail: string;
}

export interface RolloutPlan {
  cluster: string;
  driverVersion: string;
  executor: ExecutorSpec;
  stages: PlannedStage[];
  nodes: PlannedNode[];
  skipped: SkippedNode[];
  /** PDBs with disruptionsAllowed 0 covering pods on target nodes: drains there will block. */
  blockingPdbs: PdbRisk[];
  /** Target nodes already cordoned; they stay cordoned after their upgrade. */
  cordoned: string[];
  warnings: string[];
  /** What stops the rollout from starting (an SSH node with no host or no recipe for its pool); start refuses while any is left. */
  blockers?: string[];
  pause: StagePause;
  autoRollback: boolean;
  drainTimeoutSeconds: number;
  upgradeTimeoutSeconds: number;
  stallTimeoutSeconds: number;
  leaseSeconds: number;
}

/**
 * Where one node is in the per-node procedure. Every step is written before
 * it runs (`…ing`) and after (`…ed`), so a console that takes over knows what
 * is done and does not repeat it.
 */
export type NodeStep =
  | 'pending'
  | 'recorded'
  | 'cordoning'
  | 'cordoned'
  | 'draining'
  | 'drained'
  | 'upgrading'
  | 'upgraded'
  | 'verifying'
  | 'verified'
  | 'uncordoning'
  | 'done'
  | 'failed';

export interface GateResult {
  gate: 'driver-version' | 'gpu-count' | 'mig-layout' | 'xid' | 'ready';
  ok: boolean;
  detail: string;
}

export interface NodePhase {
  /** What this phase moves the node to. */
  toVersion: string;
  step: NodeStep;
  /** The step a failed phase was in: before 'upgrading' the driver was never touched. */
  failedAt?: NodeStep;
  startedAt?: string;
  stepAt?: string;
  finishedAt?: string;
  error?: string;
  /** How many times drain completed in this phase (to prove a resumed rollout does not drain twice). */
  drains: number;
  gates?: GateResult[];
  /** The last XID per GPU (index) when this phase began, as the executor's metrics source read it: the xid gate fails on a different one afterwards. */
  xidsBefore?: Record<string, number>;
  /** Why xidsBefore is missing (no metrics source, exporter unreachable). */
  xidsUnread?: string;
  /** When the host had booted at that reading (kernel-log sources): a later boot starts a fresh log, so every XID in it is new. */
  xidsBootedAt?: number;
  /** Executor output kept for the record (SSH commands and their output, operator state walk). */
  log: string[];
}

export interface NodeProgress {
  name: string;
  stage: number;
  /** Recorded before anything changes on the node. */
  before?: { version?: string; cordoned: boolean; gpuCount?: number; migConfig?: string; migResources?: Record<string, string>; skipLabel?: string };
  upgrade: NodePhase;
  rollback?: NodePhase;
}

export type RolloutPhase =
  | 'pending'
  | 'running'
  | 'waiting-approval'
  | 'pausing'
  | 'paused'
  | 'halting'
  | 'rolling-back'
  | 'succeeded'
  | 'failed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'aborted';

/** The order of the per-node procedure; a step's index says what is already done. */
export const NODE_STEPS: readonly NodeStep[] = ['pending', 'recorded', 'cordoning', 'cordoned', 'draining', 'drained', 'upgrading', 'upgraded', 'verifying', 'verified', 'uncordoning', 'done'];

export const FINAL_PHASES: readonly RolloutPhase[] = ['succeeded', 'failed', 'rolled-back', 'rollback-failed', 'aborted'];

export interface RolloutHistoryEntry {
  at: string;
  kind: 'start' | 'stage' | 'node' | 'failure' | 'decision' | 'rollback' | 'lease' | 'finish';
  message: string;
  node?: string;
  stage?: number;
}

/** Requests written by any console; the driving console acts on them. */
export interface RolloutControl {
  pause?: boolean;
  abort?: boolean;
  rollback?: boolean;
  /** Stages the user approved to start (pause kind 'approval'). */
  approvedStages: number[];
}

export interface RolloutState {
  id: string;
  name: string;
  cluster: string;
  createdAt: string;
  createdBy: string;
  plan: RolloutPlan;
  phase: RolloutPhase;
  /** The stage running or last run; -1 before the first. */
  currentStage: number;
  /** When the pause between stages ends (pause kind 'duration'). */
  resumeAt?: string;
  reason?: string;
  nodes: NodeProgress[];
  control: RolloutControl;
  /** Nodes the executor put on hold (operator skip label) that had no hold before: released when the rollout succeeds. */
  held: string[];
  history: RolloutHistoryEntry[];
  /** Who drives it now, from the Lease. */
  holder?: { identity: string; renewedAt?: string; expiresAt?: string; fresh: boolean };
  updatedAt: string;
}

export interface RolloutSummary {
  id: string;
  name: string;
  cluster: string;
  phase: RolloutPhase;
  driverVersion: string;
  createdAt: string;
  updatedAt: string;
  currentStage: number;
  stages: number;
  nodes: { total: number; done: number; failed: number; rolledBack: number };
  holder?: RolloutState['holder'];
}

/** `counts` stands in for the nodes when only the rollout's head was read (lists). */
export function summarizeRollout(s: RolloutState, counts?: RolloutSummary['nodes']): RolloutSummary {
  return {
    id: s.id,
    name: s.name,
    cluster: s.cluster,
    phase: s.phase,
    driverVersion: s.plan.driverVersion,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    currentStage: s.currentStage,
    stages: s.plan.stages.length,
    nodes: counts ?? nodeCounts(s.nodes),
    ...(s.holder ? { holder: s.holder } : {}),
  };
}

export function nodeCounts(nodes: NodeProgress[]): RolloutSummary['nodes'] {
  return {
    total: nodes.length,
    done: nodes.filter((n) => n.upgrade.step === 'done').length,
    failed: nodes.filter((n) => n.upgrade.step === 'failed' || n.rollback?.step === 'failed').length,
    rolledBack: nodes.filter((n) => n.rollback?.step === 'done').length,
  };
}
