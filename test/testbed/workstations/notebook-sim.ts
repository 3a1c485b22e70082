// A minimal Kubeflow notebook-controller (kubeflow/notebooks v1.11.0
// semantics, see reference/kserve.md §6): a Notebook gets a StatefulSet of its
// name with one replica (zero while it carries `kubeflow-resource-stopped`),
// selector `statefulset: <name>`, the notebook's labels and annotations copied
// to the pod (except keys holding "kubectl" or "notebook"), container[0]
// defaults (workingDir, port 8888 `notebook-port`, NB_PREFIX), fsGroup 100, a
// ClusterIP Service on port 80, and status (readyReplicas, containerState,
// conditions) mirrored back. Owner references let the garbage collector in
// kube-controller-manager remove the children with the Notebook.
import crypto from 'node:crypto';
import { Kube, KubeError } from '../kube.ts';

export const STOP_ANNOTATION = 'kubeflow-resource-stopped';
const HASH = 'tessera.dev/sim-notebook-template';
const NOTEBOOKS = '/apis/kubeflow.org/v1/notebooks';

interface Notebook {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec?: { template?: { spec?: Record<string, any> } };
  status?: Record<string, unknown>;
}
interface Sts {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; ownerReferences?: { uid: string }[] };
  spec: { replicas?: number };
  status?: { readyReplicas?: number };
}

function copyable(map: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !k.includes('kubectl') && !k.includes('notebook') && k !== STOP_ANNOTATION));
}

/** The pod template the controller derives from a Notebook. */
export function notebookPodTemplate(nb: Notebook): Record<string, any> {
  const { name, namespace } = nb.metadata;
  const spec = structuredClone(nb.spec?.template?.spec ?? {}) as Record<string, any>;
  const containers = (spec.containers ?? []) as Record<string, any>[];
  const c0 = containers[0];
  if (c0) {
    c0.workingDir ??= '/home/jovyan';
    if (!c0.ports?.length) c0.ports = [{ name: 'notebook-port', containerPort: 8888, protocol: 'TCP' }];
    const env = (c0.env ?? []) as { name: string; value?: string }[];
    if (!env.some((e) => e.name === 'NB_PREFIX')) env.push({ name: 'NB_PREFIX', value: `/notebook/${namespace}/${name}` });
    c0.env = env;
  }
  spec.securityContext = { fsGroup: 100, ...spec.securityContext };
  return {
    metadata: { labels: { ...nb.metadata.labels, statefulset: name, 'notebook-name': name }, annotations: copyable(nb.metadata.annotations) },
    spec,
  };
}

export class NotebookSim {
  constructor(
    private readonly kube: Kube,
    private readonly log: (m: string) => void,
  ) {}

  async tick(): Promise<void> {
    let notebooks: Notebook[];
    try {
      notebooks = (await this.kube.get<{ items: Notebook[] }>(NOTEBOOKS)).items;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return; // no Notebook API on this cluster
      throw err;
    }
    if (notebooks.length === 0) return;
    const [sets, pods] = await Promise.all([
      this.kube.get<{ items: Sts[] }>('/apis/apps/v1/statefulsets', { labelSelector: 'notebook-name' }),
      this.kube.get<{ items: any[] }>('/api/v1/pods', { labelSelector: 'notebook-name' }),
    ]);
    const stsByKey = new Map(sets.items.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
    const podByKey = new Map(pods.items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    for (const nb of notebooks) {
      if (nb.metadata.deletionTimestamp) continue;
      await this.reconcile(nb, stsByKey.get(`${nb.metadata.namespace}/${nb.metadata.name}`), podByKey.get(`${nb.metadata.namespace}/${nb.metadata.name}-0`)).catch((err) =>
        this.log(`notebook ${nb.metadata.namespace}/${nb.metadata.name}: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  private async reconcile(nb: Notebook, sts: Sts | undefined, pod: any): Promise<void> {
    const { name, namespace, uid } = nb.metadata;
    const replicas = nb.metadata.annotations?.[STOP_ANNOTATION] !== undefined ? 0 : 1;
    const template = notebookPodTemplate(nb);
    const hash = crypto.createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
    const owner = { apiVersion: 'kubeflow.org/v1', kind: 'Notebook', name, uid, controller: true, blockOwnerDeletion: true };
    const base = `/apis/apps/v1/namespaces/${namespace}/statefulsets`;
    if (!sts) {
      await this.kube.create(base, {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name, namespace, labels: { 'notebook-name': name }, annotations: { [HASH]: hash }, ownerReferences: [owner] },
        spec: { replicas, selector: { matchLabels: { statefulset: name } }, serviceName: '', template },
      });
      await this.ensureService(nb, owner);
      this.log(`notebook ${namespace}/${name}: created StatefulSet (replicas ${replicas})`);
    } else if (sts.spec.replicas !== replicas || sts.metadata.annotations?.[HASH] !== hash) {
      await this.kube.patch(`${base}/${name}`, [
        { op: 'replace', path: '/spec/replicas', value: replicas },
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'add', path: `/metadata/annotations/${HASH.replace('/', '~1')}`, value: hash },
      ], 'json');
      this.log(`notebook ${namespace}/${name}: StatefulSet updated (replicas ${replicas})`);
    }
    const ready = sts?.status?.readyReplicas ?? 0;
    const cs = pod?.status?.containerStatuses?.[0];
    const status = {
      readyReplicas: ready,
      containerState: cs?.state ?? {},
      conditions: (pod?.status?.conditions ?? []).map((c: any) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastProbeTime: c.lastProbeTime, lastTransitionTime: c.lastTransitionTime })),
    };
    if (JSON.stringify(status) !== JSON.stringify({ readyReplicas: nb.status?.readyReplicas, containerState: nb.status?.containerState, conditions: nb.status?.conditions })) {
      await this.kube.patch(`${NOTEBOOKS.replace('/notebooks', '')}/namespaces/${namespace}/notebooks/${name}/status`, { status }, 'merge');
    }
  }

  private async ensureService(nb: Notebook, owner: Record<string, unknown>): Promise<void> {
    const { name, namespace } = nb.metadata;
    const port = (nb.spec?.template?.spec?.containers?.[0]?.ports?.[0]?.containerPort as number | undefined) ?? 8888;
    try {
      await this.kube.create(`/api/v1/namespaces/${namespace}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace, labels: { 'notebook-name': name }, ownerReferences: [owner] },
        spec: { type: 'ClusterIP', selector: { statefulset: name }, ports: [{ name: `http-${name}`, port: 80, targetPort: port, protocol: 'TCP' }] },
      });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
  }
}
