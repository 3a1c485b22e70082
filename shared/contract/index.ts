import { appMethods } from './app.ts';
import { auditMethods } from './audit.ts';
import { clusterMethods, clusterStreams } from './clusters.ts';
import { endpointMethods, endpointStreams } from './endpoints.ts';
import { hostMethods, hostStreams } from './hosts.ts';
import type { MethodDef, StreamDef } from './define.ts';
import { metricsStreams } from './metrics.ts';
import { migMethods, migStreams } from './mig.ts';
import { nodeMethods, nodeStreams } from './nodes.ts';
import { rolloutMethods, rolloutStreams } from './rollouts.ts';
import { settingsMethods } from './settings.ts';
import { quotaMethods } from './quotas.ts';
import { showbackMethods } from './showback.ts';
import { terminalMethods, terminalStreams } from './terminals.ts';
import { workstationMethods } from './workstations.ts';
import type { Infer } from './schema.ts';

/** Every request the renderer or CLI may make, by `domain.verb`. */
export const methods = {
  ...appMethods,
  ...auditMethods,
  ...clusterMethods,
  ...nodeMethods,
  ...terminalMethods,
  ...hostMethods,
  ...migMethods,
  ...rolloutMethods,
  ...workstationMethods,
  ...endpointMethods,
  ...settingsMethods,
  ...quotaMethods,
  ...showbackMethods,
} as const;

/** Every subscription, by `domain.verb`. */
export const streams = {
  ...clusterStreams,
  ...nodeStreams,
  ...terminalStreams,
  ...hostStreams,
  ...metricsStreams,
  ...migStreams,
  ...rolloutStreams,
  ...endpointStreams,
} as const;

export type Methods = typeof methods;
export type Streams = typeof streams;
export type MethodName = keyof Methods;
export type StreamName = keyof Streams;
export type ParamsOf<M extends MethodName> = Infer<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = Methods[M] extends MethodDef<unknown, infer R> ? R : never;
export type StreamParamsOf<S extends StreamName> = Infer<Streams[S]['params']>;
export type EventOf<S extends StreamName> = Streams[S] extends StreamDef<unknown, infer E> ? E : never;

export const methodNames = Object.keys(methods) as MethodName[];
export const streamNames = Object.keys(streams) as StreamName[];

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

export function isStreamName(name: unknown): name is StreamName {
  return typeof name === 'string' && Object.hasOwn(streams, name);
}

/** The renderer-facing API every host provides: one function per method, one per stream. */
export type TesseraApi = {
  call<M extends MethodName>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>>;
  subscribe<S extends StreamName>(
    stream: S,
    params: StreamParamsOf<S>,
    onEvent: (event: EventOf<S>) => void,
    onError?: (error: import('./errors.ts').ErrorShape) => void,
  ): () => void;
};

export { TesseraError, toErrorShape, isErrorShape } from './errors.ts';
export type { ErrorShape, ErrorCode } from './errors.ts';
export { validate } from './schema.ts';
