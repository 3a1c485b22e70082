// The pure parts of issue 7's finish: the namespace idle policy and what it
// flags, the cross-cluster clone's reachability rules and refusals, the
// state fields the UI shows, and the IDE forward's token guard (against a
// local HTTP server standing in for the pod).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { TokenProxy } from '../../electron/core/portforward/token-proxy.ts';
import { crossClusterPlan } from '../../electron/core/workstations/ws-cross-cluster.ts';
import { idePath, idePort } from '../../electron/core/workstations/ws-forwards.ts';
import { idleOf, idlePolicyOf, idleStopReason, parseDuration, podActivity } from '../../electron/core/workstations/ws-idle.ts';
import { deriveWorkstation } from '../../electron/core/workstations/ws-state.ts';
import { IDLE_DEFAULTS } from '../../shared/model/workstation.ts';

test('durations: s/m/h/d and combinations; anything else is not one', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('2d'), 172800);
  for (const bad of ['', '30', 'm', '10 m', '-5m', '1w', '0s']) assert.equal(parseDuration(bad), undefined, bad);
});

test('idle policy from namespace annotations: defaults, a full policy, and a typo that only flags', () => {
  assert.deepEqual(idlePolicyOf(undefined), IDLE_DEFAULTS);
  assert.deepEqual(idlePolicyOf({ 'other/annotation': 'x' }), IDLE_DEFAULTS);
  assert.deepEqual(idlePolicyOf({ 'tessera.dev/ws-idle-gpu-below': '10%', 'tessera.dev/ws-idle-after': '2h', 'tessera.dev/ws-idle-action': 'stop' }), { belowPct: 10, afterSeconds: 7200, action: 'stop', source: 'namespace' });
  const typo = idlePolicyOf({ 'tessera.dev/ws-idle-after': '2 hours', 'tessera.dev/ws-idle-action': 'stop' });
  assert.equal(typo.action, 'flag', 'a policy with a bad value never stops anyone');
  assert.match(typo.problem!, /ws-idle-after: "2 hours" is not a duration/);
  assert.match(idlePolicyOf({ 'tessera.dev/ws-idle-action': 'kill' }).problem!, /"kill" is neither flag nor stop/);
  assert.match(idlePolicyOf({ 'tessera.dev/ws-idle-gpu-below': '150' }).problem!, /not a percentage/);
});

test('idle: flagged once the quiet period reaches the policy; a missing or broken mark is not idle', () => {
  const policy = { ...IDLE_DEFAULTS, afterSeconds: 60 };
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  assert.deepEqual(idleOf(policy, '2026-01-01T10:00:00Z', t0 + 59_000), { since: '2026-01-01T10:00:00.000Z', seconds: 59, flagged: false, policy });
  assert.equal(idleOf(policy, '2026-01-01T10:00:00Z', t0 + 60_000)!.flagged, true);
  assert.equal(idleOf(policy, undefined, t0), undefined);
  assert.equal(idleOf(policy, 'yesterday', t0), undefined);
  const reason = idleStopReason({ ...policy, action: 'stop' }, idleOf(policy, '2026-01-01T10:00:00Z', t0 + 7200_000)!, 'team-a');
  assert.equal(reason, 'idle: GPU activity below 5% for 2h (since 2026-01-01T10:00:00.000Z); the idle policy of namespace team-a stops workstations after 1m');
});

test('pod activity: the busiest device the pod holds, whole GPU or MIG; none reported is unknown', () => {
  const gpus = [
    { utilPct: 80, pod: 'other-0', namespace: 'a', mig: [] },
    { mig: [{ utilPct: 1, pod: 'ws-0', namespace: 'a' }, { utilPct: 30, pod: 'ws-0', namespace: 'a' }, { utilPct: 90, pod: 'ws-0', namespace: 'b' }] },
  ];
  assert.equal(podActivity(gpus, 'a', 'ws-0'), 30);
  assert.equal(podActivity(gpus, 'a', 'other-0'), 80);
  assert.equal(podActivity(gpus, 'a', 'nobody-0'), undefined);
});

const wsObj = (annotations: Record<string, string> = {}, replicas = 1) => ({
  kind: 'StatefulSet',
  metadata: { name: 'w', namespace: 'a', creationTimestamp: '2026-01-01T09:00:00Z', annotations: { 'tessera.dev/workstation-spec': JSON.stringify({ name: 'w', namespace: 'a', image: 'i', gpu: { kind: 'full', count: 1 }, cpu: '1', memory: '1Gi', volumeSize: '1Gi' }), ...annotations } },
  spec: { replicas, template: { spec: { containers: [{ name: 'workstation' }], volumes: [] } } },
});
const runningPod = (annotations: Record<string, string> = {}) => ({ metadata: { name: 'w-0', annotations }, spec: { nodeName: 'n1' }, status: { phase: 'Running', startTime: '2026-01-01T09:00:00Z', conditions: [{ type: 'Ready', status: 'True' }] } });

