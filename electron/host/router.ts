import { isMethodName, isStreamName, methods, streams } from '../../shared/contract/index.ts';
import { TesseraError, toErrorShape, type ErrorShape } from '../../shared/contract/errors.ts';
import { validate, type Schema } from '../../shared/contract/schema.ts';
import type { Core } from '../core/core.ts';

export type CallResult = { ok: true; result: unknown } | { ok: false; error: ErrorShape };

function checked(schema: Schema<unknown>, params: unknown, name: string): unknown {
  const v = validate(schema, params ?? {});
  if (!v.ok) {
    const first = v.issues[0]!;
    throw new TesseraError('INVALID_REQUEST', `${name}: ${first.path || 'request'} ${first.message}`, { issues: v.issues });
  }
  return v.value;
}

/**
 * The one place where transports hand requests to core: names are checked
 * against the contract and params validated before any domain code runs.
 */
export class Router {
  constructor(private readonly core: Pick<Core, 'methods' | 'streams'>) {}

  async call(method: unknown, params: unknown): Promise<CallResult> {
    try {
      if (!isMethodName(method)) throw new TesseraError('UNKNOWN_METHOD', `unknown method ${JSON.stringify(method)}`);
      const value = checked(methods[method].params as Schema<unknown>, params, method);
      const handler = this.core.methods[method] as (p: unknown) => Promise<unknown>;
      return { ok: true, result: await handler(value) };
    } catch (err) {
      return { ok: false, error: toErrorShape(err) };
    }
  }

  /** Starts a stream; returns its unsubscribe, or the error that prevented it. */
  subscribe(stream: unknown, params: unknown, emit: (event: unknown) => void): { ok: true; unsubscribe: () => void } | { ok: false; error: ErrorShape } {
    try {
      if (!isStreamName(stream)) throw new TesseraError('UNKNOWN_METHOD', `unknown stream ${JSON.stringify(stream)}`);
      const value = checked(streams[stream].params as Schema<unknown>, params, stream);
      const handler = this.core.streams[stream] as (p: unknown, emit: (e: unknown) => void) => () => void;
      return { ok: true, unsubscribe: handler(value, emit) };
    } catch (err) {
      return { ok: false, error: toErrorShape(err) };
    }
  }
}
