import type { MigPartedEntry } from '../gpu/mig-parted.ts';
import type { PodRef } from './node.ts';

/** Where the cluster's MIG manager reads its configs, and what they are. */
export interface MigConfigSet {
  /** The ConfigMap the ClusterPolicy's MIG manager points at. */
  active: { namespace: string; name: string };
  /** Tessera's own ConfigMap (never the operator's default one). */
  own: { namespace: string; name: string; exists: boolean };
  /** The ClusterPolicy that names the active ConfigMap, when the operator runs. */
  clusterPolicy?: string;
  /** Configs the MIG manager can apply right now, by name. */
  configs: Record<string, MigPartedEntry[]>;
  /** Configs kept in Tessera's ConfigMap (a subset of configs once the policy points at it). */
  custom: string[];
  problems: string[];
}

export type MigNodeStep =
  | 'queued'
  | 'draining'
  | 'labelled'
  | 'pending'
  | 'rebooting'
  | 'waiting-allocatable'
  | 'succeeded'
  | 'skipped'
  | 'failed'
  | 'timed-out'
  | 'cancelled'
  | 'refused';

export interface MigNodeProgress {
  node: string;
  config: string;
  /** The node's mig.config before this apply: what "return to the previous config" sets. */
  previousConfig?: string;
  step: MigNodeStep;
  since: string;
  /** mig.config.state as last read from the node. */
  state?: string;
  message?: string;
  /** GPU pods on the node when it was checked (why it was refused or drained). */
  pods?: PodRef[];
  /** What the node reported on failure: events, MIG manager log lines. */
  report?: string[];
}

export interface MigApplyJob {
  applyId: string;
  cluster: string;
  startedAt: string;
  finishedAt?: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  maxParallel: number;
  drain: boolean;
  nodes: MigNodeProgress[];
}

export interface MigNodeCheck {
  node: string;
  product?: string;
  model?: string;
  migConfig?: string;
  migConfigState?: string;
  unschedulable: boolean;
  /** GPU pods that would lose their device. */
  pods: PodRef[];
  problems: string[];
}

export interface MigPermission {
  what: string;
  allowed: boolean;
  reason: string;
}

export interface MigCheck {
  nodes: MigNodeCheck[];
  permissions: MigPermission[];
  /** The ClusterPolicy must be pointed at Tessera's ConfigMap for a custom config. */
  needsPolicyChange: boolean;
  configs: MigConfigSet;
}

/** The outcome of an apply over SSH, as the renderer and CLI see it. */
export interface MigSshApplyView {
  ok: boolean;
  target: string;
  refused?: { reason: string; problems: string[] };
  unchanged?: boolean;
  failed?: { step: string; gpu?: number; message: string; output: string };
  steps: { name: string; gpu?: number; command: string; exitCode: number | null; durationMs: number; ok: boolean; message?: string }[];
  /** Per GPU: what the host reports after the apply, and how it differs from the plan. */
  after: { gpu: number; layout: { profile: string; start: number }[] }[] | null;
  mismatches: { gpu: number; missing: string[]; unexpected: string[] }[];
}
