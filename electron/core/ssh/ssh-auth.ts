/**
 * Turns the configured SshAuthMethods into an ssh2 authHandler. Keys are
 * decrypted before the TCP connection opens, so a passphrase prompt does not
 * race the handshake timeout; password and keyboard-interactive prompts happen
 * mid-handshake, and the caller's clock is paused while the user types.
 */
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, ParsedKey, Prompt } from 'ssh2';
import { loadPrivateKey } from './key-material.ts';
import type { PassphrasePrompt } from './key-material.ts';
import type { SshAuthMethod, SshEndpoint } from './ssh-endpoint.ts';
import { portOf } from './ssh-endpoint.ts';

export interface PasswordRequest {
  host: string;
  port: number;
  username: string;
}

export interface KeyboardInteractiveRequest extends PasswordRequest {
  name: string;
  instructions: string;
  prompts: { prompt: string; echo: boolean }[];
}

/** UI callbacks. Each returns null when the user cancels. Answers are passed to ssh2 and dropped. */
export interface SshPrompts {
  passphrase?: PassphrasePrompt;
  password?: (req: PasswordRequest) => Promise<string | null>;
  keyboardInteractive?: (req: KeyboardInteractiveRequest) => Promise<string[] | null>;
}

export interface AuthAttempts {
  handler: AuthHandlerMiddleware;
  /** Methods actually offered to the server, in order, for the error message. */
  tried: string[];
  /** Non-fatal trouble on the way (a dead agent socket), for the error message if nothing works. */
  problems: string[];
  /** What the server said it accepts, once it has said. */
  serverAccepts: () => readonly string[] | null;
  cancelled: () => boolean;
}

/** Decrypted keys for one connect() call, so a chain using one key asks for its passphrase once. */
export type KeyCache = Map<string | Buffer, Promise<ParsedKey>>;

export interface AuthContext {
  prompts: SshPrompts;
  agentSocket: string | undefined;
  keyCache: KeyCache;
  /** Stops the handshake clock while a prompt waits for the user. */
  pauseClock: () => void;
  resumeClock: () => void;
}

type Prepared = { method: SshAuthMethod; key?: ParsedKey };

export async function prepareAuth(ep: SshEndpoint, ctx: AuthContext): Promise<AuthAttempts> {
  const prepared: Prepared[] = [];
  for (const method of ep.auth) {
    if (method.type !== 'key') {
      prepared.push({ method });
      continue;
    }
    let pending = ctx.keyCache.get(method.privateKey);
    if (!pending) {
      pending = withPausedClock(ctx, () => loadPrivateKey({ privateKey: method.privateKey, label: method.label ?? 'private key' }, ctx.prompts.passphrase));
      ctx.keyCache.set(method.privateKey, pending);
    }
    prepared.push({ method, key: await pending });
  }

  const tried: string[] = [];
  const username = ep.username;
  const who: PasswordRequest = { host: ep.host, port: portOf(ep), username };
  let accepts: readonly string[] | null = null;
  let cancelled = false;
  let next = 0;

  const pick = async (methodsLeft: readonly AuthenticationType[] | null): Promise<AnyAuthMethod | false> => {
    while (next < prepared.length) {
      const { method, key } = prepared[next++]!;
      if (methodsLeft && !methodsLeft.includes(wireName(method))) continue;
      switch (method.type) {
        case 'key':
          tried.push(`publickey (${method.label ?? key!.type})`);
          return { type: 'publickey', username, key: key! };
        case 'agent': {
          const socket = method.socket ?? ctx.agentSocket;
          if (!socket) continue;
          tried.push('agent');
          return { type: 'agent', username, agent: socket };
        }
        case 'password': {
          const ask = ctx.prompts.password;
          if (!ask) continue;
          const password = await withPausedClock(ctx, () => ask(who));
          if (password === null) {
            cancelled = true;
            return false;
          }
          tried.push('password');
          return { type: 'password', username, password };
        }
        case 'keyboard-interactive': {
          const ask = ctx.prompts.keyboardInteractive;
          if (!ask) continue;
          tried.push('keyboard-interactive');
          return {
            type: 'keyboard-interactive',
            username,
            prompt: (name: string, instructions: string, _lang: string, prompts: Prompt[], finish: (answers: string[]) => void) => {
              const req = { ...who, name, instructions, prompts: prompts.map((p) => ({ prompt: p.prompt, echo: p.echo === true })) };
              withPausedClock(ctx, () => ask(req)).then(
                (answers) => {
                  if (answers === null) cancelled = true;
                  // An empty answer set makes the server fail this method, which ends authentication cleanly.
                  finish(answers ?? prompts.map(() => ''));
                },
                () => finish(prompts.map(() => '')),
              );
            },
          };
        }
      }
    }
    return false;
  };

  const handler: AuthHandlerMiddleware = (methodsLeft, _partial, done) => {
    if (methodsLeft) accepts = methodsLeft;
    if (cancelled) return done(false as unknown as AnyAuthMethod);
    pick(methodsLeft ?? null).then(
      (m) => done(m as AnyAuthMethod),
      () => done(false as unknown as AnyAuthMethod),
    );
  };
  return { handler, tried, problems: [], serverAccepts: () => accepts, cancelled: () => cancelled };
}

function wireName(m: SshAuthMethod): AuthenticationType {
  return m.type === 'key' || m.type === 'agent' ? 'publickey' : m.type;
}

async function withPausedClock<T>(ctx: AuthContext, fn: () => Promise<T>): Promise<T> {
  ctx.pauseClock();
  try {
    return await fn();
  } finally {
    ctx.resumeClock();
  }
}
