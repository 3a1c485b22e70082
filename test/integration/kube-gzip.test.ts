// Compressed reads for clusters behind slow links, against the real API server:
// with the setting on, a large list arrives gzipped and decodes to the same
// objects; the setting applies at once; a kubeconfig that says
// `disable-compression: true` is never asked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import yaml from 'js-yaml';
import { createCore, type Core } from '../../electron/core/core.ts';
import { kubeJson } from '../../electron/core/kube/kube-http.ts';
import type { KubeAccess } from '../../electron/core/kube/kube-access.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

let info: TestbedInfo;
let dataDir: string;
const cores: Core[] = [];

interface PodList {
  items: { metadata: { uid: string; resourceVersion: string } }[];
}

async function connected(kubeconfig: string): Promise<{ core: Core; kc: KubeAccess }> {
  const core = await createCore({ host: 'headless', version: 'test', kubeconfigFiles: [kubeconfig], dataDir });
  cores.push(core);
  const id = core.clusters.list()[0]!.id;
  await core.clusters.connect(id);
  return { core, kc: await core.clusters.connection(id).kubeConfig() };
}

/** One read of every pod in the cluster: what it cost on the wire, and what it decoded to. */
async function readPods(kc: KubeAccess) {
  const before = { ...kc.traffic };
  const list = await kubeJson<PodList>(kc, '/api/v1/pods', { action: 'list pods' });
  return { list, gzipped: kc.traffic.gzipped - before.gzipped, wire: kc.traffic.wireBytes - before.wireBytes, body: kc.traffic.bodyBytes - before.bodyBytes };
}

before(async () => {
  info = await sharedTestbed();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-gzip-'));
});

after(async () => {
  for (const c of cores) await c.dispose();
});

test('with connection.gzip on, a cluster-wide pod list arrives gzipped and decodes to the same pods; off again, it does not', async () => {
  const { core, kc } = await connected(info.kubeconfigs.admin);
  const plain = await readPods(kc);
  assert.equal(plain.gzipped, 0, 'identity by default');
  assert.equal(plain.wire, plain.body);
  assert.ok(plain.body > 128 * 1024, `the list is large enough for the server to compress (${plain.body} B)`);

  await core.settings!.update({ connection: { gzip: true } });
  const zipped = await readPods(kc);
  assert.equal(zipped.gzipped, 1, 'the same connection asks for gzip once the setting is on');
  assert.ok(zipped.wire * 4 < zipped.body, `${zipped.wire} B on the wire for ${zipped.body} B of JSON`);
  const uids = (l: PodList) => l.items.map((p) => p.metadata.uid).sort();
  assert.deepEqual(uids(zipped.list), uids(plain.list));

  await core.settings!.update({ connection: { gzip: false } });
  assert.equal((await readPods(kc)).gzipped, 0);
});

test("a kubeconfig with disable-compression: true is never asked for gzip, whatever the setting", async () => {
  const doc = yaml.load(fs.readFileSync(info.kubeconfigs.admin, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
  for (const c of doc.clusters) c.cluster['disable-compression'] = true;
  const file = path.join(dataDir, 'no-compression.kubeconfig');
  fs.writeFileSync(file, yaml.dump(doc), { mode: 0o600 });
  const { core, kc } = await connected(file);
  await core.settings!.update({ connection: { gzip: true } });
  const r = await readPods(kc);
  assert.equal(r.gzipped, 0);
  assert.ok(r.list.items.length > 0);
});
