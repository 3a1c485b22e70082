import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import type { MethodHandlers, StreamHandlers } from '../core.ts';
import type { NodeService } from '../nodes/node-service.ts';
import { EndpointService, type EndpointServiceOptions } from './endpoint-service.ts';
import { watchEndpoints } from './endpoint-watch.ts';

type EpMethods = Pick<MethodHandlers, `endpoints.${string}` & keyof MethodHandlers>;
type EpStreams = Pick<StreamHandlers, `endpoints.${string}` & keyof StreamHandlers>;

/** The endpoints service over the connected clusters, and its contract handlers. */
export function endpointHandlers(clusters: ClusterService, nodes: NodeService, clock: Clock, audit: (input: AuditInput) => Promise<unknown>, extra: Partial<EndpointServiceOptions> = {}): { service: EndpointService; methods: EpMethods; streams: EpStreams } {
  const cluster = (id: string) => {
    const conn = clusters.connection(id);
    return { kubeConfig: () => conn.kubeConfig(), canI: (req: Parameters<typeof conn.canI>[0]) => conn.canI(req), userName: conn.rc.userName, ...(conn.rc.namespace ? { namespace: conn.rc.namespace } : {}) };
  };
  const connectedIds = () => clusters.list().filter((c) => c.state === 'connected' || c.state === 'reconnecting').map((c) => c.id);
  const service = new EndpointService({ clock, audit, cluster, connectedIds, nodes: (id) => nodes.list(id), ...extra });
  return {
    service,
    methods: {
      'endpoints.discover': ({ id, namespace }) => service.discover(id, namespace),
      'endpoints.offers': ({ id }) => service.offers(id),
      'endpoints.access': ({ id, namespace, name }) => service.access(id, namespace, name),
      'endpoints.preview': ({ id, spec, yaml, update }) => service.preview(id, { ...(spec ? { spec } : {}), ...(yaml !== undefined ? { yaml } : {}), ...(update ? { update } : {}) }),
      'endpoints.create': ({ id, spec, yaml }) => service.create(id, { ...(spec ? { spec } : {}), ...(yaml !== undefined ? { yaml } : {}) }),
      'endpoints.update': ({ id, namespace, name, ...input }) => service.update(id, namespace, name, input),
      'endpoints.list': ({ id }) => service.list(id),
      'endpoints.get': ({ id, namespace, name }) => service.get(id, namespace, name),
      'endpoints.logs': ({ id, namespace, name, pod, tailLines, previous }) => service.logs(id, namespace, name, pod, tailLines, previous),
      'endpoints.canary': ({ id, namespace, name, change, percent }) => service.canary(id, namespace, name, change, percent),
      'endpoints.promote': ({ id, namespace, name }) => service.promote(id, namespace, name),
      'endpoints.rollback': ({ id, namespace, name }) => service.rollback(id, namespace, name),
      'endpoints.probe': ({ id, namespace, name }) => service.probe(id, namespace, name),
      'endpoints.test': ({ id, namespace, name, protocol, body, target, timeoutMs }) => service.test(id, namespace, name, protocol, body, target, timeoutMs),
      'endpoints.loadTest': ({ id, ...o }) => service.loadTest(id, o),
      'endpoints.deletePlan': ({ id, namespace, name }) => service.deletePlan(id, namespace, name),
      'endpoints.delete': ({ id, namespace, name }) => service.delete(id, namespace, name),
    },
    streams: {
      'endpoints.watch': ({ id }, emit) => watchEndpoints({ service, clock, connectedIds, cluster, onClustersChange: (fn) => clusters.subscribe(() => fn()) }, id, emit),
      'endpoints.updateRun': ({ id, namespace, name, ...input }, emit) => {
        // Unsubscribing stops the waiting and the events; a change already sent stays applied.
        const abort = new AbortController();
        const open = () => !abort.signal.aborted;
        service
          .update(id, namespace, name, input, (step) => open() && emit({ kind: 'step', step }), abort.signal)
          .then((result) => open() && emit({ kind: 'result', result }))
          .catch((err) => open() && emit({ kind: 'error', error: toErrorShape(err) }));
        return () => abort.abort();
      },
      'endpoints.loadTestRun': ({ id, ...o }, emit) => {
        // Unsubscribing aborts the run: requests in flight end, no new ones start.
        const abort = new AbortController();
        service
          .loadTest(id, o, { signal: abort.signal, onProgress: (progress) => !abort.signal.aborted && emit({ kind: 'progress', progress }) })
          .then((result) => !abort.signal.aborted && emit({ kind: 'result', result }))
          .catch((err) => !abort.signal.aborted && emit({ kind: 'error', error: toErrorShape(err) }));
        return () => abort.abort();
      },
    },
  };
}
