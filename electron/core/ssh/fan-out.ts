/**
 * One operation on many hosts. Each host's outcome is reported on its own:
 * an unreachable host, a rejected key or a failing command is that host's
 * error and never stops or fails the others.
 */
import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { ErrorShape } from '../../../shared/contract/errors.ts';
import { defaultRegistry, lookupOperation } from './command-registry.ts';
import { runOperation } from './remote-command.ts';
import type { CommandResult, RunOptions } from './remote-command.ts';
import { targetLabel } from './ssh-endpoint.ts';
import type { SshTarget } from './ssh-endpoint.ts';
import type { SshPool } from './ssh-pool.ts';

export type FanOutResult = { target: string; ok: true; result: CommandResult } | { target: string; ok: false; error: ErrorShape };

export interface FanOutOptions extends Omit<RunOptions, 'onStdout' | 'onStderr' | 'check'> {
  /** Hosts worked on at once; default 8. */
  concurrency?: number;
  /** Each host's outcome as soon as it is known. */
  onResult?: (r: FanOutResult) => void;
  onOutput?: (target: string, stream: 'stdout' | 'stderr', chunk: string) => void;
}

export const DEFAULT_FAN_OUT_CONCURRENCY = 8;

/** Results in the order of `targets`. Throws only for a caller mistake (an unknown operation), never for a host. */
export async function fanOut(pool: SshPool, targets: readonly SshTarget[], operation: string, opts: FanOutOptions = {}): Promise<FanOutResult[]> {
  lookupOperation(opts.registry ?? defaultRegistry, operation);
  const { concurrency = DEFAULT_FAN_OUT_CONCURRENCY, onResult, onOutput, ...run } = opts;
  const results: FanOutResult[] = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i]!;
      const target = targetLabel(t);
      let r: FanOutResult;
      try {
        const result = await pool.use(t, (conn) =>
          runOperation(conn, operation, {
            ...run,
            check: true,
            ...(onOutput ? { onStdout: (c: string) => onOutput(target, 'stdout', c), onStderr: (c: string) => onOutput(target, 'stderr', c) } : {}),
          }),
        );
        r = { target, ok: true, result };
      } catch (err) {
        r = { target, ok: false, error: toErrorShape(err) };
      }
      results[i] = r;
      try {
        onResult?.(r);
      } catch {
        // A listener's bug must not turn into this host's failure.
      }
    }
  };
  const n = Math.max(1, Math.min(concurrency, targets.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
