// The audit trail's record types: shared so the contract and the audit page use the same shape.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type AuditOutcome = 'started' | 'succeeded' | 'failed' | 'cancelled';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['started', 'succeeded', 'failed', 'cancelled'];

export interface AuditActor {
  osUser: string;
  host: string;
  /** The Kubernetes identity the change was made as, when one is known. */
  kubeUser?: string;
}

export interface AuditTarget {
  kind: string;
  namespace?: string;
  name: string;
}

export interface AuditErrorInfo {
  code?: string;
  message: string;
}

/** Stands in for a value too large to keep; the digest still lets a holder of the value prove it. */
export type AuditDroppedValue = {
  $audit: 'dropped';
  reason: string;
  bytes: number;
  sha256: string;
};

export interface AuditEntry {
  /** 1-based, gap-free and monotonic across every file of the log. */
  seq: number;
  id: string;
  time: string;
  actor: AuditActor;
  cluster?: string;
  action: string;
  targets: AuditTarget[];
  params: JsonValue;
  before?: JsonValue;
  after?: JsonValue;
  outcome: AuditOutcome;
  error?: AuditErrorInfo;
  durationMs?: number;
  /** The id of the 'started' entry that this entry ends. */
  correlationId?: string;
  prevHash: string;
  hash: string;
}

/** First line of every file: where the chain comes from. */
export interface AuditHeader {
  type: 'header';
  version: 1;
  /** Name of the file this one continues, or null for the first file of the log. */
  prevFile: string | null;
  prevHash: string;
  /** Seq of the last entry before this file (0 for the first file). */
  prevSeq: number;
  createdAt: string;
}

/** What a caller supplies; the log fills in seq, id, time, actor and the hashes. */
export interface AuditInput {
  action: string;
  outcome: AuditOutcome;
  cluster?: string;
  targets?: AuditTarget[];
  params?: unknown;
  before?: unknown;
  after?: unknown;
  /** An Error, a TesseraError, an ErrorShape or a message. */
  error?: unknown;
  durationMs?: number;
  correlationId?: string;
  /** Per-entry actor details, e.g. the Kubernetes user of the cluster acted on. */
  actor?: Partial<AuditActor>;
}

export const AUDIT_FORMAT_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);

export function isAuditHeader(v: unknown): v is AuditHeader {
  const h = v as AuditHeader;
  return typeof v === 'object' && v !== null && h.type === 'header' && typeof h.prevHash === 'string' && Number.isInteger(h.prevSeq);
}

export function isAuditEntry(v: unknown): v is AuditEntry {
  const e = v as AuditEntry;
  return (
    typeof v === 'object' &&
    v !== null &&
    !('type' in v) &&
    Number.isInteger(e.seq) &&
    typeof e.hash === 'string' &&
    typeof e.prevHash === 'string' &&
    typeof e.time === 'string' &&
    typeof e.action === 'string' &&
    typeof e.outcome === 'string' &&
    Array.isArray(e.targets) &&
    typeof e.actor === 'object' &&
    e.actor !== null
  );
}
