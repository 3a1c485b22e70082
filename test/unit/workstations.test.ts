// The pure parts of workstations: state from workload + pod, GPU-hours, the
// quota check, free-capacity offers, the GPU request union, and the objects built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gpuOffers } from '../../shared/gpu/gpu-offers.ts';
import type { NodeRow } from '../../shared/model/node.ts';
import type { WorkstationSpec } from '../../shared/model/workstation.ts';
import { checkSpec, gpuFromRequest } from '../../electron/core/workstations/workstation-service.ts';
import { homeClaim, notebookObject, snapshotCopy, statefulSetObject } from '../../electron/core/workstations/ws-objects.ts';
import { describeQuotaProblem, quotaProblems, workstationDemand } from '../../electron/core/workstations/ws-quota.ts';
import { deriveState, deriveWorkstation, gpuWeight, specOf } from '../../electron/core/workstations/ws-state.ts';
import { TesseraError } from '../../shared/contract/errors.ts';

const spec: WorkstationSpec = { name: 'lab', namespace: 'team-a', image: 'reg/jupyter:1', gpu: { kind: 'mig', profile: '1g.10gb', count: 1 }, cpu: '2', memory: '8Gi', volumeSize: '20Gi', env: [{ name: 'A', value: '1' }] };
const nbBase = notebookObject(spec, 'lab-home', 'alice');
const nb: Record<string, any> = { ...nbBase, metadata: { ...nbBase.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } };
const stsBase = statefulSetObject(spec, 'lab-home');
const sts: Record<string, any> = { ...stsBase, metadata: { ...stsBase.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } };

const pod = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ metadata: { name: 'lab-0', namespace: 'team-a', ...extra }, spec: { nodeName: 'n1' }, status });

test('state: stopped, stopping, starting, running, failed, pending-no-capacity', () => {
  const stopped = { ...nb, metadata: { ...nb.metadata, annotations: { ...nb.metadata.annotations, 'kubeflow-resource-stopped': 'now' } } };
  assert.equal(deriveState(stopped, undefined).state, 'stopped');
  assert.equal(deriveState(stopped, pod({ phase: 'Running' })).state, 'stopping');
  assert.equal(deriveState({ ...sts, spec: { ...sts.spec, replicas: 0 } }, undefined).state, 'stopped');
  assert.equal(deriveState(nb, undefined).state, 'starting');
  assert.equal(deriveState(nb, pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })).state, 'running');
  assert.equal(deriveState(nb, pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })).state, 'starting');
  const failed = deriveState(nb, pod({ phase: 'Failed', reason: 'UnexpectedAdmissionError', message: 'no devices' }));
  assert.deepEqual(failed, { state: 'failed', reason: 'UnexpectedAdmissionError: no devices' });
  assert.equal(deriveState(nb, pod({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } }] })).reason, 'ImagePullBackOff: not found');
  const unsched = deriveState(nb, { metadata: { name: 'lab-0' }, spec: {}, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/24 nodes are available: 24 Insufficient nvidia.com/mig-1g.10gb.' }] } });
  assert.deepEqual(unsched, { state: 'pending-no-capacity', reason: '0/24 nodes are available: 24 Insufficient nvidia.com/mig-1g.10gb.' });
  const volume = deriveState(nb, { metadata: { name: 'lab-0' }, spec: {}, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/24 nodes are available: 24 pod has unbound immediate PersistentVolumeClaims.' }] } });
  assert.equal(volume.state, 'starting');
});

test('GPU-hours: banked seconds plus the live run, weighted by slice size', () => {
  assert.equal(gpuWeight({ kind: 'full', count: 2 }), 2);
  assert.equal(gpuWeight({ kind: 'mig', profile: '3g.40gb', count: 1 }), 3 / 7);
  assert.equal(gpuWeight({ kind: 'mig', profile: '2g.12gb', count: 1 }), 2 / 4, 'A30 has 4 compute slices');
  assert.equal(gpuWeight({ kind: 'none' }), 0);
  const full = { ...nb, metadata: { ...nb.metadata, annotations: { ...nb.metadata.annotations, 'tessera.dev/workstation-spec': JSON.stringify({ ...spec, gpu: { kind: 'full', count: 2 } }), 'tessera.dev/gpu-seconds': '3600' } } };
  const now = Date.parse('2026-01-01T02:00:00Z');
  const w = deriveWorkstation({ clusterId: 'c/x', workload: full, pod: pod({ phase: 'Running', startTime: '2026-01-01T01:00:00Z' }), claims: new Map(), now });
  assert.equal(w.gpuHours, 3, '1 h banked + 1 h × 2 GPUs');
  assert.equal(w.ageSeconds, 7200);
  assert.equal(w.owner, 'alice');
  assert.equal(w.gpuLabel, '2× GPU');
  assert.equal(w.volume?.claim, 'lab-home');
  const short = { ...full, metadata: { ...full.metadata, annotations: { ...full.metadata.annotations, 'tessera.dev/gpu-seconds': '1' } } };
  const banked = deriveWorkstation({ clusterId: 'c/x', workload: short, claims: new Map(), now });
  assert.ok(banked.gpuHours > 0 && Math.abs(banked.gpuHours * 3600 - 1) < 1e-9, `one banked GPU-second is kept, not rounded away (${banked.gpuHours})`);
});

test('spec read back from a Notebook Tessera did not make', () => {
  const foreign = { kind: 'Notebook', metadata: { name: 'nb', namespace: 'kf' }, spec: { template: { spec: { containers: [{ image: 'kf/jupyter', resources: { limits: { 'nvidia.com/mig-2g.20gb': '1', cpu: '1', memory: '2Gi' } }, ports: [{ containerPort: 8888 }] }], volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'nb-ws' } }], nodeSelector: { 'nvidia.com/gpu.product': 'P' } } } } };
  const s = specOf(foreign);
  assert.deepEqual(s.gpu, { kind: 'mig', profile: '2g.20gb', count: 1 });
  assert.equal(s.nodePool, 'P');
  assert.equal(deriveWorkstation({ clusterId: 'c/x', workload: foreign, claims: new Map(), now: 0 }).volume?.claim, 'nb-ws');
});

