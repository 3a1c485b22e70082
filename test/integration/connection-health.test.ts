import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import yaml from 'js-yaml';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { injectFault, sharedTestbed, type TestbedInfo } from '../testbed/index.ts';
import { startConnectProxy } from '../support/connect-proxy.ts';
import { eventually } from '../support/testbed-info.ts';

let info: TestbedInfo;
const services: ClusterService[] = [];

before(async () => {
  info = await sharedTestbed();
});

after(() => {
  for (const s of services) s.disconnectAll();
});

async function service(file: string, healthIntervalMs?: number): Promise<ClusterService> {
  const svc = new ClusterService({ clock: systemClock, kubeconfigFiles: [file], healthIntervalMs });
  await svc.load();
  services.push(svc);
  return svc;
}

test('proxy-url: every request to the cluster goes through the configured proxy', async () => {
  const proxy = await startConnectProxy();
  try {
    const doc = yaml.load(fs.readFileSync(info.kubeconfigs.admin, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    doc.clusters[0]!.cluster['proxy-url'] = proxy.url;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-proxy-')), 'config');
    fs.writeFileSync(file, yaml.dump(doc));
    const svc = await service(file);
    const id = svc.list()[0]!.id;
    assert.match(svc.get(id).warnings.join(), new RegExp(`through the proxy ${proxy.url}`));
    const s = await svc.connect(id);
    assert.equal(s.state, 'connected');
    const target = new URL(info.server).host;
    assert.ok(proxy.tunnels.includes(target), `proxy tunnelled to ${target}: saw ${proxy.tunnels.join(', ')}`);
  } finally {
    await proxy.close();
  }
});

test('a connected cluster reports reconnecting while its API server is down, then connects again', async () => {
  const svc = await service(info.kubeconfigs.admin, 300);
  const id = svc.list()[0]!.id;
  const seen: ClusterSummary['state'][] = [];
  let whileDown: ClusterSummary | undefined;
  svc.subscribe((list) => {
    const c = list.find((x) => x.id === id)!;
    if (c.state === 'reconnecting') whileDown ??= c;
    if (seen.at(-1) !== c.state) seen.push(c.state);
  });
  await svc.connect(id);
  await injectFault(info.stateDir, 'apiserver-restart');
  await eventually('reconnecting reported', () => seen.includes('reconnecting'), 60_000, 50);
  assert.ok(whileDown?.error, 'the reason is shown while reconnecting');
  assert.match(whileDown.error.message, /Cannot reach|No answer|connection/);
  assert.ok(whileDown.nextRetryAt, 'the next attempt time is shown');
  await eventually('connected again', () => svc.get(id).state === 'connected' && seen.indexOf('reconnecting') < seen.lastIndexOf('connected'), 90_000);
  assert.equal(svc.get(id).error, undefined);
  assert.equal(svc.get(id).health?.reachable, true);
});
