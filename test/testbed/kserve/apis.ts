// What a KServe install leaves in a cluster, for the test bed: the KServe CRDs
// (from ../shared/fixtures/crds/kserve/full, v0.20.0, when that folder exists,
// else Tessera's own minimal stand-ins), a stand-in Knative Service CRD (so
// discovery sees that Serverless mode is available), the serving runtimes of
// runtimes.ts, the `inferenceservice-config` ConfigMap and a `models` PVC in
// the namespaces that serve models (so `pvc://models/...` URIs exist).
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';
import { crdObject, FIXTURE_CRDS, SIM_STORAGE_CLASS } from '../workstations/apis.ts';
import { clusterRuntimes, namespacedRuntimes, RUNTIME_NAMESPACE } from './runtimes.ts';

export const KSERVE_NAMESPACE = 'kserve';
export const CONFIG_MAP = 'inferenceservice-config';
export const DEFAULT_DEPLOYMENT_MODE = 'Serverless';
/** Namespaces that get a `models` PVC (and exist even without the seeded workloads). */
export const MODEL_NAMESPACES = [RUNTIME_NAMESPACE, 'team-a'];
export const MODELS_PVC = 'models';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const MANAGED = { 'app.kubernetes.io/managed-by': 'tessera-testbed' };
const OPEN = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const SCHEMA = { openAPIV3Schema: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: OPEN, status: OPEN } } };

function standIn(group: string, version: string, plural: string, kind: string, scope: 'Namespaced' | 'Cluster', shortNames: string[], extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: MANAGED },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), ...(shortNames.length ? { shortNames } : {}) },
      scope,
      versions: [{ name: version, served: true, storage: true, schema: SCHEMA, subresources: { status: {} }, ...extra }],
    },
  };
}

// The same printer columns as the real ISVC CRD, so `kubectl get isvc` reads alike on the stand-in.
const ISVC_COLUMNS = {
  additionalPrinterColumns: [
    { jsonPath: '.status.url', name: 'URL', type: 'string' },
    { jsonPath: ".status.conditions[?(@.type=='Ready')].status", name: 'Ready', type: 'string' },
    { jsonPath: ".status.components.predictor.traffic[?(@.tag=='prev')].percent", name: 'Prev', type: 'integer' },
    { jsonPath: '.status.components.predictor.traffic[?(@.latestRevision==true)].percent', name: 'Latest', type: 'integer' },
    { jsonPath: '.status.components.predictor.latestReadyRevision', name: 'LatestReadyRevision', type: 'string' },
  ],
};

export const KSERVE_CRDS = [
  {
    name: 'inferenceservices.serving.kserve.io',
    fixture: 'kserve/full/serving.kserve.io_inferenceservices.yaml',
    standIn: () => standIn('serving.kserve.io', 'v1beta1', 'inferenceservices', 'InferenceService', 'Namespaced', ['isvc'], ISVC_COLUMNS),
  },
  {
    name: 'servingruntimes.serving.kserve.io',
    fixture: 'kserve/full/serving.kserve.io_servingruntimes.yaml',
    standIn: () => standIn('serving.kserve.io', 'v1alpha1', 'servingruntimes', 'ServingRuntime', 'Namespaced', []),
  },
  {
    name: 'clusterservingruntimes.serving.kserve.io',
    fixture: 'kserve/full/serving.kserve.io_clusterservingruntimes.yaml',
    standIn: () => standIn('serving.kserve.io', 'v1alpha1', 'clusterservingruntimes', 'ClusterServingRuntime', 'Cluster', []),
  },
];

/** Knative Serving's Service, as a stand-in only: its presence is what says Serverless mode can work. */
export const KNATIVE_SERVICE_CRD = {
  name: 'services.serving.knative.dev',
  object: () => standIn('serving.knative.dev', 'v1', 'services', 'Service', 'Namespaced', ['kservice', 'ksvc']),
};

/**
 * Drops what a 1.20.2 API server built the upstream way (Go 1.15) accepts but
 * other builds of it reject: `default: ""` on string fields (340 of them in
 * the v0.20 ISVC CRD, see SOURCES.md "EMPTY-DEFAULT"), and CEL rules
 * (`x-kubernetes-validations`, unknown to 1.20). Nothing else changes.
 */
export function stripFor120(node: unknown): number {
  let dropped = 0;
  if (Array.isArray(node)) {
    for (const v of node) dropped += stripFor120(v);
  } else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.default === '') {
      delete o.default;
      dropped++;
    }
    if ('x-kubernetes-validations' in o) {
      delete o['x-kubernetes-validations'];
      dropped++;
    }
    for (const v of Object.values(o)) dropped += stripFor120(v);
  }
  return dropped;
}

