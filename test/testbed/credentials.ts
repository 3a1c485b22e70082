// Who can talk to the test bed: the static token file the API server reads and
// one kubeconfig per identity, each in the shape real clusters hand out.
import fs from 'node:fs';
import path from 'node:path';
import { certAuth, execAuth, tokenAuth, writeExecPlugin, writeKubeconfig } from './kubeconfig.ts';
import { randomToken, type Pki } from './pki.ts';
import { TEAM_NAMESPACE, TEAM_USER, VIEWER_GROUP } from './rbac.ts';
import type { TestbedInfo } from './state.ts';

export type Tokens = Record<'admin' | 'viewer' | 'exec-user' | 'team-a', string>;

/** kube-apiserver --token-auth-file format: token,user,uid,"group1,group2". */
export function writeTokenFile(file: string): Tokens {
  const tokens: Tokens = { admin: randomToken(), viewer: randomToken(), 'exec-user': randomToken(), 'team-a': randomToken() };
  const lines = [
    `${tokens.admin},admin,uid-admin,"system:masters"`,
    `${tokens.viewer},viewer,uid-viewer,"${VIEWER_GROUP}"`,
    // Only ever used through the exec credential plugin.
    `${tokens['exec-user']},exec-user,uid-exec-user,"system:masters"`,
    `${tokens['team-a']},${TEAM_USER},uid-team-a`,
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return tokens;
}

export function writeKubeconfigs(stateDir: string, server: string, pki: Pki, tokens: Tokens): TestbedInfo['kubeconfigs'] {
  const caPem = fs.readFileSync(pki.caCert, 'utf8');
  const file = (name: string) => path.join(stateDir, `${name}.kubeconfig`);
  const plugin = writeExecPlugin(path.join(stateDir, 'exec-credential-plugin.sh'), tokens['exec-user']);
  return {
    admin: writeKubeconfig({ file: file('admin'), server, caPem, user: 'admin', auth: tokenAuth(tokens.admin) }),
    viewer: writeKubeconfig({ file: file('viewer'), server, caPem, user: 'viewer', auth: tokenAuth(tokens.viewer) }),
    cert: writeKubeconfig({ file: file('cert'), server, caPem, user: 'cert-admin', auth: certAuth(pki.clientCert, pki.clientKey) }),
    exec: writeKubeconfig({ file: file('exec'), server, caPem, user: 'exec-user', auth: execAuth(plugin) }),
    teamA: writeKubeconfig({ file: file('team-a'), server, caPem, user: TEAM_USER, auth: tokenAuth(tokens['team-a']), namespace: TEAM_NAMESPACE }),
  };
}
