// The storage and notebook APIs a workstation needs, installed as a real
// cluster would have them: the CSI snapshot CRDs (external-snapshotter v4.2.1,
// the 1.20-era release that serves v1 and v1beta1) and the Kubeflow Notebook CRD
// (kubeflow v1.10.0, the one that loads on 1.20) from ../shared/fixtures/crds/
// when that folder exists, else Tessera's own minimal stand-ins; a default
// StorageClass `tessera-sim`, a default VolumeSnapshotClass and the CSIDriver
// object of the simulated driver (no attach step, like most network storage).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** ../shared/fixtures/crds relative to the repository root. */
export const FIXTURE_CRDS = path.resolve(HERE, '..', '..', '..', '..', 'shared', 'fixtures', 'crds');

export const SIM_DRIVER = 'sim.csi.tessera.dev';
export const SIM_STORAGE_CLASS = 'tessera-sim';
export const SIM_SNAPSHOT_CLASS = 'tessera-sim-snapshots';
/** A second class with Retain, so a console has a real choice of class. */
export const SIM_SNAPSHOT_CLASS_RETAIN = 'tessera-sim-snapshots-retain';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const MANAGED = { 'app.kubernetes.io/managed-by': 'tessera-testbed' };

interface CrdSource {
  name: string;
  fixture: string;
  standIn: () => unknown;
}

const OPEN = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const SCHEMA = { openAPIV3Schema: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: OPEN, status: OPEN } } };
// VolumeSnapshotClass and VolumeSnapshotContent's class carry driver/deletionPolicy at the top level.
const TOP_OPEN_SCHEMA = { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };

/** Groups under k8s.io and kubernetes.io are refused without the API review annotation (KEP 1111); the real snapshot CRDs carry theirs. */
const PROTECTED_GROUP = /(^|\.)(k8s|kubernetes)\.io$/;
const API_APPROVED = { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-csi/external-snapshotter/pull/419' };

function standIn(group: string, plural: string, kind: string, scope: 'Namespaced' | 'Cluster', versions: string[], opts: { topLevel?: boolean; status?: boolean } = {}): unknown {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: MANAGED, ...(PROTECTED_GROUP.test(group) ? { annotations: API_APPROVED } : {}) },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope,
      versions: versions.map((name, i) => ({ name, served: true, storage: i === 0, schema: opts.topLevel ? TOP_OPEN_SCHEMA : SCHEMA, ...(opts.status === false ? {} : { subresources: { status: {} } }) })),
    },
  };
}

export const WORKSTATION_CRDS: CrdSource[] = [
  { name: 'volumesnapshotclasses.snapshot.storage.k8s.io', fixture: 'snapshot/v4.2.1/snapshot.storage.k8s.io_volumesnapshotclasses.yaml', standIn: () => standIn('snapshot.storage.k8s.io', 'volumesnapshotclasses', 'VolumeSnapshotClass', 'Cluster', ['v1'], { topLevel: true, status: false }) },
  { name: 'volumesnapshotcontents.snapshot.storage.k8s.io', fixture: 'snapshot/v4.2.1/snapshot.storage.k8s.io_volumesnapshotcontents.yaml', standIn: () => standIn('snapshot.storage.k8s.io', 'volumesnapshotcontents', 'VolumeSnapshotContent', 'Cluster', ['v1']) },
  { name: 'volumesnapshots.snapshot.storage.k8s.io', fixture: 'snapshot/v4.2.1/snapshot.storage.k8s.io_volumesnapshots.yaml', standIn: () => standIn('snapshot.storage.k8s.io', 'volumesnapshots', 'VolumeSnapshot', 'Namespaced', ['v1']) },
  { name: 'notebooks.kubeflow.org', fixture: 'kubeflow/kubeflow.org_notebooks.base.kubeflow-v1.10.0.yaml', standIn: () => standIn('kubeflow.org', 'notebooks', 'Notebook', 'Namespaced', ['v1', 'v1beta1']) },
];

/** The CRD object to install: the fixture's when present (and `fixtures` allows), else the stand-in. */
export function crdObject(src: CrdSource, fixtures: string | null = FIXTURE_CRDS): { object: Record<string, any>; from: 'fixture' | 'stand-in' } {
  const file = fixtures ? path.join(fixtures, src.fixture) : '';
  if (file && fs.existsSync(file)) {
    const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')) as Array<Record<string, any> | null>;
    const doc = docs.find((d) => d?.kind === 'CustomResourceDefinition');
    if (doc) {
      // The file's status block (acceptedNames, storedVersions) is what a server writes, not what a client sends.
      const { status: _status, ...object } = doc;
      object.metadata = { ...object.metadata, labels: { ...object.metadata?.labels, ...MANAGED } };
      return { object, from: 'fixture' };
    }
  }
  return { object: src.standIn() as Record<string, any>, from: 'stand-in' };
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    const crd = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRDS}/${name}`);
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 30 s`);
    await sleep(200);
  }
}

/** Installs the CRDs, classes and CSIDriver (idempotent); says where each CRD came from. */
export async function installWorkstationApis(kube: Kube, opts: { fixtures?: string | null; log?: (m: string) => void } = {}): Promise<Record<string, 'fixture' | 'stand-in' | 'present'>> {
  const from: Record<string, 'fixture' | 'stand-in' | 'present'> = {};
  for (const src of WORKSTATION_CRDS) {
    const { object, from: origin } = crdObject(src, opts.fixtures === undefined ? FIXTURE_CRDS : opts.fixtures);
    from[src.name] = (await createIfMissing(kube, CRDS, object)) ? origin : 'present';
  }
  for (const src of WORKSTATION_CRDS) await waitEstablished(kube, src.name);
  await createIfMissing(kube, '/apis/storage.k8s.io/v1/csidrivers', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name: SIM_DRIVER, labels: MANAGED },
    spec: { attachRequired: false, podInfoOnMount: false, volumeLifecycleModes: ['Persistent'] },
  });
  await createIfMissing(kube, '/apis/storage.k8s.io/v1/storageclasses', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: SIM_STORAGE_CLASS, labels: MANAGED, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: SIM_DRIVER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
    allowVolumeExpansion: true,
  });
  for (const [name, policy, isDefault] of [
    [SIM_SNAPSHOT_CLASS, 'Delete', true],
    [SIM_SNAPSHOT_CLASS_RETAIN, 'Retain', false],
  ] as const) {
    await createIfMissing(kube, '/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses', {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name, labels: MANAGED, ...(isDefault ? { annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } } : {}) },
      driver: SIM_DRIVER,
      deletionPolicy: policy,
    });
  }
  opts.log?.(`workstation APIs: ${Object.entries(from).map(([k, v]) => `${k.split('.')[0]} (${v})`).join(', ')}`);
  return from;
}
