/**
 * One authenticated SSH connection to a target, possibly through ProxyJump
 * hops. Each hop is a separate ssh2 Client whose transport is a direct-tcpip
 * channel of the previous hop, so every hop's host key is checked against the
 * same trust store and nothing reaches the target except through the jump
 * host. Host key verification is always on: an unknown or changed key fails
 * the connection with an error the UI can act on.
 */
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client, ClientChannel } from 'ssh2';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { keyTypeOf } from './key-blob.ts';
import type { HostKeyVerdict, HostKeyVerifier } from './known-hosts.ts';
import { prepareAuth } from './ssh-auth.ts';
import type { KeyCache, SshPrompts } from './ssh-auth.ts';
import { endpointLabel, portOf, targetLabel } from './ssh-endpoint.ts';
import type { SshEndpoint, SshTarget } from './ssh-endpoint.ts';
import { authError, connectError, forwardError, hostKeyError, lostError } from './ssh-errors.ts';
import { HandshakeClock } from './handshake-clock.ts';
import { ChannelSlots } from './channel-slots.ts';
import { hostKeyAlgorithms } from './host-key-algorithms.ts';
import type { Ssh2Error } from './ssh-errors.ts';

export interface SshConnectOptions {
  hostKeys: HostKeyVerifier;
  prompts?: SshPrompts;
  /** Per hop, from TCP connect to authenticated; time spent waiting on a prompt does not count. */
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared dead. */
  keepaliveCountMax?: number;
  /** ssh-agent socket for `{ type: 'agent' }` without its own; defaults to SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** OpenSSH allows 10 sessions per connection (MaxSessions); more channels wait for a free one. */
  maxChannels?: number;
}

/** ssh2's message once every method has been tried. */
const FINAL_AUTH_FAILURE = /All configured authentication methods failed/;

/** The method each hop's server accepted, for "connected with publickey (…)" reports. */
const authUsed = new WeakMap<Client, string>();

/**
 * A fast command's exit-status can arrive in the same TCP chunk as the reply
 * that opens its channel (common through jump hosts); ssh2 then emits 'exit'
 * before a caller awaiting the channel can listen. It is recorded here from
 * the first moment, so no caller loses it.
 */
const exitStatus = new WeakMap<ClientChannel, { code: number | null; signal?: string }>();

export function exitStatusOf(channel: ClientChannel): { code: number | null; signal?: string } | undefined {
  return exitStatus.get(channel);
}

export const DEFAULTS = { readyTimeoutMs: 20_000, keepaliveIntervalMs: 15_000, keepaliveCountMax: 3, maxChannels: 8 } as const;

export class SshConnection {
  readonly label: string;
  private open = true;
  private reason: TesseraError | null = null;
  private readonly listeners = new Set<(reason: TesseraError | null) => void>();
  private readonly slots: ChannelSlots;

  private constructor(
    readonly target: SshTarget,
    private readonly clients: Client[],
    maxChannels: number,
  ) {
    this.label = targetLabel(target);
    this.slots = new ChannelSlots(maxChannels);
    const last = clients.length - 1;
    clients.forEach((client, i) => {
      const hop = i === last ? target : target.jump![i]!;
      client.on('error', (err: Ssh2Error) => {
        // Agent trouble does not end a connection; anything else is why it is about to close.
        if (err.level !== 'agent') this.reason ??= lostError(err, endpointLabel(hop));
      });
      client.on('close', () => this.closed(i === last ? null : `jump host ${endpointLabel(hop)} went away`));
    });
  }

