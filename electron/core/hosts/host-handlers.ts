/** The hosts.* contract bound to a HostService, so core.ts only spreads these in. */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { EventOf, ParamsOf, ResultOf } from '../../../shared/contract/index.ts';
import type { hostMethods } from '../../../shared/contract/hosts.ts';
import type { HostService } from './host-service.ts';

type HostMethod = keyof typeof hostMethods;
export type HostMethodHandlers = { [M in HostMethod]: (params: ParamsOf<M>) => Promise<ResultOf<M>> };

export function hostHandlers(service: HostService | undefined): {
  methods: HostMethodHandlers;
  streams: { 'hosts.events': (params: Record<string, never>, emit: (e: EventOf<'hosts.events'>) => void) => () => void };
} {
  const need = (): HostService => {
    if (!service) throw new TesseraError('INTERNAL', 'this host keeps no SSH hosts (no data folder)');
    return service;
  };
  return {
    methods: {
      'hosts.list': async () => need().list(),
      'hosts.add': async (p) => need().add(p),
      'hosts.update': async ({ id, ...input }) => need().update(id, input),
      'hosts.remove': async ({ id }) => need().remove(id),
      'hosts.importSshConfig': async (p) => need().importSshConfig(p),
      'hosts.importNodes': async (p) => need().importNodes(p),
      'hosts.operations': async () => need().operations(),
      'hosts.test': async ({ id }) => need().test(id),
      'hosts.trust': async (p) => need().trust(p),
      'hosts.exec': async (p) => need().exec(p),
      'hosts.cancel': async ({ runId }) => need().cancel(runId),
      'hosts.answer': async ({ id, secret, remember }) => need().broker.answer(id, secret, remember === true),
      'hosts.gpus': async ({ id }) => need().gpus(id),
      'hosts.bundle': async ({ id }) => {
        const b = await need().bundle(id);
        return { filename: b.filename, base64: b.archive.toString('base64'), manifest: b.manifest };
      },
    },
    streams: {
      'hosts.events': (_p, emit) => (service ? service.broker.subscribe(emit) : () => undefined),
    },
  };
}