async function createIfMissing(kube: Kube, collection: string, body: unknown): Promise<boolean> {
  try {
    await kube.create(collection, body);
    return true;
  } catch (err) {
    if (err instanceof KubeError && err.status === 409) return false;
    throw err;
  }
}

async function waitEstablished(kube: Kube, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const crd = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRDS}/${name}`);
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 60 s`);
    await sleep(250);
  }
}

/** The first request after Established can still 404 while the API server installs the handler. */
async function waitServed(kube: Kube, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await kube.get(path, { limit: 1 });
      return;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404) || Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

export type ApiOrigin = 'fixture' | 'stand-in' | 'present';

/** Installs the KServe APIs, runtimes, ConfigMap and model PVCs (idempotent); says where each CRD came from. */
export async function installKserveApis(kube: Kube, opts: { fixtures?: string | null; log?: (m: string) => void } = {}): Promise<Record<string, ApiOrigin>> {
  const from = await installKserveCrds(kube, opts);
  await installKserveObjects(kube);
  return from;
}

/**
 * The CRDs, created and Established. The big v0.20 ones take the API server
 * 5–15 s to establish, so `up` runs this while the workloads settle.
 */
export async function installKserveCrds(kube: Kube, opts: { fixtures?: string | null; log?: (m: string) => void } = {}): Promise<Record<string, ApiOrigin>> {
  const t0 = performance.now();
  const from: Record<string, ApiOrigin> = {};
  for (const src of KSERVE_CRDS) {
    const { object, from: origin } = crdObject(src, opts.fixtures === undefined ? FIXTURE_CRDS : opts.fixtures);
    if (origin === 'fixture') stripFor120(object);
    from[src.name] = (await createIfMissing(kube, CRDS, object)) ? origin : 'present';
  }
  from[KNATIVE_SERVICE_CRD.name] = (await createIfMissing(kube, CRDS, KNATIVE_SERVICE_CRD.object())) ? 'stand-in' : 'present';
  for (const name of [...KSERVE_CRDS.map((c) => c.name), KNATIVE_SERVICE_CRD.name]) await waitEstablished(kube, name);
  await waitServed(kube, '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes');
  await waitServed(kube, '/apis/serving.kserve.io/v1beta1/inferenceservices');
  opts.log?.(`KServe APIs established in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${Object.entries(from).map(([k, v]) => `${k.split('.')[0]} (${v})`).join(', ')}`);
  return from;
}

/** Runtimes, the inferenceservice-config ConfigMap, namespaces and `models` PVCs; the CRDs must be served. */
export async function installKserveObjects(kube: Kube): Promise<void> {
  for (const ns of [KSERVE_NAMESPACE, ...MODEL_NAMESPACES]) {
    await createIfMissing(kube, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const rt of clusterRuntimes()) await createIfMissing(kube, '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes', rt);
  for (const rt of namespacedRuntimes()) await createIfMissing(kube, `/apis/serving.kserve.io/v1alpha1/namespaces/${rt.metadata.namespace}/servingruntimes`, rt);
  await createIfMissing(kube, `/api/v1/namespaces/${KSERVE_NAMESPACE}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG_MAP, namespace: KSERVE_NAMESPACE, labels: MANAGED },
    data: {
      deploy: JSON.stringify({ defaultDeploymentMode: DEFAULT_DEPLOYMENT_MODE }),
      ingress: JSON.stringify({ ingressDomain: 'example.com', urlScheme: 'http', disableIstioVirtualHost: false }),
    },
  });
  // Like Kubeflow's kubeflow-kserve-* roles: the built-in edit/admin/view roles cover KServe objects
  // (through the aggregation controller), so team-a (edit in team-a) may deploy models there.
  for (const [name, verbs, to] of [
    ['tessera-kserve-edit', ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'], ['edit', 'admin']],
    ['tessera-kserve-view', ['get', 'list', 'watch'], ['view']],
  ] as const) {
    await createIfMissing(kube, '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: { ...MANAGED, ...Object.fromEntries(to.map((r) => [`rbac.authorization.k8s.io/aggregate-to-${r}`, 'true'])) } },
      rules: [{ apiGroups: ['serving.kserve.io'], resources: ['inferenceservices', 'inferenceservices/status', 'servingruntimes', 'servingruntimes/status'], verbs }],
    });
  }
  for (const ns of MODEL_NAMESPACES) {
    await createIfMissing(kube, `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: MODELS_PVC, namespace: ns, labels: { ...MANAGED, 'tessera.dev/purpose': 'models' } },
      spec: { accessModes: ['ReadWriteMany'], storageClassName: SIM_STORAGE_CLASS, resources: { requests: { storage: '200Gi' } } },
    });
  }
}
