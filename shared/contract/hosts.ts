import type { BundleManifest, HostExecResult, HostGpus, HostList, HostsEvent, HostTestResult, ImportResult, OperationInfo, SshHost } from '../model/host.ts';
import { clusterId } from './ids.ts';
import { method, stream } from './define.ts';
import { s } from './schema.ts';

/** Host ids are slugs core made up; nothing else is accepted where one is expected. */
export const hostId = s.string({ min: 1, max: 64, pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'must be a host id (lowercase letters, digits, -)' });

/**
 * The form's fields are checked loosely here (type and size) and precisely in
 * core, which words each problem for the person who typed it.
 */
const hostFields = {
  name: s.string({ min: 1, max: 64 }),
  address: s.string({ min: 1, max: 253 }),
  port: s.optional(s.number({ integer: true })),
  user: s.string({ min: 1, max: 64 }),
  identityFile: s.optional(s.string({ max: 1024 })),
  proxyJump: s.optional(s.array(s.string({ min: 1, max: 300 }), { max: 8 })),
  group: s.optional(s.string({ max: 64 })),
  nodePool: s.optional(s.string({ max: 64 })),
};

export interface HostTrustResult {
  trusted: boolean;
  host: string;
  port: number;
  sha256Fingerprint: string;
}

export interface HostAnswerResult {
  /** Whether the secret was stored in the OS keychain (only when asked to and possible). */
  remembered: boolean;
  note?: string;
}

export interface HostBundleResult {
  filename: string;
  /** The .tar.gz, base64: the contract carries JSON. */
  base64: string;
  manifest: BundleManifest;
}

export interface HostExecRun {
  runId: string;
  operation: string;
  results: HostExecResult[];
}

export const hostMethods = {
  'hosts.list': method<HostList>()(s.object({}), 'Every SSH host Tessera knows, with a notice if the hosts file had to be recovered.'),
  'hosts.add': method<SshHost>()(s.object(hostFields), 'Add a host by hand; every field is validated with a specific message.'),
  'hosts.update': method<SshHost>()(s.object({ id: hostId, ...hostFields }), 'Replace the fields of one host.'),
  'hosts.remove': method<{ removed: string }>()(s.object({ id: hostId }), 'Forget one host (its trusted key stays in Tessera\'s known_hosts).'),
  'hosts.importSshConfig': method<ImportResult>()(
    s.object({ content: s.optional(s.string({ min: 1, max: 1_000_000 })), useDefault: s.optional(s.boolean()), group: s.optional(s.string({ max: 64 })) }),
    'Import hosts from OpenSSH client config text, or from ~/.ssh/config when useDefault is set.',
  ),
  'hosts.importNodes': method<ImportResult>()(
    s.object({ id: clusterId, user: s.string({ min: 1, max: 64 }), identityFile: s.optional(s.string({ max: 1024 })), group: s.optional(s.string({ max: 64 })), proxyJump: s.optional(s.array(s.string({ min: 1, max: 300 }), { max: 8 })) }),
    'Import the nodes of a connected cluster as hosts (InternalIP), with one user and key for the cluster.',
  ),
  'hosts.operations': method<OperationInfo[]>()(s.object({}), 'The named operations hosts.exec may run.'),
  'hosts.test': method<HostTestResult>()(s.object({ id: hostId }), 'Connect (through its jump hosts) and run uname -a; reports the auth method and latency.'),
  'hosts.trust': method<HostTrustResult>()(
    s.object({ host: s.string({ min: 1, max: 253 }), port: s.number({ integer: true, min: 1, max: 65535 }), sha256Fingerprint: s.string({ min: 8, max: 100, pattern: /^SHA256:[A-Za-z0-9+/=]+$/, patternHint: 'must be SHA256:…' }), accept: s.boolean() }),
    'The user\'s decision on a host key first seen by hosts.test; only that exact key is trusted.',
  ),
  'hosts.exec': method<HostExecRun>()(
    s.object({
      ids: s.array(hostId, { max: 500 }),
      operation: s.string({ min: 1, max: 64 }),
      args: s.optional(s.array(s.object({ name: s.string({ min: 1, max: 32 }), value: s.string({ max: 1024 }) }), { max: 16 })),
      sudo: s.optional(s.boolean()),
      concurrency: s.optional(s.number({ integer: true, min: 1, max: 64 })),
      runId: s.optional(s.string({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ })),
    }),
    'Run one named operation on the selected hosts, a few at a time; one result per host.',
  ),
  'hosts.cancel': method<{ cancelled: boolean }>()(s.object({ runId: s.string({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ }) }), 'Stop a running hosts.exec: running commands are killed, hosts not yet started are skipped.'),
  'hosts.answer': method<HostAnswerResult>()(
    s.object({ id: s.string({ min: 1, max: 64 }), secret: s.optional(s.string({ max: 4096 })), remember: s.optional(s.boolean()) }),
    'Answer (or, without a secret, cancel) a prompt from the hosts.events stream.',
  ),
  'hosts.gpus': method<HostGpus>()(
    s.object({ id: hostId }),
    "One host's GPUs now, from nvidia-smi -q -x (the CSV query where the XML cannot be read): model, memory, utilization, temperature, power, MIG, ECC and the processes using each. Changes nothing.",
  ),
  'hosts.bundle': method<HostBundleResult>()(s.object({ id: hostId }), 'Gather a support bundle (.tar.gz) from one host.'),
};

export const hostStreams = {
  'hosts.events': stream<HostsEvent>()(s.object({}), 'Secret prompts (passphrase, password, sudo) and per-host progress of hosts.exec.'),
};
