// The GPU Operator's dcgm-exporter operand, as the simulator stands in for it:
// namespace gpu-operator, the nvidia-dcgm-exporter Service, and one exporter
// pod per GPU node, recreated when it goes missing (what its DaemonSet does).
// Pods use the pod network like the operator's DaemonSet (no hostNetwork):
// the API server will not proxy to a loopback node IP. Names are
// nvidia-dcgm-exporter-<node> so tests can address a node's exporter directly.
import { Kube, KubeError, mapLimit } from '../kube.ts';
import type { NodeSpec } from './catalog.ts';
import { DCGM_PORT } from './dcgm/exporters.ts';
import { ensureOperatorObjects } from './operator-crds.ts';
import type { Pod } from './pod-informer.ts';

export {
  CLUSTER_POLICIES,
  CLUSTER_POLICY_CRD,
  CLUSTER_POLICY_NAME,
  clusterPolicyPath,
  DEFAULT_MIG_CONFIG,
  MIG_CONFIG_KEY,
  NVIDIA_DRIVER_CRD,
  NVIDIA_DRIVERS,
  startingDriverVersion,
} from './operator-crds.ts';

export const GPU_OPERATOR_NAMESPACE = 'gpu-operator';
export const DCGM_APP = 'nvidia-dcgm-exporter';
export const dcgmPodName = (node: string) => `${DCGM_APP}-${node}`;

const NS = `/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}`;
const MANAGED = { 'app.kubernetes.io/part-of': 'gpu-operator', 'app.kubernetes.io/managed-by': 'tessera-testbed' };

async function createIfMissing(kube: Kube, collection: string, obj: unknown): Promise<void> {
  await kube.create(collection, obj).catch((err) => {
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  });
}

export function dcgmPod(spec: NodeSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: dcgmPodName(spec.name),
      namespace: GPU_OPERATOR_NAMESPACE,
      labels: { app: DCGM_APP, 'app.kubernetes.io/name': 'dcgm-exporter', ...MANAGED },
      // The exporter is up as soon as its node is; no need for the default start delay.
      annotations: { 'tessera.dev/sim-start-delay-ms': '0' },
    },
    spec: {
      nodeName: spec.name,
      priorityClassName: 'system-node-critical',
      serviceAccountName: DCGM_APP,
      automountServiceAccountToken: false,
      // What the DaemonSet controller adds, plus the operator's own nvidia.com/gpu toleration.
      tolerations: [
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
      ],
      containers: [
        {
          name: DCGM_APP,
          image: spec.gpu!.exporter.image,
          env: [
            { name: 'DCGM_EXPORTER_LISTEN', value: `:${DCGM_PORT}` },
            { name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' },
            { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          ],
          ports: [{ name: 'metrics', containerPort: DCGM_PORT, protocol: 'TCP' }],
          securityContext: { privileged: true },
        },
      ],
    },
  };
}

export class GpuOperator {
  private readonly gpuNodes: NodeSpec[];
  /** Nodes whose exporter is paused (gpu.deploy.dcgm-exporter=paused-for-mig-change): the DaemonSet leaves them alone. */
  paused: (node: string) => boolean = () => false;

  constructor(
    private readonly kube: Kube,
    specs: NodeSpec[],
    private readonly pods: () => Map<string, Pod>,
    /** Nodes whose Node object is gone: their pods would only be garbage-collected again. */
    private readonly nodeGone: (node: string) => boolean,
    private readonly log: (m: string) => void,
  ) {
    this.gpuNodes = specs.filter((s) => s.gpu);
  }

  get expected(): number {
    return this.gpuNodes.length;
  }

  async ensureBase(): Promise<void> {
    await createIfMissing(this.kube, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: GPU_OPERATOR_NAMESPACE, labels: MANAGED } });
    await createIfMissing(this.kube, `${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DCGM_APP, labels: MANAGED } });
    // As the operator's state-dcgm-exporter asset has it (port name gpu-metrics).
    await createIfMissing(this.kube, `${NS}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: DCGM_APP,
        labels: { app: DCGM_APP, ...MANAGED },
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(DCGM_PORT) },
      },
      spec: { selector: { app: DCGM_APP }, ports: [{ name: 'gpu-metrics', port: DCGM_PORT, targetPort: DCGM_PORT, protocol: 'TCP' }] },
    });
    // The CRDs, the ClusterPolicy and the MIG manager's default ConfigMap.
    await ensureOperatorObjects(this.kube, this.gpuNodes, GPU_OPERATOR_NAMESPACE);
  }

  /** Creates the exporter pods that are missing; returns how many it created. */
  async reconcile(): Promise<number> {
    const pods = this.pods();
    const missing = this.gpuNodes.filter((s) => !this.nodeGone(s.name) && !this.paused(s.name) && !pods.has(`${GPU_OPERATOR_NAMESPACE}/${dcgmPodName(s.name)}`));
    if (missing.length === 0) return 0;
    let created = 0;
    await mapLimit(missing, 16, async (spec) => {
      try {
        await this.kube.create(`${NS}/pods`, dcgmPod(spec));
        created++;
      } catch (err) {
        if (err instanceof KubeError && err.status === 409) return;
        this.log(`gpu-operator: creating ${dcgmPodName(spec.name)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    return created;
  }

  running(): number {
    const pods = this.pods();
    let n = 0;
    for (const s of this.gpuNodes) if (pods.get(`${GPU_OPERATOR_NAMESPACE}/${dcgmPodName(s.name)}`)?.status?.phase === 'Running') n++;
    return n;
  }
}
