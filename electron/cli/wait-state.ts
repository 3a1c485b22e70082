import { TesseraError } from '../../shared/contract/errors.ts';

export interface Stateful {
  state: string;
  reason?: string;
  message?: string;
}

/**
 * Polls an object once a second until `done`, printing each new state line,
 * for the CLI's `--wait` flags. A `failed` state ends the wait with its reason
 * rather than letting a script sit out the whole timeout.
 */
export async function waitForState<T extends Stateful>(
  what: string,
  read: () => Promise<T>,
  done: (x: T) => boolean,
  log: (s: string) => void,
  timeoutMs = 300_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const x = await read();
    const line = `${x.state}${x.reason ? `: ${x.reason}` : ''}${x.message ? ` (${x.message})` : ''}`;
    if (line !== last) log(`${what}: ${line}\n`);
    last = line;
    if (done(x)) return x;
    if (x.state === 'failed') throw new TesseraError('COMMAND_FAILED', `${what} failed: ${x.reason ?? 'unknown reason'}${x.message ? `: ${x.message}` : ''}`);
    if (Date.now() > deadline) throw new TesseraError('TIMEOUT', `${what} is still ${line} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
