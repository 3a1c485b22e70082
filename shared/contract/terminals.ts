import { method, stream } from './define.ts';
import type { ErrorShape } from './errors.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

/**
 * Interactive terminals: SSH shells and pod exec. Keystrokes travel as data
 * for the remote PTY (core never interprets them); the shell is chosen from a
 * fixed list, never sent as text.
 */

/** Session ids are made up by core. */
export const terminalId = s.string({ min: 1, max: 64, pattern: /^t-[A-Za-z0-9_-]+$/, patternHint: 'must be a terminal id (t-…)' });

/** Which shell a pod terminal runs: `auto` tries /bin/bash and falls back to /bin/sh when the container has no bash. */
export type PodShell = 'auto' | 'bash' | 'sh';

export interface TerminalOpened {
  id: string;
  kind: 'ssh' | 'pod';
  /** Short tab title: the host, or namespace/pod. */
  title: string;
  /** One line naming exactly where the shell runs (user@host:port, or cluster · namespace/pod · container). */
  banner: string;
  /** The pod's container the session attached to. */
  container?: string;
}

export type TerminalEvent =
  /** Terminal output, base64 (raw bytes: multi-byte characters may straddle chunks). */
  | { type: 'data'; data: string }
  /** Something the user should see that did not come from the remote side (output dropped, shell fallback). */
  | { type: 'notice'; message: string }
  /** The session is over; no more events follow. */
  | { type: 'exit'; code: number | null; signal?: string; reason: string; error?: ErrorShape };

export interface PodChoice {
  namespace: string;
  name: string;
  node?: string;
  phase: string;
  containers: string[];
}

const sshTarget = s.object({
  address: s.string({ min: 1, max: 253, pattern: /^[A-Za-z0-9.:_\[\]-]+$/, patternHint: 'must be a host name or IP address' }),
  port: s.optional(s.number({ integer: true, min: 1, max: 65535 })),
  user: s.string({ min: 1, max: 64, pattern: /^[A-Za-z0-9._][A-Za-z0-9._-]*$/, patternHint: 'must be a user name' }),
});

export const terminalMethods = {
  'terminals.open': method<TerminalOpened>()(
    s.object({
      kind: s.literal('ssh', 'pod'),
      // kind 'ssh': a saved host, or an explicit address tried with the default keys and the agent.
      hostId: s.optional(s.string({ min: 1, max: 64, pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'must be a host id' })),
      target: s.optional(sshTarget),
      // kind 'pod'
      clusterId: s.optional(clusterId),
      namespace: s.optional(k8sName),
      pod: s.optional(k8sName),
      container: s.optional(s.string({ min: 1, max: 63, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, patternHint: 'must be a container name' })),
      shell: s.optional(s.literal('auto', 'bash', 'sh')),
      cols: s.optional(s.number({ integer: true, min: 2, max: 1000 })),
      rows: s.optional(s.number({ integer: true, min: 1, max: 1000 })),
    }),
    'Open an SSH shell (hostId or target) or a pod exec shell (clusterId, namespace, pod, container?, shell?).',
  ),
  'terminals.input': method<void>()(s.object({ id: terminalId, data: s.string({ max: 65_536 }) }), 'Keystrokes or pasted text for the remote terminal.'),
  'terminals.resize': method<void>()(
    s.object({ id: terminalId, cols: s.number({ integer: true, min: 2, max: 1000 }), rows: s.number({ integer: true, min: 1, max: 1000 }) }),
    'The terminal window changed size.',
  ),
  'terminals.close': method<void>()(s.object({ id: terminalId }), 'End the session (the remote shell gets a hangup).'),
  'terminals.pods': method<PodChoice[]>()(
    s.object({ clusterId, namespace: s.optional(k8sName) }),
    'Running pods and their containers, for the pod picker.',
  ),
};

export const terminalStreams = {
  'terminals.output': stream<TerminalEvent>()(s.object({ id: terminalId }), 'Output of one session, coalesced at a bounded rate, then its exit.'),
};
