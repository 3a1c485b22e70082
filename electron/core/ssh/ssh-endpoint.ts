/** Who to connect to and how to prove who we are: plain data, no secrets held here except key text the caller chose to pass. */

export type SshAuthMethod =
  /** OpenSSH, PEM, PKCS#8 or PuTTY private key text; encrypted keys ask SshPrompts.passphrase. */
  | { type: 'key'; privateKey: string | Buffer; label?: string }
  /** An ssh-agent socket; defaults to SSH_AUTH_SOCK. */
  | { type: 'agent'; socket?: string }
  /** Asks SshPrompts.password when the server offers password authentication. */
  | { type: 'password' }
  /** Answers the server's prompts through SshPrompts.keyboardInteractive. */
  | { type: 'keyboard-interactive' };

export interface SshEndpoint {
  host: string;
  /** Defaults to 22. */
  port?: number;
  username: string;
  /** Tried in order; methods the server does not offer are skipped. */
  auth: readonly SshAuthMethod[];
}

export interface SshTarget extends SshEndpoint {
  /** ProxyJump hops, nearest first; each is verified and authenticated like the target. */
  jump?: readonly SshEndpoint[];
}

export function portOf(ep: SshEndpoint): number {
  return ep.port ?? 22;
}

export function endpointLabel(ep: SshEndpoint): string {
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `${ep.username}@${host}:${portOf(ep)}`;
}

/** "user@target:port via user@jump1:port,user@jump2:port": also the pool's key, so one chain gets one connection. */
export function targetLabel(t: SshTarget): string {
  const jumps = t.jump ?? [];
  return jumps.length ? `${endpointLabel(t)} via ${jumps.map(endpointLabel).join(',')}` : endpointLabel(t);
}
