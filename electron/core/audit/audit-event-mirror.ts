/**
 * Mirrors audit entries to the cluster as core/v1 Events on the objects changed, so
 * `kubectl describe` and cluster-side log pipelines see who changed what through Tessera.
 * Optional (settings.audit.mirrorEvents, off by default) and best effort: it runs after the
 * entry is durable, and a failure (no permission to create events, cluster gone) is counted and
 * warned about by AuditLog, never blocks or undoes the change.
 */
import type { AuditEntry } from '../../../shared/model/audit.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import type { AuditMirror } from './audit-log.ts';

export const EVENT_REASON = 'TesseraChange';
export const EVENT_COMPONENT = 'tessera';

interface ApiKind {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const core = (kind: string, plural: string, namespaced: boolean): ApiKind => ({ apiVersion: 'v1', kind, plural, namespaced });

/**
 * Audit target kinds that name Kubernetes objects, with where to find each. A workstation is a
 * Kubeflow Notebook or a plain StatefulSet, whichever exists. Kinds not listed (SSH hosts,
 * settings, templates, audit files) live outside the cluster and get no Event.
 */
const KINDS: Record<string, ApiKind[]> = {
  Node: [core('Node', 'nodes', false)],
  Namespace: [core('Namespace', 'namespaces', false)],
  Pod: [core('Pod', 'pods', true)],
  ConfigMap: [core('ConfigMap', 'configmaps', true)],
  Service: [core('Service', 'services', true)],
  PersistentVolumeClaim: [core('PersistentVolumeClaim', 'persistentvolumeclaims', true)],
  ResourceQuota: [core('ResourceQuota', 'resourcequotas', true)],
  Deployment: [{ apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true }],
  StatefulSet: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true }],
  ClusterPolicy: [{ apiVersion: 'nvidia.com/v1', kind: 'ClusterPolicy', plural: 'clusterpolicies', namespaced: false }],
  NVIDIADriver: [{ apiVersion: 'nvidia.com/v1alpha1', kind: 'NVIDIADriver', plural: 'nvidiadrivers', namespaced: false }],
  Notebook: [{ apiVersion: 'kubeflow.org/v1', kind: 'Notebook', plural: 'notebooks', namespaced: true }],
  InferenceService: [{ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', plural: 'inferenceservices', namespaced: true }],
  VolumeSnapshot: [{ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', plural: 'volumesnapshots', namespaced: true }],
  Workstation: [
    { apiVersion: 'kubeflow.org/v1', kind: 'Notebook', plural: 'notebooks', namespaced: true },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  ],
};

/** Events about cluster-scoped objects go where the kubelet and controllers put them. */
const CLUSTER_EVENT_NAMESPACE = 'default';
const MAX_MESSAGE = 1024;

export interface EventMirrorDeps {
  /** Read on every entry, so turning the setting on or off takes effect at once. */
  enabled(): Promise<boolean>;
  /** How to reach the entry's cluster (throws NOT_CONNECTED and the like: counted as a failure). */
  access(clusterId: string): Promise<KubeAccess>;
  /** Names this Tessera in reportingInstance and source.host. */
  host: string;
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** Whether the entry names at least one object this mirror can put an Event on. */
export function mirrorsEntry(entry: AuditEntry): boolean {
  return entry.cluster !== undefined && entry.targets.some((t) => KINDS[t.kind] !== undefined && (t.namespace !== undefined || !KINDS[t.kind]![0]!.namespaced));
}

/** The core/v1 Event for one entry and object. */
export function auditEvent(entry: AuditEntry, obj: InvolvedObject, host: string): Record<string, unknown> {
  const who = `${entry.actor.osUser}@${entry.actor.host}${entry.actor.kubeUser ? ` (as ${entry.actor.kubeUser})` : ''}`;
  let message = `${who}: ${entry.action} ${entry.outcome}${entry.error ? `: ${entry.error.message}` : ''} (Tessera audit entry ${entry.seq})`;
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  const suffix = entry.id.replace(/-/g, '').slice(0, 16);
  // Object names are DNS subdomains up to 253 characters; keep room for the suffix.
  const name = `${obj.name.slice(0, 253 - 1 - suffix.length)}.${suffix}`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name,
      namespace: obj.namespace ?? CLUSTER_EVENT_NAMESPACE,
      annotations: { 'tessera.dev/audit-id': entry.id, 'tessera.dev/audit-seq': String(entry.seq) },
    },
    involvedObject: obj,
    reason: EVENT_REASON,
    action: entry.action.slice(0, 128),
    message,
    type: entry.outcome === 'failed' ? 'Warning' : 'Normal',
    source: { component: EVENT_COMPONENT, host },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: host.slice(0, 128),
    firstTimestamp: entry.time,
    lastTimestamp: entry.time,
    count: 1,
  };
}

export class KubeEventMirror implements AuditMirror {
  constructor(private readonly deps: EventMirrorDeps) {}

  async mirror(entry: AuditEntry): Promise<void | 'skipped'> {
    if (!mirrorsEntry(entry) || !(await this.deps.enabled())) return 'skipped';
    const kc = await this.deps.access(entry.cluster!);
    const failures: string[] = [];
    for (const t of entry.targets) {
      const candidates = KINDS[t.kind];
      if (!candidates || (candidates[0]!.namespaced && t.namespace === undefined)) continue;
      try {
        const obj = await this.involved(kc, candidates, t.name, t.namespace);
        await kubeJson(kc, `/api/v1/namespaces/${obj.namespace ?? CLUSTER_EVENT_NAMESPACE}/events`, {
          method: 'POST',
          body: auditEvent(entry, obj, this.deps.host),
          action: `record a ${EVENT_REASON} event on ${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`,
        });
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (failures.length) throw new Error(failures.join('; '));
  }

  /** The first candidate kind the object exists as, with its uid (kubectl describe matches on it); else the first, uid-less. */
  private async involved(kc: KubeAccess, candidates: ApiKind[], name: string, namespace: string | undefined): Promise<InvolvedObject> {
    for (const c of candidates) {
      const base = c.apiVersion === 'v1' ? '/api/v1' : `/apis/${c.apiVersion}`;
      const path = `${base}/${c.namespaced ? `namespaces/${encodeURIComponent(namespace!)}/` : ''}${c.plural}/${encodeURIComponent(name)}`;
      const found = await kubeJson<{ metadata?: { uid?: string } }>(kc, path, { action: `read ${c.kind} ${name}` }).catch(() => null);
      if (found?.metadata?.uid) return { apiVersion: c.apiVersion, kind: c.kind, name, ...(c.namespaced ? { namespace } : {}), uid: found.metadata.uid };
    }
    const c = candidates[0]!;
    return { apiVersion: c.apiVersion, kind: c.kind, name, ...(c.namespaced ? { namespace } : {}) };
  }
}
