import type { Schema } from './schema.ts';

/** A request/response method. `result` is a phantom carrying the response type. */
export interface MethodDef<P, R> {
  readonly kind: 'method';
  readonly params: Schema<P>;
  readonly summary: string;
  readonly result?: R;
}

/** A subscription: params start it, events of type E flow until it is cancelled. */
export interface StreamDef<P, E> {
  readonly kind: 'stream';
  readonly params: Schema<P>;
  readonly summary: string;
  readonly event?: E;
  /**
   * Subscribing does something (applies a change, runs a load test), rather than following state: after a lost
   * connection a transport ends it with an error and never subscribes again, which would do it twice.
   */
  readonly once?: true;
}

export function method<R>() {
  return <P>(params: Schema<P>, summary: string): MethodDef<P, R> => ({ kind: 'method', params, summary });
}

export function stream<E>() {
  return <P>(params: Schema<P>, summary: string, opts: { once?: true } = {}): StreamDef<P, E> => ({ kind: 'stream', params, summary, ...opts });
}
