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
}

export function method<R>() {
  return <P>(params: Schema<P>, summary: string): MethodDef<P, R> => ({ kind: 'method', params, summary });
}

export function stream<E>() {
  return <P>(params: Schema<P>, summary: string): StreamDef<P, E> => ({ kind: 'stream', params, summary });
}