test('quota: the exceeded quota is named, scoped quotas for other pods are ignored', () => {
  const quotas = [
    { metadata: { name: 'gpus' }, status: { hard: { 'requests.nvidia.com/gpu': '2', 'requests.nvidia.com/mig-1g.10gb': '1' }, used: { 'requests.nvidia.com/gpu': '2', 'requests.nvidia.com/mig-1g.10gb': '1' } } },
    { metadata: { name: 'mem' }, status: { hard: { 'requests.memory': '16Gi' }, used: { 'requests.memory': '12Gi' } } },
    { metadata: { name: 'besteffort' }, spec: { scopes: ['BestEffort'] }, status: { hard: { pods: '0' }, used: { pods: '0' } } },
  ];
  const problems = quotaProblems(quotas, workstationDemand({ ...spec, memory: '4Gi' }, { volume: true }));
  assert.deepEqual(problems.map((p) => `${p.quota}:${p.resource}`), ['gpus:requests.nvidia.com/mig-1g.10gb']);
  const big = quotaProblems(quotas, workstationDemand({ ...spec, gpu: { kind: 'none' }, memory: '5Gi' }, { volume: false }));
  assert.equal(describeQuotaProblem('team-a', big[0]!), 'ResourceQuota "mem" in team-a allows requests.memory 16Gi; 12Gi is in use and this workstation asks for 5Gi');
  assert.deepEqual(quotaProblems(quotas, workstationDemand({ ...spec, gpu: { kind: 'none' }, memory: '4Gi' }, { volume: false })), []);
});

