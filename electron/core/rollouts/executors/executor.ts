/** What the per-node procedure needs from whatever installs drivers (GPU Operator, SSH recipe). */
export interface ExecutorContext {
  /** Lines kept with the node's progress: operator states seen, commands run and their output. */
  log(line: string): void;
  signal: AbortSignal;
  timeoutMs: number;
  stallMs: number;
}

/** A driver version as the executor itself reads it (e.g. nvidia-smi over SSH), with how it was read. */
export interface VersionReport {
  version?: string;
  detail: string;
}

import type { RawNode } from '../node-facts.ts';
import type { XidReading } from '../xid-gate.ts';

export interface UpgradeExecutor {
  readonly kind: 'gpu-operator' | 'ssh';
  /** Once per driving console, before any node: e.g. hold every node with the operator's skip label. */
  /** Returns the nodes it newly put on hold. */
  prepare?(nodes: string[], log: (line: string) => void): Promise<string[]>;
  /** After success: lifts the holds prepare() added on nodes now in sync. */
  release?(nodes: string[], log: (line: string) => void): Promise<void>;
  /** The node as a watch the executor keeps has it (fresh to within a watch event), or undefined: callers then read it. */
  cachedNode?(node: string): RawNode | undefined;
  /** When this console stops driving: finishes writes still in flight, closes watches the executor opened. */
  close?(): Promise<void>;
  /** Moves one node (cordoned and drained already) to `version`; resolves when the executor says it is there. Idempotent. */
  upgrade(node: string, version: string, ctx: ExecutorContext): Promise<void>;
  /**
   * The driver version gate reads this instead of the node's label when present: an SSH install does not go through
   * the GPU Operator, so nothing updates the node's driver labels.
   */
  reportedVersion?(node: string, log: (line: string) => void, signal?: AbortSignal): Promise<VersionReport>;
  /** The last XID per GPU, for the xid gate; undefined when the node has no source (then `noXidSource` says why), an error when it cannot be read. */
  readXids?(node: string, signal?: AbortSignal): Promise<XidReading | undefined>;
  readonly noXidSource?: string;
  /** Before anything starts: why some of these nodes cannot be upgraded by this executor (no SSH host, no recipe), one line each. */
  unready?(nodes: string[]): Promise<string[]>;
}
