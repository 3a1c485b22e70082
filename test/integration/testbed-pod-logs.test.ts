// pods/log through the test bed's real API server: it calls the simulated
// kubelet's GET /containerLogs on the pod's node and relays the answer, so
// these are the same requests `kubectl logs` makes.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DCGM_APP, GPU_OPERATOR_NAMESPACE, sharedTestbed, testbedClient, type Kube } from '../testbed/index.ts';

let admin: Kube;
let pod: { name: string; container: string };
const logPath = () => `/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods/${pod.name}/log`;

before(async () => {
  admin = testbedClient(await sharedTestbed());
  const pods = await admin.get<{ items: Array<{ metadata: { name: string }; spec: { containers: Array<{ name: string }> }; status?: { phase?: string } }> }>(`/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods`, { labelSelector: `app=${DCGM_APP}` });
  const running = pods.items.find((p) => p.status?.phase === 'Running');
  assert.ok(running, 'a running dcgm-exporter pod');
  pod = { name: running.metadata.name, container: running.spec.containers[0]!.name };
});

test('a workload container log: its start-up lines, tailLines, timestamps, limitBytes', async () => {
  const all = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container } });
  assert.equal(all.status, 200, all.text);
  assert.match(all.text, new RegExp(`^starting ${pod.container} \\(image [^)]+\\) in pod ${GPU_OPERATOR_NAMESPACE}/${pod.name}\\n`));
  assert.match(all.text, /\nready\n/);
  const tail = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container, tailLines: '1' } });
  assert.equal(tail.text.split('\n').filter(Boolean).length, 1);
  assert.ok(all.text.endsWith(tail.text), 'the tail is the last line');
  const ts = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container, timestamps: 'true', tailLines: '2' } });
  for (const line of ts.text.split('\n').filter(Boolean)) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S/);
  const limited = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container, limitBytes: '10' } });
  assert.equal(limited.text, all.text.slice(0, 10));
  // sinceSeconds far smaller than the pod's age leaves out the start-up banner.
  const recent = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container, sinceSeconds: '1' } });
  assert.equal(recent.status, 200);
  assert.doesNotMatch(recent.text, /^starting /);
});

test('errors: unknown container, no previous container, no such pod', async () => {
  const unknown = await admin.raw('GET', logPath(), undefined, { query: { container: 'nope' } });
  assert.equal(unknown.status, 400, 'the API server refuses a container the pod does not have');
  assert.match(unknown.text, /container nope is not valid for pod/);
  const prev = await admin.raw('GET', logPath(), undefined, { query: { container: pod.container, previous: 'true' } });
  assert.equal(prev.status, 400, prev.text);
  assert.match(prev.text, new RegExp(`previous terminated container \\\\"${pod.container}\\\\" in pod \\\\"${pod.name}\\\\" not found`));
  const missing = await admin.raw('GET', `/api/v1/namespaces/${GPU_OPERATOR_NAMESPACE}/pods/no-such-pod/log`);
  assert.equal(missing.status, 404);
});