test('offers: free whole GPUs and MIG slices per pool; busy, cordoned and single-strategy nodes handled', () => {
  const row = (name: string, gpu: Partial<NodeRow['gpu']> & { devices: NonNullable<NodeRow['gpu']>['devices'] }, extra: Partial<NodeRow> = {}): NodeRow =>
    ({ name, ready: 'True', unschedulable: false, roles: [], taints: 0, gpu: { product: 'P', model: 'M', count: 1, allocatable: 1, allocated: 0, migInvalid: false, labelGeneration: 'current', inferred: false, ...gpu } as NonNullable<NodeRow['gpu']>, ...extra });
  const rows = [
    row('a', { product: 'H100', devices: [{ index: 0, mig: false, slots: [] }, { index: 1, mig: false, slots: [], holder: { namespace: 'x', name: 'p' } }] }),
    row('b', { product: 'H100', devices: [{ index: 0, mig: false, slots: [] }] }, { unschedulable: true }),
    row('c', { product: 'A100', migStrategy: 'mixed', devices: [{ index: 0, mig: true, slots: [{ profile: '1g.10gb', start: 0, size: 1 }, { profile: '1g.10gb', start: 1, size: 1, holder: { namespace: 'x', name: 'q' } }, { profile: '3g.40gb', start: 4, size: 4 }] }] }),
    row('d', { product: 'A100-MIG-1g.10gb', migStrategy: 'single', devices: [{ index: 0, mig: true, slots: [{ profile: '1g.10gb', start: 0, size: 1 }] }] }),
  ];
  const o = gpuOffers(rows).map((x) => `${x.kind}:${x.profile ?? ''}:${x.pool}:${x.free}/${x.nodes}`);
  assert.deepEqual(o, ['full::A100-MIG-1g.10gb:1/1', 'full::H100:1/1', 'mig:1g.10gb:A100:1/1', 'mig:3g.40gb:A100:1/1']);
});

test('GPU request union and spec checks give clear errors', () => {
  assert.deepEqual(gpuFromRequest({ kind: 'mig', profile: '1g.10gb', count: 2 }), { kind: 'mig', profile: '1g.10gb', count: 2 });
  assert.throws(() => gpuFromRequest({ kind: 'full' }), (e: TesseraError) => e.code === 'INVALID_REQUEST' && /needs a count/.test(e.message));
  assert.throws(() => gpuFromRequest({ kind: 'none', count: 1 }), /takes no count/);
  assert.throws(() => gpuFromRequest({ kind: 'mig', count: 1 }), /MIG profile/);
  assert.throws(() => checkSpec({ ...spec, memory: '0' }), /memory/);
  assert.throws(() => checkSpec({ ...spec, env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }), /A is set twice/);
  assert.doesNotThrow(() => checkSpec(spec));
});

test('objects: one pod spec for both kinds, restore and cross-namespace copy sources', () => {
  const n = notebookObject(spec, 'lab-home');
  const s = statefulSetObject(spec, 'lab-home');
  assert.deepEqual(n.spec.template.spec, s.spec.template.spec);
  assert.equal(n.spec.template.spec.containers[0].resources.limits['nvidia.com/mig-1g.10gb'], '1');
  assert.equal(s.spec.selector.matchLabels['tessera.dev/workstation'], 'lab');
  assert.deepEqual(homeClaim(spec, 'x', { kind: 'VolumeSnapshot', name: 'snap' }).spec.dataSource, { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' });
  const copy = snapshotCopy({ handle: 'h1', driver: 'd', spec, sourceNamespace: 'team-a', sourceName: 's1' }, 'team-b', 'c1', 'x1');
  assert.equal(copy.content.spec.deletionPolicy, 'Retain');
  assert.deepEqual(copy.content.spec.volumeSnapshotRef, { name: 'c1', namespace: 'team-b' });
  assert.equal(copy.snapshot.spec.source.volumeSnapshotContentName, copy.content.metadata.name);
  assert.equal(s.spec.template.spec.affinity, undefined, 'a MIG slice needs no node rule');
  const full = statefulSetObject({ ...spec, gpu: { kind: 'full', count: 1 }, nodePool: undefined }, 'lab-home').spec.template.spec;
  assert.deepEqual(full.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [{ matchExpressions: [{ key: 'nvidia.com/gpu.slices.gi', operator: 'DoesNotExist' }] }], 'a whole GPU keeps off single-strategy MIG nodes');
  assert.equal(statefulSetObject({ ...spec, gpu: { kind: 'full', count: 1 }, nodePool: 'NVIDIA-A30-MIG-1g.6gb' }, 'lab-home').spec.template.spec.affinity, undefined, 'a chosen pool decides');
});
