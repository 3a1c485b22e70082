// The Kubernetes objects a workstation is made of, built from its spec. Pure:
// the service decides when to send them. Both ways of keeping a workstation
// (a Kubeflow Notebook, or Tessera's own StatefulSet) share one pod spec, so a
// snapshot's spec restores the same environment through either.
import { gpuResource, WS_ANNOTATIONS, WS_LABEL, type WorkstationSpec } from '../../../shared/model/workstation.ts';
import { GPU_PRODUCT_LABEL, wholeGpuAffinity } from '../nodes/whole-gpu-affinity.ts';

export const HOME_VOLUME = 'home';
export const HOME_MOUNT = '/home/jovyan';
export const DEFAULT_PORT = 8888;
/** The node label a node pool is chosen by (GPU Feature Discovery's). */
export const POOL_LABEL = GPU_PRODUCT_LABEL;
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

export type KubeObject = Record<string, any>;

/** The name of the first home volume; restores add a suffix. */
export function homeClaimName(name: string): string {
  return `${name}-home`;
}

export function workstationLabels(spec: Pick<WorkstationSpec, 'name'>): Record<string, string> {
  return { [WS_LABEL]: spec.name, 'app.kubernetes.io/managed-by': 'tessera' };
}

/** The spec as stored in an annotation: fields in a fixed order, nothing else. */
export function specAnnotation(spec: WorkstationSpec): string {
  const { name, namespace, image, gpu, cpu, memory, volumeSize, storageClass, env, nodePool, port } = spec;
  return JSON.stringify({ name, namespace, image, gpu, cpu, memory, volumeSize, storageClass, env, nodePool, port });
}

export function podSpec(spec: WorkstationSpec, claim: string): KubeObject {
  const gpu = gpuResource(spec.gpu);
  const requests: Record<string, string> = { cpu: spec.cpu, memory: spec.memory };
  const limits: Record<string, string> = { cpu: spec.cpu, memory: spec.memory };
  if (gpu) requests[gpu.name] = limits[gpu.name] = String(gpu.count);
  return {
    containers: [
      {
        name: 'workstation',
        image: spec.image,
        env: (spec.env ?? []).map((e) => ({ name: e.name, value: e.value })),
        ports: [{ name: 'notebook-port', containerPort: spec.port ?? DEFAULT_PORT, protocol: 'TCP' }],
        resources: { requests, limits },
        volumeMounts: [{ name: HOME_VOLUME, mountPath: HOME_MOUNT }],
      },
    ],
    volumes: [{ name: HOME_VOLUME, persistentVolumeClaim: { claimName: claim } }],
    ...(spec.nodePool ? { nodeSelector: { [POOL_LABEL]: spec.nodePool } } : {}),
    ...(spec.gpu.kind === 'full' && !spec.nodePool ? { affinity: wholeGpuAffinity() } : {}),
  };
}

function meta(spec: WorkstationSpec, owner: string | undefined, extra: Record<string, string> = {}): KubeObject {
  return {
    name: spec.name,
    namespace: spec.namespace,
    labels: workstationLabels(spec),
    annotations: { [WS_ANNOTATIONS.spec]: specAnnotation(spec), [WS_ANNOTATIONS.gpuSeconds]: '0', ...(owner ? { [WS_ANNOTATIONS.owner]: owner } : {}), ...extra },
  };
}

export function homeClaim(spec: WorkstationSpec, claim: string, dataSource?: { kind: 'VolumeSnapshot' | 'PersistentVolumeClaim'; name: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: claim, namespace: spec.namespace, labels: workstationLabels(spec) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: spec.volumeSize } },
      ...(spec.storageClass ? { storageClassName: spec.storageClass } : {}),
      ...(dataSource ? { dataSource: dataSource.kind === 'VolumeSnapshot' ? { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: dataSource.name } : { kind: 'PersistentVolumeClaim', name: dataSource.name } } : {}),
    },
  };
}

