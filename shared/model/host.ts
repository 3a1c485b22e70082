/** SSH hosts as Tessera keeps them: plain data shared by core, CLI and renderer. No secrets live here. */
import type { GpuReport } from './gpu-report.ts';

/** Where a host came from, so a re-import updates it instead of adding a twin. */
export type HostSource =
  | { kind: 'manual' }
  | { kind: 'ssh-config'; alias: string }
  | { kind: 'kubernetes'; cluster: string; node: string };

export interface SshHost {
  /** Stable, lowercase slug chosen by core; the handle every request uses. */
  id: string;
  name: string;
  /** DNS name or IP address. */
  address: string;
  port: number;
  user: string;
  /** Private key file (absolute, ~ already expanded); without it the agent and the default keys are tried. */
  identityFile?: string;
  /** ProxyJump hops, nearest first: a host id from this list or `user@host:port`. */
  proxyJump: string[];
  /** Site or any grouping the user chooses. */
  group?: string;
  nodePool?: string;
  source: HostSource;
}

/** What a person types into the add/edit form (or an import produces). */
export interface HostInput {
  name: string;
  address: string;
  port?: number;
  user: string;
  identityFile?: string;
  proxyJump?: string[];
  group?: string;
  nodePool?: string;
}

export interface HostList {
  hosts: SshHost[];
  /** Set when the hosts file was unreadable and was kept aside (what happened, where the old file is). */
  notice?: string;
}

export interface ImportResult {
  added: SshHost[];
  updated: SshHost[];
  skipped: { name: string; reason: string }[];
}

/** A named operation the hosts may run, as the UI offers it. */
export interface OperationInfo {
  name: string;
  description: string;
  params: { name: string; description: string; optional: boolean }[];
  sudo: boolean;
}

export interface HostKeyInfo {
  /** The hop that presented the key (a jump host or the target). */
  host: string;
  port: number;
  keyType: string;
  sha256Fingerprint: string;
}

export interface HostMismatchInfo extends HostKeyInfo {
  expected: { type: string; sha256Fingerprint: string; source: string }[];
}

export type HostTestResult =
  | { hostId: string; ok: true; authMethod: string; latencyMs: number; connectMs: number; uname: string; via: string[] }
  | {
      hostId: string;
      ok: false;
      error: { code: string; message: string; details?: Record<string, unknown> };
      /** First contact: the key awaits the user's decision through hosts.trust. */
      unknownKey?: HostKeyInfo;
      /** The key changed: refused, no way to bypass it from here. */
      mismatch?: HostMismatchInfo;
    };

export interface HostExecResult {
  hostId: string;
  name: string;
  ok: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
  error?: { code: string; message: string };
}

export interface BundleEntry {
  file: string;
  operation: string;
  command: string;
  exitCode: number | null;
  durationMs: number;
  bytes: number;
  error?: string;
}

export interface BundleManifest {
  host: { id: string; name: string; address: string; port: number };
  createdAt: string;
  tesseraVersion: string;
  entries: BundleEntry[];
  /** GPUs our nvidia-smi XML parser read from the capture; null when it could not be read. */
  gpusParsed: number | null;
}

/** Something core needs from the person at the keyboard; answered with hosts.answer. */
export interface SecretPromptEvent {
  type: 'prompt';
  id: string;
  kind: 'passphrase' | 'password' | 'sudo' | 'keyboard-interactive';
  /** Plain words for the dialog, e.g. "Passphrase for ~/.ssh/id_ed25519". */
  message: string;
  attempt: number;
  /** Whether "remember" can work here (false in the headless host). */
  canRemember: boolean;
  rememberNote?: string;
}

export interface PromptClosedEvent {
  type: 'prompt-closed';
  id: string;
}

export interface ExecProgressEvent {
  type: 'exec-progress';
  runId: string;
  hostId: string;
  ok: boolean;
}

export type HostsEvent = SecretPromptEvent | PromptClosedEvent | ExecProgressEvent;

/** hosts.gpus: what nvidia-smi on the host says now. */
export interface HostGpus {
  hostId: string;
  /** ISO time the report was read. */
  readAt: string;
  report: GpuReport;
}
