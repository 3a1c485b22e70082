// The GPU Operator's API objects as a real install leaves them: the
// ClusterPolicy and NVIDIADriver CRDs (nvidia.com), the ClusterPolicy
// `cluster-policy`, and the MIG manager's ConfigMap `default-mig-parted-config`.
// Schemas are our own and minimal (spec/status keep unknown fields), so the
// console reads and patches them as it would the operator's.
import yaml from 'js-yaml';
import { MIG_MODELS, type MigModel } from '../../../shared/gpu/mig-geometry.ts';
import { toMigPartedFile, type MigPartedEntry } from '../../../shared/gpu/mig-parted.ts';
import { Kube, KubeError } from '../kube.ts';
import type { NodeSpec } from './catalog.ts';
import { DRIVERS, type DriverKey } from './gpus.ts';

export const NVIDIA_GROUP = 'nvidia.com';
export const CLUSTER_POLICY_CRD = 'clusterpolicies.nvidia.com';
export const NVIDIA_DRIVER_CRD = 'nvidiadrivers.nvidia.com';
export const CLUSTER_POLICY_NAME = 'cluster-policy';
export const CLUSTER_POLICIES = '/apis/nvidia.com/v1/clusterpolicies';
export const NVIDIA_DRIVERS = '/apis/nvidia.com/v1alpha1/nvidiadrivers';
export const clusterPolicyPath = (name = CLUSTER_POLICY_NAME) => `${CLUSTER_POLICIES}/${name}`;
/** The operator's MIG manager ConfigMap (in the gpu-operator namespace), key config.yaml. */
export const DEFAULT_MIG_CONFIG = 'default-mig-parted-config';
export const MIG_CONFIG_KEY = 'config.yaml';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const MANAGED = { 'app.kubernetes.io/part-of': 'gpu-operator', 'app.kubernetes.io/managed-by': 'tessera-testbed' };

const OPEN_OBJECT = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const SCHEMA = {
  openAPIV3Schema: {
    type: 'object',
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: OPEN_OBJECT, status: OPEN_OBJECT },
  },
};

