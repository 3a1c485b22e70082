import type { GpuOffer, IdeForward, Workstation, WorkstationSnapshot, WorkstationTemplate } from '../model/workstation.ts';
import type { AccessCheck } from '../model/cluster.ts';
import { method } from './define.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

/** A DNS label (namespaces, StatefulSet names that become pod names and Service names). */
export const dnsLabel = s.string({ min: 1, max: 52, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, patternHint: 'must be a lowercase DNS label (letters, digits, "-"), at most 52 characters' });
const quantity = s.string({ min: 1, max: 32, pattern: /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$/, patternHint: 'must be a Kubernetes quantity such as 4, 500m or 16Gi' });
const image = s.string({ min: 1, max: 512, pattern: /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/, patternHint: 'must be an image reference such as registry.local/jupyter/scipy:2024.1' });
const envName = s.string({ min: 1, max: 128, pattern: /^[A-Za-z_][A-Za-z0-9_.-]*$/, patternHint: 'must be an environment variable name' });

export const wsGpu = s.object({
  kind: s.literal('none', 'full', 'mig'),
  count: s.optional(s.number({ min: 1, max: 16, integer: true })),
  profile: s.optional(s.string({ min: 1, max: 32, pattern: /^(?:\d+c\.)?\d+g\.\d+gb(?:\+me)?$/, patternHint: 'must be a MIG profile such as 1g.10gb' })),
});

const templateFields = {
  image,
  gpu: wsGpu,
  cpu: quantity,
  memory: quantity,
  volumeSize: quantity,
  storageClass: s.optional(k8sName),
  env: s.optional(s.array(s.object({ name: envName, value: s.string({ max: 4096 }) }), { max: 64 })),
  nodePool: s.optional(s.string({ min: 1, max: 63, pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]*$/, patternHint: 'must be a GPU product label value' })),
  port: s.optional(s.number({ min: 1, max: 65535, integer: true })),
};

export const wsSpec = s.object({ name: dnsLabel, namespace: dnsLabel, ...templateFields });
export const wsTemplate = s.object({ name: dnsLabel, description: s.optional(s.string({ max: 500 })), ...templateFields });

const ref = s.object({ id: clusterId, namespace: dnsLabel, name: dnsLabel });

export interface WorkstationOptions {
  /** Which way workstations are kept here: Kubeflow Notebooks when that API exists. */
  kind: 'notebook' | 'statefulset';
  snapshotApi: boolean;
  storageClasses: { name: string; provisioner: string; default: boolean }[];
  snapshotClasses: { name: string; driver: string; deletionPolicy: string; default: boolean }[];
  namespaces: string[];
}

export interface WorkstationCheck {
  ok: boolean;
  /** Why not, in words, each naming the quota or permission at fault. */
  problems: string[];
  access: AccessCheck[];
}

export interface WorkstationDeleted {
  deleted: { kind: string; namespace: string; name: string }[];
  kept: { kind: string; namespace: string; name: string }[];
}

/** A forward as `ws.open` returns it: opened says whether core already showed it in the user's browser (Electron). */
export type OpenedForward = IdeForward & { opened: boolean; reused: boolean };

/** One connected cluster a snapshot could be cloned into, with the reason when it cannot. */
export interface CloneTarget {
  clusterId: string;
  ok: boolean;
  reason?: string;
  snapshotClass?: string;
  storageClass?: string;
}

const forwardId = s.string({ min: 1, max: 64, pattern: /^fwd-[a-z0-9-]+$/, patternHint: 'must be a forward id (fwd-…)' });

export const workstationMethods = {
  'ws.list': method<Workstation[]>()(s.object({ id: s.optional(clusterId) }), 'Every workstation on one cluster, or on every connected cluster: state, GPU, age, GPU-hours.'),
  'ws.get': method<Workstation>()(ref, 'One workstation with its state and the scheduler reason when it waits for capacity.'),
  'ws.options': method<WorkstationOptions>()(s.object({ id: clusterId }), 'What the create form can offer on a cluster: Notebook or plain objects, storage and snapshot classes, namespaces.'),
  'ws.offers': method<GpuOffer[]>()(s.object({ id: clusterId }), 'Where full GPUs and MIG slices are free right now, by pool.'),
  'ws.check': method<WorkstationCheck>()(s.object({ id: clusterId, spec: wsSpec }), 'Quota and RBAC checks a create would make. Changes nothing.'),
  'ws.create': method<Workstation>()(s.object({ id: clusterId, spec: wsSpec }), 'Creates a workstation after the quota and RBAC checks.'),
  'ws.start': method<Workstation>()(ref, 'Starts a stopped workstation (quota checked first).'),
  'ws.stop': method<Workstation>()(ref, 'Stops a workstation: the volume stays, the GPU is freed.'),
  'ws.snapshot': method<WorkstationSnapshot>()(s.object({ id: clusterId, namespace: dnsLabel, name: dnsLabel, snapshot: s.optional(k8sName), className: s.optional(k8sName) }), 'Cuts a CSI VolumeSnapshot of the home volume, keeping the spec with it.'),
  'ws.snapshots': method<WorkstationSnapshot[]>()(s.object({ id: clusterId, namespace: s.optional(dnsLabel) }), 'Snapshots with readiness and size.'),
  'ws.clone': method<Workstation>()(s.object({ id: clusterId, namespace: dnsLabel, snapshot: k8sName, target: s.object({ namespace: dnsLabel, name: dnsLabel }), targetCluster: s.optional(clusterId) }), 'A new workstation from a snapshot and its spec, in this or another namespace, or on another connected cluster that reaches the same CSI storage.'),
  'ws.cloneTargets': method<CloneTarget[]>()(s.object({ id: clusterId, namespace: dnsLabel, snapshot: k8sName }), 'Other connected clusters and whether the snapshot can be cloned into each (same CSI driver for snapshots and volumes), with the reason when not.'),
  'ws.open': method<OpenedForward>()(ref, 'Forwards the running workstation\'s IDE port to 127.0.0.1 (random port, per-forward token) through the API server, and opens it in the browser where the host can.'),
  'ws.forwards': method<IdeForward[]>()(s.object({}), 'The IDE forwards this console holds open.'),
  'ws.closeForward': method<{ closed: boolean }>()(s.object({ forwardId }), 'Closes one IDE forward.'),
  'ws.cloneVolume': method<Workstation>()(s.object({ id: clusterId, namespace: dnsLabel, source: dnsLabel, target: s.object({ namespace: dnsLabel, name: dnsLabel }) }), 'A new workstation from a CSI clone of another one\'s volume (same namespace; for clusters without the snapshot API).'),
  'ws.restore': method<Workstation>()(s.object({ id: clusterId, namespace: dnsLabel, name: dnsLabel, snapshot: k8sName }), 'Replaces the home volume with one from a snapshot: stop, new volume, swap, start.'),
  'ws.delete': method<WorkstationDeleted>()(s.object({ id: clusterId, namespace: dnsLabel, name: dnsLabel, deleteVolume: s.boolean() }), 'Deletes a workstation; its volumes only when deleteVolume is true.'),
  'ws.templates': method<WorkstationTemplate[]>()(s.object({}), 'Saved workstation templates.'),
  'ws.saveTemplate': method<WorkstationTemplate>()(s.object({ template: wsTemplate }), 'Saves (or replaces) a template.'),
  'ws.deleteTemplate': method<{ deleted: boolean }>()(s.object({ name: dnsLabel }), 'Removes a template.'),
};