/** A Kubeflow Notebook (v1): spec.template.spec is the whole pod spec. */
export function notebookObject(spec: WorkstationSpec, claim: string, owner?: string): KubeObject {
  return {
    apiVersion: 'kubeflow.org/v1',
    kind: 'Notebook',
    metadata: meta(spec, owner, { 'notebooks.kubeflow.org/server-type': 'jupyter', ...(owner ? { 'notebooks.kubeflow.org/creator': owner } : {}) }),
    spec: { template: { spec: podSpec(spec, claim) } },
  };
}

/** Tessera's own form: one replica, selector and Service by the workstation label. */
export function statefulSetObject(spec: WorkstationSpec, claim: string, owner?: string): KubeObject {
  const labels = workstationLabels(spec);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(spec, owner),
    spec: {
      replicas: 1,
      serviceName: spec.name,
      selector: { matchLabels: { [WS_LABEL]: spec.name } },
      template: { metadata: { labels }, spec: podSpec(spec, claim) },
    },
  };
}

export function serviceObject(spec: WorkstationSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: spec.namespace, labels: workstationLabels(spec) },
    spec: { type: 'ClusterIP', selector: { [WS_LABEL]: spec.name }, ports: [{ name: `http-${spec.name}`, port: 80, targetPort: spec.port ?? DEFAULT_PORT, protocol: 'TCP' }] },
  };
}

export function snapshotObject(spec: WorkstationSpec, namespace: string, name: string, claim: string, className?: string): KubeObject {
  return {
    apiVersion: `${SNAPSHOT_GROUP}/v1`,
    kind: 'VolumeSnapshot',
    metadata: { name, namespace, labels: workstationLabels(spec), annotations: { [WS_ANNOTATIONS.spec]: specAnnotation(spec), [WS_ANNOTATIONS.snapshotOf]: `${spec.name}/${claim}` } },
    spec: { ...(className ? { volumeSnapshotClassName: className } : {}), source: { persistentVolumeClaimName: claim } },
  };
}

/**
 * A copy of a ready snapshot in another namespace: a pre-provisioned content
 * naming the same snapshot handle (Retain, so deleting the copy never deletes
 * the data), and a VolumeSnapshot bound to it. PVC data sources cannot cross
 * namespaces on 1.20, so this is how a clone reaches another team.
 */
export function snapshotCopy(src: { handle: string; driver: string; className?: string; spec: WorkstationSpec; sourceNamespace: string; sourceName: string }, namespace: string, name: string, suffix: string): { content: KubeObject; snapshot: KubeObject } {
  // Contents are cluster-scoped and kept (Retain) after their copy goes: a suffix keeps a second copy from colliding.
  const contentName = `tessera-${namespace}-${name}-${suffix}`.slice(0, 253);
  return {
    content: {
      apiVersion: `${SNAPSHOT_GROUP}/v1`,
      kind: 'VolumeSnapshotContent',
      metadata: { name: contentName, labels: { 'app.kubernetes.io/managed-by': 'tessera', 'tessera.dev/copy-in': namespace }, annotations: { [WS_ANNOTATIONS.snapshotOf]: `${src.sourceNamespace}/${src.sourceName}` } },
      spec: { deletionPolicy: 'Retain', driver: src.driver, source: { snapshotHandle: src.handle }, ...(src.className ? { volumeSnapshotClassName: src.className } : {}), volumeSnapshotRef: { name, namespace } },
    },
    snapshot: {
      apiVersion: `${SNAPSHOT_GROUP}/v1`,
      kind: 'VolumeSnapshot',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'tessera' }, annotations: { [WS_ANNOTATIONS.spec]: specAnnotation(src.spec), [WS_ANNOTATIONS.snapshotOf]: `${src.sourceNamespace}/${src.sourceName}` } },
      spec: { ...(src.className ? { volumeSnapshotClassName: src.className } : {}), source: { volumeSnapshotContentName: contentName } },
    },
  };
}
