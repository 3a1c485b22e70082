import path from 'node:path';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { WorkstationGpu, WorkstationSpec, WorkstationTemplate } from '../../../shared/model/workstation.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import type { MethodHandlers } from '../core.ts';
import type { NodeService } from '../nodes/node-service.ts';
import { gpuFromRequest, WorkstationService, type WorkstationServiceOptions } from './workstation-service.ts';
import { TemplateStore } from './ws-templates.ts';

type Flat<T> = Omit<T, 'gpu'> & { gpu: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string } };
/** The request's flat GPU object becomes the model's union (with a clear error when it is contradictory). */
function withGpu<T extends { gpu: WorkstationGpu }>(x: Flat<T>): T {
  return { ...x, gpu: gpuFromRequest(x.gpu) } as unknown as T;
}

type WsMethods = Pick<MethodHandlers, `ws.${string}` & keyof MethodHandlers>;

/** The workstation service over the connected clusters, and its contract handlers. */
export function workstationHandlers(clusters: ClusterService, nodes: NodeService, clock: Clock, audit: (input: AuditInput) => Promise<unknown>, dataDir?: string, extra: Partial<WorkstationServiceOptions> = {}): { service: WorkstationService; methods: WsMethods } {
  const service = new WorkstationService({
    clock,
    audit,
    cluster: (id) => {
      const conn = clusters.connection(id);
      return { kubeConfig: () => conn.kubeConfig(), canI: (req) => conn.canI(req), userName: conn.rc.userName, ...(conn.rc.namespace ? { namespace: conn.rc.namespace } : {}) };
    },
    connectedIds: () => clusters.list().filter((c) => c.state === 'connected' || c.state === 'reconnecting').map((c) => c.id),
    nodes: (id) => nodes.list(id),
    ...(dataDir ? { templates: new TemplateStore(path.join(dataDir)) } : {}),
    ...extra,
  });
  return {
    service,
    methods: {
      'ws.list': ({ id }) => service.list(id),
      'ws.get': ({ id, namespace, name }) => service.get(id, namespace, name),
      'ws.options': ({ id }) => service.options(id),
      'ws.offers': ({ id }) => service.offers(id),
      'ws.check': ({ id, spec }) => service.check(id, withGpu<WorkstationSpec>(spec)),
      'ws.create': ({ id, spec }) => service.create(id, withGpu<WorkstationSpec>(spec)),
      'ws.start': ({ id, namespace, name }) => service.start(id, namespace, name),
      'ws.stop': ({ id, namespace, name }) => service.stop(id, namespace, name),
      'ws.snapshot': ({ id, namespace, name, snapshot, className }) => service.snapshot(id, namespace, name, snapshot, className),
      'ws.snapshots': ({ id, namespace }) => service.snapshots(id, namespace),
      'ws.clone': ({ id, namespace, snapshot, target }) => service.clone(id, namespace, snapshot, target),
      'ws.cloneVolume': ({ id, namespace, source, target }) => service.cloneVolume(id, namespace, source, target),
      'ws.restore': ({ id, namespace, name, snapshot }) => service.restore(id, namespace, name, snapshot),
      'ws.delete': ({ id, namespace, name, deleteVolume }) => service.delete(id, namespace, name, deleteVolume),
      'ws.templates': () => service.templates(),
      'ws.saveTemplate': ({ template }) => service.saveTemplate(withGpu<WorkstationTemplate>(template)),
      'ws.deleteTemplate': ({ name }) => service.deleteTemplate(name),
    },
  };
}