  static async open(target: SshTarget, opts: SshConnectOptions): Promise<SshConnection> {
    const hops: SshEndpoint[] = [...(target.jump ?? []), target];
    const clients: Client[] = [];
    const keyCache: KeyCache = new Map();
    try {
      let via: Duplex | undefined;
      for (let i = 0; i < hops.length; i++) {
        if (i > 0) via = await forward(clients[i - 1]!, hops[i - 1]!, hops[i]!);
        clients.push(await openHop(hops[i]!, via, opts, keyCache));
      }
    } catch (err) {
      for (const c of clients.reverse()) c.end();
      if (err instanceof TesseraError && hops.length > 1) {
        throw new TesseraError(err.code, err.message, { ...err.details, target: targetLabel(target) });
      }
      throw err;
    } finally {
      keyCache.clear();
    }
    return new SshConnection(target, clients, opts.maxChannels ?? DEFAULTS.maxChannels);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** How the target (last hop) accepted us, e.g. "publickey (ed25519)" or "agent". */
  get authMethod(): string | null {
    return authUsed.get(this.clients[this.clients.length - 1]!) ?? null;
  }

  /** Why the connection closed when it was not closed by us; null while open or after close(). */
  get closeReason(): TesseraError | null {
    return this.open ? null : this.reason;
  }

  onClose(listener: (reason: TesseraError | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts `command` (already shell-quoted) in a session channel. The channel's 'close' frees its slot. */
  exec(command: string): Promise<ClientChannel> {
    return this.openChannel('a command', 'channel-open-failed', (client, cb) => client.exec(command, cb));
  }

  /**
   * Starts an interactive login shell on a PTY (`pty-req` then `shell`). Resize
   * with channel.setWindow(rows, cols, 0, 0); the channel's 'close' frees its slot.
   */
  shell(pty: { term: string; cols: number; rows: number }): Promise<ClientChannel> {
    return this.openChannel('a shell', 'shell-open-failed', (client, cb) => client.shell({ term: pty.term, cols: pty.cols, rows: pty.rows, width: 0, height: 0 }, cb));
  }

  /** One session channel within the connection's channel slots, with the errors a caller can act on. */
  private async openChannel(what: string, reason: string, start: (client: Client, cb: (err: Error | undefined, ch: ClientChannel) => void) => void): Promise<ClientChannel> {
    await this.slots.take();
    const client = this.clients[this.clients.length - 1]!;
    try {
      if (!this.open) throw this.reason ?? new TesseraError('SSH_DISCONNECTED', `connection to ${this.label} is closed`, { host: this.label });
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        try {
          start(client, (err, ch) => {
            if (err) return reject(err);
            ch.once('exit', (code: number | null, signal?: string) => exitStatus.set(ch, { code: typeof code === 'number' ? code : null, ...(signal ? { signal } : {}) }));
            resolve(ch);
          });
        } catch (err) {
          reject(err);
        }
      });
      channel.once('close', () => this.slots.give());
      return channel;
    } catch (err) {
      this.slots.give();
      if (err instanceof TesseraError) throw err;
      if (!this.open) throw this.reason ?? new TesseraError('SSH_DISCONNECTED', `connection to ${this.label} closed`, { host: this.label });
      throw new TesseraError('COMMAND_FAILED', `${this.label} refused to start ${what}: ${(err as Error).message}`, { host: this.label, reason });
    }
  }

  close(): void {
    if (!this.open) return;
    this.reason = null;
    this.closed(null, true);
  }

  private closed(why: string | null, byUs = false): void {
    if (!this.open) return;
    this.open = false;
    if (!byUs) this.reason ??= new TesseraError('SSH_DISCONNECTED', why ? `connection to ${this.label} lost: ${why}` : `${this.label} closed the connection`, { host: this.label });
    for (const c of [...this.clients].reverse()) c.end();
    for (const l of this.listeners) l(byUs ? null : this.reason);
    this.listeners.clear();
  }
}

async function openHop(ep: SshEndpoint, via: Duplex | undefined, opts: SshConnectOptions, keyCache: KeyCache): Promise<Client> {
  const label = endpointLabel(ep);
  const host = ep.host;
  const port = portOf(ep);
  const clock = new HandshakeClock(opts.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs);
  const auth = await prepareAuth(ep, {
    prompts: opts.prompts ?? {},
    agentSocket: opts.agentSocket ?? process.env.SSH_AUTH_SOCK,
    keyCache,
    pauseClock: () => clock.pause(),
    resumeClock: () => clock.resume(),
  });
  const knownTypes = await opts.hostKeys.knownKeyTypes(host, port);
  const client = new ssh2.Client();

  return new Promise<Client>((resolve, reject) => {
    let verdict: HostKeyVerdict | null = null;
    let presented: Buffer | null = null;
    let verifyError: unknown = null;
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clock.stop();
      client.destroy();
      reject(err);
    };
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      authUsed.set(client, auth.tried[auth.tried.length - 1] ?? 'none');
      clock.stop();
      resolve(client);
    });
    client.on('error', (err: Ssh2Error) => {
      if (verdict !== null && verdict !== 'trusted') return fail(hostKeyError(verdict, label, host, port, presented!));
      if (verifyError !== null) return fail(verifyError);
      // ssh2 reports a broken agent or a key that cannot sign, then goes on to the next method: not fatal.
      if (err.level === 'agent' || (err.level === 'client-authentication' && !FINAL_AUTH_FAILURE.test(err.message))) {
        auth.problems.push(err.level === 'agent' ? `ssh-agent: ${err.message}` : err.message);
        return;
      }
      if (err.level === 'client-authentication') return fail(authError(auth, label));
      fail(connectError(err, label));
    });
    client.on('close', () => fail(new TesseraError('SSH_UNREACHABLE', `${label} closed the connection during the SSH handshake`, { host: label })));
    clock.start(() => fail(new TesseraError('SSH_TIMEOUT', `${label} did not complete the SSH handshake within ${clock.limitMs / 1000}s`, { host: label })));
    try {
      client.connect({
        host,
        port,
        username: ep.username,
        ...(via ? { sock: via } : {}),
        // Our clock replaces ssh2's, which cannot pause while the user types a password.
        readyTimeout: 0,
        keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
        keepaliveCountMax: opts.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
        authHandler: auth.handler,
        ...(knownTypes.length ? { algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) as never } } : {}),
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          presented = key;
          const type = keyTypeOf(key);
          if (!type) {
            verifyError = new TesseraError('HOST_KEY_MISMATCH', `${label} presented a malformed host key`, { host, port });
            return verify(false);
          }
          opts.hostKeys.verifyHostKey(host, port, type, key).then(
            (v) => {
              verdict = v;
              verify(v === 'trusted');
            },
            (err) => {
              verifyError = err;
              verify(false);
            },
          );
        },
      });
    } catch (err) {
      fail(new TesseraError('INVALID_REQUEST', `cannot connect to ${label}: ${(err as Error).message}`, { host: label }));
    }
  });
}

function forward(jump: Client, jumpEp: SshEndpoint, next: SshEndpoint): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    try {
      jump.forwardOut('127.0.0.1', 0, next.host, portOf(next), (err, channel) => {
        if (err) reject(forwardError(err as Ssh2Error, endpointLabel(jumpEp), endpointLabel(next)));
        else resolve(channel);
      });
    } catch (err) {
      reject(new TesseraError('SSH_DISCONNECTED', `jump host ${endpointLabel(jumpEp)} went away: ${(err as Error).message}`, { host: endpointLabel(jumpEp) }));
    }
  });
}
