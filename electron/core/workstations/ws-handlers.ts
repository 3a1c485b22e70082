import path from 'node:path';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { WorkstationGpu, WorkstationSpec, WorkstationTemplate } from '../../../shared/model/workstation.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import type { MethodHandlers } from '../core.ts';
import type { NodeService } from '../nodes/node-service.ts';
import { execTransportFor } from '../terminals/exec-transport.ts';
import { gpuFromRequest, WorkstationService, type WorkstationServiceOptions } from './workstation-service.ts';
import { WorkstationForwards } from './ws-forwards.ts';
import { IdleWatcher, type IdleWatcherOptions } from './ws-idle-watcher.ts';
import { TemplateStore } from './ws-templates.ts';

type Flat<T> = Omit<T, 'gpu'> & { gpu: { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string } };
/** The request's flat GPU object becomes the model's union (with a clear error when it is contradictory). */
function withGpu<T extends { gpu: WorkstationGpu }>(x: Flat<T>): T {
  return { ...x, gpu: gpuFromRequest(x.gpu) } as unknown as T;
}

type WsMethods = Pick<MethodHandlers, `ws.${string}` & keyof MethodHandlers>;

/** What the host adds: a way to open the user's browser, and whether the idle policy runs here. */
export interface WsHostOptions {
  openExternal?: (url: string) => Promise<void>;
  /** The idle watcher runs (started) only when given: console hosts, not one-shot CLI commands. */
  idle?: IdleWatcherOptions;
  forwardWatchMs?: number;
}

/** The workstation service over the connected clusters, its IDE forwards and idle watcher, and their contract handlers. */
export function workstationHandlers(
  clusters: ClusterService,
  nodes: NodeService,
  clock: Clock,
  audit: (input: AuditInput) => Promise<unknown>,
  dataDir?: string,
  extra: Partial<WorkstationServiceOptions> = {},
  host: WsHostOptions = {},
): { service: WorkstationService; methods: WsMethods; forwards: WorkstationForwards; idle: IdleWatcher } {
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
  const connectedIds = () => clusters.list().filter((c) => c.state === 'connected' || c.state === 'reconnecting').map((c) => c.id);
  const forwards = new WorkstationForwards({
    service,
    clock,
    audit,
    kube: (id) => clusters.connection(id).kubeConfig(),
    canI: (id, req) => clusters.connection(id).canI(req),
    transport: (id) => execTransportFor(clusters.connection(id)),
    userName: (id) => clusters.connection(id).rc.userName,
    ...(host.openExternal ? { openExternal: host.openExternal } : {}),
    ...(host.forwardWatchMs ? { watchMs: host.forwardWatchMs } : {}),
  });
  const idle = new IdleWatcher({ service, clock, connectedIds, kube: (id) => clusters.connection(id).kubeConfig(), log: (m) => console.warn(m) }, host.idle ?? {});
  if (host.idle) idle.start();
  return {
    service,
    forwards,
    idle,
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
      'ws.clone': ({ id, namespace, snapshot, target, targetCluster }) => service.clone(id, namespace, snapshot, target, targetCluster),
      'ws.cloneTargets': ({ id, namespace, snapshot }) => service.cloneTargets(id, namespace, snapshot),
      'ws.open': ({ id, namespace, name }) => forwards.open(id, namespace, name),
      'ws.forwards': async () => forwards.list(),
      'ws.closeForward': ({ forwardId }) => forwards.close(forwardId),
      'ws.cloneVolume': ({ id, namespace, source, target }) => service.cloneVolume(id, namespace, source, target),
      'ws.restore': ({ id, namespace, name, snapshot }) => service.restore(id, namespace, name, snapshot),
      'ws.delete': ({ id, namespace, name, deleteVolume }) => service.delete(id, namespace, name, deleteVolume),
      'ws.templates': () => service.templates(),
      'ws.saveTemplate': ({ template }) => service.saveTemplate(withGpu<WorkstationTemplate>(template)),
      'ws.deleteTemplate': ({ name }) => service.deleteTemplate(name),
    },
  };
}