test('state: idle comes from the pod mark under the namespace policy; the stop reason shows only while stopped', () => {
  const now = Date.parse('2026-01-01T10:00:00Z');
  const policy = { ...IDLE_DEFAULTS, afterSeconds: 600, source: 'namespace' as const };
  const idle = deriveWorkstation({ clusterId: 'c', workload: wsObj(), pod: runningPod({ 'tessera.dev/gpu-idle-since': '2026-01-01T09:45:00Z' }), claims: new Map(), now, policy });
  assert.equal(idle.idle?.seconds, 900);
  assert.equal(idle.idle?.flagged, true);
  assert.equal(deriveWorkstation({ clusterId: 'c', workload: wsObj(), pod: runningPod(), claims: new Map(), now }).idle, undefined);
  const reason = 'idle: GPU activity below 5% for 2h';
  const stopped = deriveWorkstation({ clusterId: 'c', workload: wsObj({ 'tessera.dev/stopped-reason': reason }, 0), claims: new Map(), now });
  assert.equal(stopped.state, 'stopped');
  assert.equal(stopped.stoppedReason, reason);
  assert.equal(deriveWorkstation({ clusterId: 'c', workload: wsObj({ 'tessera.dev/stopped-reason': reason }), pod: runningPod(), claims: new Map(), now }).stoppedReason, undefined);
});

test('IDE path and port: NB_PREFIX for Kubeflow images, the spec port before the declared one', () => {
  const pod = { spec: { containers: [{ env: [{ name: 'NB_PREFIX', value: '/notebook/a/w' }], ports: [{ containerPort: 8080 }] }] } };
  assert.equal(idePath(pod), '/notebook/a/w/');
  assert.equal(idePath({ spec: { containers: [{}] } }), '/');
  assert.equal(idePort(undefined, pod), 8080);
  assert.equal(idePort(8443, pod), 8443);
  assert.equal(idePort(undefined, { spec: { containers: [{}] } }), 8888);
});

const target = (over: Partial<Parameters<typeof crossClusterPlan>[1]> = {}) => ({
  clusterId: 'site-b',
  snapshotApi: true,
  snapshotClasses: [
    { name: 'fast', driver: 'rbd.csi.ceph.com', default: false },
    { name: 'default-rbd', driver: 'rbd.csi.ceph.com', default: true },
  ],
  storageClasses: [{ name: 'ceph-rbd', provisioner: 'rbd.csi.ceph.com', default: true }],
  ...over,
});

test('cross-cluster clone: same driver on both sides; each missing piece refused with the reason', () => {
  const src = { driver: 'rbd.csi.ceph.com', handle: '0001-0024-abc', className: 'fast' };
  assert.deepEqual(crossClusterPlan(src, target()), { ok: true, snapshotClass: 'fast', storageClass: 'ceph-rbd' });
  assert.deepEqual(crossClusterPlan({ ...src, className: 'gone' }, target()), { ok: true, snapshotClass: 'default-rbd', storageClass: 'ceph-rbd' });
  const refused = (plan: ReturnType<typeof crossClusterPlan>) => (plan.ok ? '' : plan.reason);
  assert.match(refused(crossClusterPlan(src, target({ snapshotApi: false }))), /cluster site-b has no VolumeSnapshot API/);
  assert.match(refused(crossClusterPlan({ driver: src.driver }, target())), /no snapshot handle yet/);
  assert.equal(refused(crossClusterPlan(src, target({ snapshotClasses: [{ name: 'ebs', driver: 'ebs.csi.aws.com', default: true }] }))), 'cluster site-b has no VolumeSnapshotClass for driver rbd.csi.ceph.com (only ebs.csi.aws.com), so the snapshot\'s storage cannot be reached from there');
  assert.match(refused(crossClusterPlan(src, target({ storageClasses: [{ name: 'local', provisioner: 'kubernetes.io/no-provisioner', default: true }] }))), /no StorageClass provisioned by rbd\.csi\.ceph\.com/);
});

// The token guard, against a local server standing in for the pod's IDE.
let upstream: http.Server;
let upstreamPort = 0;
let proxy: TokenProxy;
const seenCookies: (string | undefined)[] = [];

before(async () => {
  upstream = http.createServer((req, res) => {
    seenCookies.push(req.headers.cookie);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`ide ${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  proxy = new TokenProxy({ connect: () => net.connect(upstreamPort, '127.0.0.1'), token: 'sekrit-token-of-this-forward' });
  await proxy.listen();
});

after(() => {
  proxy.close();
  upstream.close();
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: proxy.localPort, path, headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

test('token proxy: no token, a wrong token or a foreign Host is refused; the token becomes a cookie; our cookie never reaches the IDE', async () => {
  assert.equal((await get('/lab')).status, 403);
  assert.equal((await get('/lab?tessera_token=guess')).status, 403);
  assert.equal((await get('/lab?tessera_token=sekrit-token-of-this-forward', { host: `attacker.example:${proxy.localPort}` })).status, 421);
  assert.equal(seenCookies.length, 0, 'nothing refused reached the IDE');
  const trade = await get('/lab?x=1&tessera_token=sekrit-token-of-this-forward');
  assert.equal(trade.status, 302);
  assert.equal(trade.headers.location, '/lab?x=1');
  assert.equal(String(trade.headers['set-cookie']), `${proxy.cookieName}=sekrit-token-of-this-forward; HttpOnly; SameSite=Strict; Path=/`);
  const ok = await get('/lab?x=1', { cookie: `_xsrf=abc; ${proxy.cookieName}=sekrit-token-of-this-forward` });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ide /lab?x=1');
  assert.deepEqual(seenCookies, ['_xsrf=abc']);
  assert.equal((await get('/lab', { cookie: `${proxy.cookieName}=sekrit-token-of-this-forwarD` })).status, 403);
});
