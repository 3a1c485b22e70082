// Kubeconfig files in the shapes real clusters hand out (token, client cert, exec
// plugin), plus a reader that turns one back into a client for the tests.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { Kube } from './kube.ts';

export const CLUSTER_NAME = 'tessera-testbed';

type UserAuth =
  | { token: string }
  | { 'client-certificate-data': string; 'client-key-data': string }
  | { exec: Record<string, unknown> };

interface KubeconfigSpec {
  file: string;
  server: string;
  caPem: string;
  user: string;
  auth: UserAuth;
  namespace?: string;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

export function writeKubeconfig(spec: KubeconfigSpec): string {
  const context = `${spec.user}@${CLUSTER_NAME}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER_NAME, cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caPem) } }],
    users: [{ name: spec.user, user: spec.auth }],
    contexts: [{ name: context, context: { cluster: CLUSTER_NAME, user: spec.user, ...(spec.namespace ? { namespace: spec.namespace } : {}) } }],
    'current-context': context,
    preferences: {},
  };
  fs.writeFileSync(spec.file, yaml.dump(doc, { lineWidth: -1 }), { mode: 0o600 });
  return spec.file;
}

export const tokenAuth = (token: string): UserAuth => ({ token });

export const certAuth = (certFile: string, keyFile: string): UserAuth => ({
  'client-certificate-data': b64(fs.readFileSync(certFile)),
  'client-key-data': b64(fs.readFileSync(keyFile)),
});

export const execAuth = (command: string): UserAuth => ({
  exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command, args: [], env: null, interactiveMode: 'Never', provideClusterInfo: false },
});

/**
 * The exec credential plugin. It logs each call so tests can check that a
 * client caches the credential until expirationTimestamp instead of re-running it.
 */
export function writeExecPlugin(file: string, token: string, lifetimeSeconds = 3600): string {
  const log = path.join(path.dirname(file), 'exec-plugin.log');
  const script = `#!/bin/sh
# tessera test bed exec credential plugin (client.authentication.k8s.io/v1beta1)
set -e
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) pid=$$" >> '${log}'
exp=$(date -u -d "+${lifetimeSeconds} seconds" +%Y-%m-%dT%H:%M:%SZ)
cat <<EOF
{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{},"status":{"token":"${token}","expirationTimestamp":"$exp"}}
EOF
`;
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

/** Builds a client from a kubeconfig's current context, running exec plugins like kubectl does. */
export function kubeFromKubeconfig(file: string, opts: { userAgent?: string } = {}): Kube & { namespace?: string } {
  const doc = yaml.load(fs.readFileSync(file, 'utf8')) as any;
  const ctx = doc.contexts.find((c: any) => c.name === doc['current-context']).context;
  const cluster = doc.clusters.find((c: any) => c.name === ctx.cluster).cluster;
  const user = doc.users.find((u: any) => u.name === ctx.user).user;
  const ca = Buffer.from(cluster['certificate-authority-data'], 'base64');
  let token: string | undefined = user.token;
  if (user.exec) {
    const out = execFileSync(user.exec.command, user.exec.args ?? [], {
      encoding: 'utf8',
      env: { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: user.exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false } }) },
    });
    token = JSON.parse(out).status.token;
  }
  const kube = new Kube(
    {
      server: cluster.server,
      ca,
      token,
      cert: user['client-certificate-data'] ? Buffer.from(user['client-certificate-data'], 'base64') : undefined,
      key: user['client-key-data'] ? Buffer.from(user['client-key-data'], 'base64') : undefined,
    },
    opts,
  );
  return Object.assign(kube, { namespace: ctx.namespace as string | undefined });
}
