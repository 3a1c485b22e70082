import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import type { TesseraStateInfo } from './testbed-info.ts';

type Doc = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context'?: string;
};

function load(file: string): Doc {
  return yaml.load(fs.readFileSync(file, 'utf8')) as Doc;
}

/** A CA that did not sign the test bed's serving certificate. */
function foreignCa(dir: string): string {
  const key = path.join(dir, 'other-ca.key');
  const crt = path.join(dir, 'other-ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=not-the-testbed-ca'], { stdio: 'ignore' });
  return fs.readFileSync(crt).toString('base64');
}

/**
 * One kubeconfig with a context per way of connecting to the test bed, good
 * and bad, so a single ClusterService can show that failures leave the
 * working connections alone.
 */
export function writeVariantKubeconfig(info: TesseraStateInfo, deadPort: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-variants-'));
  const out: Doc = { clusters: [], users: [], contexts: [] };
  for (const name of ['admin', 'viewer', 'cert', 'exec', 'teamA'] as const) {
    const d = load(info.kubeconfigs[name]);
    const cluster = d.clusters[0]!;
    const user = d.users[0]!;
    out.clusters.push({ name: `c-${name}`, cluster: cluster.cluster });
    out.users.push({ name: `u-${name}`, user: user.user });
    out.contexts.push({ name, context: { cluster: `c-${name}`, user: `u-${name}`, ...(d.contexts[0]!.context.namespace ? { namespace: d.contexts[0]!.context.namespace } : {}) } });
  }
  const admin = load(info.kubeconfigs.admin);
  const server = admin.clusters[0]!.cluster.server as string;
  const ca = admin.clusters[0]!.cluster['certificate-authority-data'];
  out.clusters.push({ name: 'c-foreign-ca', cluster: { server, 'certificate-authority-data': foreignCa(dir) } });
  out.clusters.push({ name: 'c-dead', cluster: { server: `https://127.0.0.1:${deadPort}`, 'certificate-authority-data': ca } });
  out.users.push({ name: 'u-wrong-token', user: { token: 'not-a-valid-token-0000' } });
  out.users.push({ name: 'u-missing-plugin', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'tessera-no-such-plugin', installHint: 'Ask the site admin for the token helper.' } } });
  out.contexts.push({ name: 'wrong-token', context: { cluster: 'c-admin', user: 'u-wrong-token' } });
  out.contexts.push({ name: 'foreign-ca', context: { cluster: 'c-foreign-ca', user: 'u-admin' } });
  out.contexts.push({ name: 'unreachable', context: { cluster: 'c-dead', user: 'u-admin' } });
  out.contexts.push({ name: 'missing-plugin', context: { cluster: 'c-admin', user: 'u-missing-plugin' } });
  out['current-context'] = 'admin';
  const file = path.join(dir, 'variants.kubeconfig');
  fs.writeFileSync(file, yaml.dump({ apiVersion: 'v1', kind: 'Config', ...out }), { mode: 0o600 });
  return file;
}