function crd(plural: string, kind: string, version: string, shortNames: string[], columns: Array<{ jsonPath: string; name: string; type: string }>): unknown {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${NVIDIA_GROUP}`, labels: MANAGED },
    spec: {
      group: NVIDIA_GROUP,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), ...(shortNames.length ? { shortNames } : {}) },
      scope: 'Cluster',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: SCHEMA,
          subresources: { status: {} },
          additionalPrinterColumns: [...columns, { jsonPath: '.metadata.creationTimestamp', name: 'Age', type: 'date' }],
        },
      ],
    },
  };
}

export const CLUSTER_POLICY_CRD_OBJECT = crd('clusterpolicies', 'ClusterPolicy', 'v1', [], [{ jsonPath: '.status.state', name: 'Status', type: 'string' }]);
export const NVIDIA_DRIVER_CRD_OBJECT = crd('nvidiadrivers', 'NVIDIADriver', 'v1alpha1', ['nvd', 'nvdriver', 'nvdrivers'], [
  { jsonPath: '.status.state', name: 'Status', type: 'string' },
  { jsonPath: '.spec.default', name: 'Default', type: 'boolean' },
]);

/**
 * The driver version a ClusterPolicy can name for this fleet: the one most GPU
 * nodes run (the newest on a tie). The fleet mixes branches on purpose, as a
 * cluster in the middle of a rollout does.
 */
export function startingDriverVersion(specs: readonly NodeSpec[]): string {
  // `up --driver-version V` puts every GPU node on V: the policy names it.
  const forced = specs.find((s) => s.gpu?.driverVersion)?.gpu?.driverVersion;
  if (forced) return forced;
  const count = new Map<DriverKey, number>();
  for (const s of specs) if (s.gpu) count.set(s.gpu.driver, (count.get(s.gpu.driver) ?? 0) + 1);
  const keys = (Object.keys(DRIVERS) as DriverKey[]).filter((k) => count.has(k));
  if (keys.length === 0) return DRIVERS.r550.full;
  keys.sort((a, b) => count.get(b)! - count.get(a)! || DRIVERS[b].full.localeCompare(DRIVERS[a].full, 'en', { numeric: true }));
  return DRIVERS[keys[0]!].full;
}

/** The ClusterPolicy a Helm install with MIG manager and auto-upgrade on renders (Helm defaults from gpu.md §4.1). */
export function clusterPolicy(driverVersion: string, migStrategy: 'single' | 'mixed' = 'mixed'): Record<string, unknown> {
  return {
    apiVersion: 'nvidia.com/v1',
    kind: 'ClusterPolicy',
    metadata: { name: CLUSTER_POLICY_NAME, labels: MANAGED },
    spec: {
      operator: { defaultRuntime: 'containerd', runtimeClass: 'nvidia', initContainer: {} },
      daemonsets: { priorityClassName: 'system-node-critical', updateStrategy: 'RollingUpdate' },
      mig: { strategy: migStrategy },
      driver: {
        enabled: true,
        useNvidiaDriverCRD: false,
        repository: 'nvcr.io/nvidia',
        image: 'driver',
        version: driverVersion,
        manager: {},
        upgradePolicy: {
          autoUpgrade: true,
          maxParallelUpgrades: 1,
          maxUnavailable: '25%',
          waitForCompletion: { timeoutSeconds: 0 },
          podDeletion: { force: false, timeoutSeconds: 300, deleteEmptyDir: false },
          drain: { enable: false, force: false, timeoutSeconds: 300, deleteEmptyDir: false },
        },
      },
      toolkit: { enabled: true },
      devicePlugin: { enabled: true, config: { name: '', default: '' } },
      gfd: { enabled: true },
      dcgm: { enabled: true },
      dcgmExporter: { enabled: true, config: { name: '' } },
      migManager: {
        enabled: true,
        config: { name: DEFAULT_MIG_CONFIG, default: 'all-disabled' },
        gpuClientsConfig: { name: '' },
        env: [{ name: 'WITH_REBOOT', value: 'false' }],
      },
      validator: { plugin: { env: [{ name: 'WITH_WORKLOAD', value: 'false' }] } },
    },
  };
}

/** The mig-parted config name for a profile, as config-default.yaml spells it (`1g.10gb+me` → `all-1g.10gb.me`). */
export function allConfigName(profile: string): string {
  return `all-${profile.replace(/\+/g, '.')}`;
}

/**
 * config-default.yaml's configs for the given models: all-disabled, all-enabled,
 * all-<profile> at the profile's max count, and all-balanced. Models that ask
 * for the same count share one entry whose device-filter lists all their PCI IDs.
 */
export function defaultMigConfigs(models: readonly MigModel[] = MIG_MODELS): Record<string, MigPartedEntry[]> {
  const configs: Record<string, MigPartedEntry[]> = {
    'all-disabled': [{ devices: 'all', enabled: false, counts: {} }],
    'all-enabled': [{ devices: 'all', enabled: true, counts: {} }],
  };
  const grouped = new Map<string, Map<string, { ids: string[]; counts: Record<string, number> }>>();
  const add = (name: string, counts: Record<string, number>, ids: string[]) => {
    const byCounts = grouped.get(name) ?? new Map();
    grouped.set(name, byCounts);
    const key = JSON.stringify(counts);
    const group = byCounts.get(key) ?? { ids: [], counts };
    group.ids.push(...ids);
    byCounts.set(key, group);
  };
  for (const m of models) for (const p of m.profiles) add(allConfigName(p.name), { [p.name]: p.maxCount }, m.deviceIds);
  for (const m of models) add('all-balanced', m.balanced, m.deviceIds);
  for (const [name, byCounts] of grouped) {
    configs[name] = [...byCounts.values()].map((g) => ({ deviceFilter: [...new Set(g.ids)], devices: 'all', enabled: true, counts: g.counts }));
  }
  return configs;
}

export function defaultMigConfigYaml(models: readonly MigModel[] = MIG_MODELS): string {
  return yaml.dump(toMigPartedFile(defaultMigConfigs(models)), { lineWidth: -1, noRefs: true, quotingType: '"' });
}

async function createIfMissing(kube: Kube, collection: string, obj: unknown): Promise<boolean> {
  try {
    await kube.create(collection, obj);
    return true;
  } catch (err) {
    if (err instanceof KubeError && err.status === 409) return false;
    throw err;
  }
}

async function waitEstablished(kube: Kube, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const obj = await kube.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(`${CRDS}/${name}`);
    if (obj.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Creates a custom object, retrying the 404 an API server gives for a moment after its CRD is Established. */
async function createCustom(kube: Kube, collection: string, obj: unknown, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await createIfMissing(kube, collection, obj);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates what is missing (an existing object, perhaps changed by a test or by
 * Tessera, is left as it is): the two CRDs, the ClusterPolicy with status
 * ready, and the default MIG ConfigMap in `namespace`.
 */
export async function ensureOperatorObjects(kube: Kube, specs: readonly NodeSpec[], namespace: string): Promise<void> {
  await createIfMissing(kube, CRDS, CLUSTER_POLICY_CRD_OBJECT);
  await createIfMissing(kube, CRDS, NVIDIA_DRIVER_CRD_OBJECT);
  await waitEstablished(kube, CLUSTER_POLICY_CRD);
  await waitEstablished(kube, NVIDIA_DRIVER_CRD);
  await createIfMissing(kube, `/api/v1/namespaces/${namespace}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: DEFAULT_MIG_CONFIG, namespace, labels: { ...MANAGED, 'app.kubernetes.io/component': 'nvidia-mig-manager' } },
    data: { [MIG_CONFIG_KEY]: defaultMigConfigYaml() },
  });
  // Nodes already running MIG keep their own strategy (as a per-node device plugin config would);
  // the policy's `mixed` is what a node turning MIG on gets, the strategy that can express any layout.
  const created = await createCustom(kube, CLUSTER_POLICIES, clusterPolicy(startingDriverVersion(specs), 'mixed'));
  if (created) {
    await kube.patch(`${clusterPolicyPath()}/status`, { status: { state: 'ready', namespace } }, 'merge');
  }
}
