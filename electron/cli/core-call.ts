import { methods, type MethodName, type ParamsOf, type ResultOf } from '../../shared/contract/index.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import { validate } from '../../shared/contract/schema.ts';
import type { Core } from '../core/core.ts';

/**
 * Calls a core method the way the hosts do: the request is validated against
 * the contract first, so the CLI can never reach core with what the UI could not.
 */
export async function call<M extends MethodName>(core: Core, name: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
  const v = validate(methods[name].params, params);
  if (!v.ok) throw new TesseraError('INVALID_REQUEST', v.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return (core.methods[name] as (p: ParamsOf<M>) => Promise<ResultOf<M>>)(params);
}
