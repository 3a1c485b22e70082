import { TesseraError, type TesseraApi } from '../../shared/contract/index.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { ElectronBridge } from './types.ts';

export function electronTransport(bridge: ElectronBridge): TesseraApi {
  return {
    async call(method, params) {
      const fn = bridge.methods[method];
      if (!fn) throw new TesseraError('UNKNOWN_METHOD', `the host does not offer ${method}`);
      const r = await fn(params);
      if (!r.ok) {
        const e = r.error as ErrorShape;
        throw new TesseraError(e.code, e.message, e.details);
      }
      return r.result as never;
    },
    subscribe(stream, params, onEvent, onError) {
      const fn = bridge.streams[stream];
      if (!fn) throw new TesseraError('UNKNOWN_METHOD', `the host does not offer ${stream}`);
      return fn(params, onEvent as (e: unknown) => void, onError as (e: unknown) => void);
    },
  };
}
