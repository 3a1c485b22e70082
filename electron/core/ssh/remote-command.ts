/**
 * Runs one registered operation on a connection: output collected and
 * streamed, a deadline that kills the remote process group, and optional sudo.
 * The sudo password is written to the channel only after sudo prints our
 * one-off prompt, and the command itself reads /dev/null, so the password
 * cannot reach the command or the result even when sudo does not ask for it.
 */
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { defaultRegistry, lookupOperation, operationArgv } from './command-registry.ts';
import type { CommandRegistry } from './command-registry.ts';
import { OutputCapture } from './output-capture.ts';
import { exitStatusOf } from './ssh-connection.ts';
import { shellJoin } from './shell-quote.ts';

/** What runOperation needs from a connection (SshConnection has it). */
export interface CommandHost {
  readonly label: string;
  readonly isOpen: boolean;
  exec(command: string): Promise<ClientChannel>;
}

export interface RunOptions {
  args?: Readonly<Record<string, string>>;
  registry?: CommandRegistry;
  /** Overrides the operation's own timeout; default 30s. */
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Run through `sudo`; the password is used only if the host's sudo asks for one. */
  sudo?: { password?: string };
  /** Throw COMMAND_FAILED when the exit status is not one of the operation's ok codes. */
  check?: boolean;
  /** Per stream; output past it is dropped and the result marked truncated. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface CommandResult {
  operation: string;
  host: string;
  /** The operation's command line (without Tessera's process-group prefix); never contains a password. */
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  truncated: boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** After a kill, how long to wait for the server to close the channel before giving up on it. */
const CLOSE_GRACE_MS = 3_000;

export async function runOperation(host: CommandHost, operation: string, opts: RunOptions = {}): Promise<CommandResult> {
  const registry = opts.registry ?? defaultRegistry;
  const spec = lookupOperation(registry, operation);
  const pipeline = operationArgv(operation, spec, opts.args);
  if (opts.sudo && spec.sudo === 'never') throw new TesseraError('INVALID_REQUEST', `operation "${operation}" may not run through sudo`, { operation });
  const nonce = randomBytes(8).toString('hex');
  // The first command reads /dev/null: only sudo ever reads the channel's stdin.
  const inner = pipeline.map((argv, i) => (i === 0 ? `${shellJoin(argv)} </dev/null` : shellJoin(argv))).join(' | ');
  const prompt = opts.sudo ? `[tessera-sudo:${nonce}]` : null;
  const body = prompt ? shellJoin(['sudo', '-S', '-p', prompt, '--', 'sh', '-c', inner]) : inner;
  // sshd runs the command as a session leader, so the shell's $$ names its process group: what a timeout kills.
  const pidTag = `[tessera-pgid:${nonce}]`;
  const command = `echo ${shellJoin([pidTag])}$$ >&2; ${body}`;
  const timeoutMs = opts.timeoutMs ?? spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const okCodes = spec.okExitCodes ?? [0];
  if (opts.signal?.aborted) throw cancelled(operation, host.label);

  const started = performance.now();
  const channel = await host.exec(command);
  const result = await collect(channel, {
    operation,
    host,
    command: body,
    timeoutMs,
    started,
    prompt,
    pidTag,
    password: opts.sudo?.password,
    maxBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    onStdout: opts.onStdout,
    onStderr: opts.onStderr,
    signal: opts.signal,
  });
  if (opts.check && (result.exitCode === null || !okCodes.includes(result.exitCode))) {
    const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with status ${result.exitCode}`;
    const firstLine = result.stderr.trim().split('\n')[0] ?? '';
    throw new TesseraError('COMMAND_FAILED', `${operation} on ${host.label} ${how}${firstLine ? `: ${firstLine}` : ''}`, {
      operation,
      host: host.label,
      exitCode: result.exitCode,
      signal: result.signal,
      stderr: result.stderr.slice(-4096),
    });
  }
  return result;
}

interface CollectContext {
  operation: string;
  host: CommandHost;
  command: string;
  timeoutMs: number;
  started: number;
  prompt: string | null;
  pidTag: string;
  password: string | undefined;
  maxBytes: number;
  onStdout: ((chunk: string) => void) | undefined;
  onStderr: ((chunk: string) => void) | undefined;
  signal: AbortSignal | undefined;
}

function collect(channel: ClientChannel, ctx: CollectContext): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const out = new OutputCapture({ maxBytes: ctx.maxBytes, sink: ctx.onStdout });
    const err = new OutputCapture({ maxBytes: ctx.maxBytes, sink: ctx.onStderr, prompt: ctx.prompt, pidTag: ctx.pidTag });
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let exited = false;
    let stopped: 'timeout' | 'cancelled' | null = null;
    let prompts = 0;
    let settled = false;
    let grace: NodeJS.Timeout | null = null;

    const stop = (why: 'timeout' | 'cancelled'): void => {
      if (stopped || exited) return;
      stopped = why;
      // OpenSSH turns a signal request into killpg() on the session, but refuses it for root logins (no privilege separation there)...
      channel.signal('KILL');
      // ...so also kill the process group from a second channel, which works for any login.
      if (err.pgid !== null) killGroup(ctx.host, err.pgid);
      channel.close();
      // sshd keeps a channel open until its command exits; never wait on it forever.
      grace = setTimeout(finish, CLOSE_GRACE_MS);
      grace.unref();
    };
    const timer = setTimeout(() => stop('timeout'), ctx.timeoutMs);
    const onAbort = (): void => stop('cancelled');
    ctx.signal?.addEventListener('abort', onAbort, { once: true });

    err.onPrompt = () => {
      prompts++;
      if (prompts === 1 && ctx.password !== undefined) channel.write(`${ctx.password}\n`);
      // A second prompt means the password was wrong; EOF makes sudo give up instead of waiting.
      else channel.end();
    };

    const onExit = (code: number | null, signal?: string): void => {
      exited = true;
      exitCode = typeof code === 'number' ? code : null;
      exitSignal = signal ?? null;
    };
    channel.on('exit', onExit);
    const early = exitStatusOf(channel);
    if (early) onExit(early.code, early.signal);
    channel.on('data', (d: Buffer) => out.push(d));
    channel.stderr.on('data', (d: Buffer) => err.push(d));
    channel.on('close', finish);

    function finish(): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      ctx.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      const durationMs = Math.round(performance.now() - ctx.started);
      const result: CommandResult = {
        operation: ctx.operation,
        host: ctx.host.label,
        command: ctx.command,
        stdout: out.text,
        stderr: err.text,
        exitCode,
        signal: exitSignal,
        durationMs,
        truncated: out.truncated || err.truncated,
      };
      const partial = { stdout: result.stdout.slice(-4096), stderr: result.stderr.slice(-4096) };
      const base = { operation: ctx.operation, host: ctx.host.label, durationMs };
      if (stopped === 'timeout') {
        return reject(new TesseraError('SSH_TIMEOUT', `${ctx.operation} on ${ctx.host.label} did not finish within ${ctx.timeoutMs / 1000}s and was killed`, { ...base, timeoutMs: ctx.timeoutMs, ...partial }));
      }
      if (stopped === 'cancelled') return reject(cancelled(ctx.operation, ctx.host.label));
      if (!exited) {
        const dropped = !ctx.host.isOpen;
        return reject(
          new TesseraError(
            dropped ? 'SSH_DISCONNECTED' : 'COMMAND_FAILED',
            dropped ? `connection to ${ctx.host.label} was lost while ${ctx.operation} was running` : `${ctx.operation} on ${ctx.host.label} ended without an exit status`,
            { ...base, ...partial },
          ),
        );
      }
      if (prompts > 1 || (prompts === 1 && ctx.password === undefined)) {
        return reject(
          new TesseraError('SUDO_FAILED', ctx.password === undefined ? `sudo on ${ctx.host.label} asked for a password and none was given` : `sudo on ${ctx.host.label} rejected the password`, base),
        );
      }
      resolve(result);
    }
    // Stdin stays open (no EOF): ssh2 only sends the KILL signal request on a writable channel. The command reads /dev/null.
  });
}

/** Best effort: `kill` the command's process group over a fresh channel on the same connection. */
function killGroup(host: CommandHost, pgid: number): void {
  if (!host.isOpen) return;
  host.exec(`kill -s KILL -- -${pgid} 2>/dev/null; true`).then(
    (ch) => {
      ch.resume();
      ch.stderr.resume();
    },
    () => undefined,
  );
}

function cancelled(operation: string, host: string): TesseraError {
  return new TesseraError('COMMAND_FAILED', `${operation} on ${host} was cancelled`, { operation, host, reason: 'cancelled' });
}
