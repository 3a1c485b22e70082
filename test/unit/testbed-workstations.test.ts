// The workstation simulators' pure parts: CRDs from the fixtures or stand-ins,
// storage sizes, and the notebook controller's pod template.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { crdObject, FIXTURE_CRDS, WORKSTATION_CRDS } from '../testbed/workstations/apis.ts';
import { notebookPodTemplate } from '../testbed/workstations/notebook-sim.ts';
import { bytesQuantity, storageBytes } from '../testbed/workstations/storage-sim.ts';

test('CRDs come from ../shared/fixtures when present, else from stand-ins that keep unknown fields', () => {
  for (const src of WORKSTATION_CRDS) {
    const standIn = crdObject(src, null);
    assert.equal(standIn.from, 'stand-in');
    assert.equal(standIn.object.metadata.name, src.name);
    assert.ok(standIn.object.spec.versions.some((v: { name: string; storage: boolean }) => v.name === 'v1' && v.storage));
    assert.match(JSON.stringify(standIn.object.spec.versions[0].schema), /x-kubernetes-preserve-unknown-fields/);
    if (fs.existsSync(FIXTURE_CRDS)) {
      const real = crdObject(src);
      assert.equal(real.from, 'fixture');
      assert.equal(real.object.metadata.name, src.name);
      assert.equal(real.object.status, undefined, 'server-written status is not sent');
    }
  }
});

test('storage sizes round-trip in the forms PVCs use', () => {
  assert.equal(storageBytes('5Gi'), 5 * 2 ** 30);
  assert.equal(storageBytes('1500Mi'), 1500 * 2 ** 20);
  assert.equal(storageBytes('2G'), 2e9);
  assert.equal(storageBytes('nonsense'), 0);
  assert.equal(bytesQuantity(5 * 2 ** 30), '5Gi');
  assert.equal(bytesQuantity(1500 * 2 ** 20), '1500Mi');
});

test('the notebook controller copies labels, drops kubectl/notebook annotations and applies container defaults', () => {
  const t = notebookPodTemplate({
    metadata: { name: 'nb', namespace: 'ns', uid: 'u', labels: { team: 'a' }, annotations: { keep: '1', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'notebooks.kubeflow.org/creator': 'x', 'kubeflow-resource-stopped': 't' } },
    spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } },
  });
  assert.deepEqual(t.metadata.labels, { team: 'a', statefulset: 'nb', 'notebook-name': 'nb' });
  assert.deepEqual(t.metadata.annotations, { keep: '1' });
  const c = t.spec.containers[0];
  assert.equal(c.workingDir, '/home/jovyan');
  assert.deepEqual(c.ports, [{ name: 'notebook-port', containerPort: 8888, protocol: 'TCP' }]);
  assert.deepEqual(c.env, [{ name: 'NB_PREFIX', value: '/notebook/ns/nb' }]);
  assert.equal(t.spec.securityContext.fsGroup, 100);
});
