import type { ErrorShape } from '../contract/errors.ts';

export type AuthKind = 'token' | 'token-file' | 'client-certificate' | 'exec' | 'oidc' | 'auth-provider' | 'basic' | 'none';
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'error';

export interface ClusterHealth {
  reachable: boolean;
  latencyMs?: number;
  serverVersion?: string;
  checkedAt: string;
}

/** Optional APIs Tessera builds on; each lists the versions the server serves. */
export interface ClusterFeatures {
  kserve: string[];
  volumeSnapshot: string[];
  gpuOperator: string[];
  kubeflow: string[];
}

export interface ClusterSummary {
  /** Stable id: `<source>/<context>`. */
  id: string;
  context: string;
  source: string;
  cluster: string;
  server: string;
  user: string;
  namespace?: string;
  authKind: AuthKind;
  isCurrent: boolean;
  /** Configuration facts the user should see, e.g. TLS verification disabled. */
  warnings: string[];
  state: ConnectionState;
  health?: ClusterHealth;
  features?: ClusterFeatures;
  error?: ErrorShape;
  /** When the next reconnect attempt happens (ISO time), while reconnecting. */
  nextRetryAt?: string;
}

export interface KubeconfigSource {
  id: string;
  label: string;
  kind: 'environment' | 'default' | 'imported' | 'cli';
  files: string[];
  error?: ErrorShape;
}

export interface AccessCheck {
  allowed: boolean;
  reason: string;
}
