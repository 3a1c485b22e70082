import fs from 'node:fs/promises';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { AuthKind } from '../../../shared/model/cluster.ts';
import { createKubeAccess, type KubeAccess } from '../kube/kube-access.ts';
import { runExecPlugin } from './exec-credential.ts';
import type { KcCluster, KcContext, KcUser, ParsedKubeconfig } from './kubeconfig-parse.ts';

export interface ResolvedContext {
  context: string;
  clusterName: string;
  userName: string;
  namespace?: string;
  cluster: KcCluster;
  user: KcUser;
}

export function resolveContext(cfg: ParsedKubeconfig, context: string): ResolvedContext {
  const ctx: KcContext | undefined = cfg.contexts.get(context);
  if (!ctx) {
    const known = [...cfg.contexts.keys()];
    throw new TesseraError(
      'CONTEXT_NOT_FOUND',
      `context "${context}" is not in the kubeconfig${known.length ? ` (known: ${known.slice(0, 10).join(', ')})` : ' (it defines no contexts)'}`,
      { context, known },
    );
  }
  const cluster = cfg.clusters.get(ctx.cluster);
  if (!cluster) throw new TesseraError('KUBECONFIG_INVALID', `context "${context}" refers to cluster "${ctx.cluster}", which is not defined`, { context });
  const user = ctx.user ? cfg.users.get(ctx.user) : {};
  if (!user) throw new TesseraError('KUBECONFIG_INVALID', `context "${context}" refers to user "${ctx.user}", which is not defined`, { context });
  return { context, clusterName: ctx.cluster, userName: ctx.user, namespace: ctx.namespace, cluster, user };
}

export function authKindOf(user: KcUser): AuthKind {
  if (user.exec) return 'exec';
  if (user.authProvider) return user.authProvider.name === 'oidc' ? 'oidc' : 'auth-provider';
  if (user.token) return 'token';
  if (user.tokenFile) return 'token-file';
  if (user.certData || user.certFile) return 'client-certificate';
  if (user.username) return 'basic';
  return 'none';
}

export function configWarnings(rc: Pick<ResolvedContext, 'cluster'>): string[] {
  const w: string[] = [];
  if (rc.cluster.skipTLSVerify) w.push("TLS verification is off (insecure-skip-tls-verify): the server's identity is not checked");
  if (rc.cluster.server.startsWith('http:')) w.push('The server URL is plain http: credentials and data travel unencrypted');
  if (rc.cluster.proxyUrl) w.push(`Traffic goes through the proxy ${rc.cluster.proxyUrl}`);
  return w;
}

async function readRequired(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    throw new TesseraError('KUBECONFIG_INVALID', `${what} file not found or not readable: ${file}`, { file });
  }
}

export interface BuiltConfig {
  kc: KubeAccess;
  /** When exec-plugin credentials expire (epoch ms); rebuild before then. */
  expiresAt?: number;
}

/**
 * Produces the KubeAccess (server, TLS, credentials) of this context. Files named by
 * the kubeconfig are read here so a missing CA or key is reported by name,
 * and exec plugins run through our own runner (timeout, PATH, clear errors).
 */
export async function buildKubeConfig(rc: ResolvedContext, opts: { execTimeoutMs: number; pathEnv: () => Promise<string>; compression?: () => Promise<boolean> }): Promise<BuiltConfig> {
  const c = rc.cluster;
  const caData = c.caData ?? (c.caFile ? Buffer.from(await readRequired(c.caFile, 'certificate-authority')).toString('base64') : undefined);
  const u = rc.user;
  let token = u.token ?? (u.tokenFile ? (await readRequired(u.tokenFile, 'tokenFile')).trim() : undefined);
  let certData = u.certData ?? (u.certFile ? Buffer.from(await readRequired(u.certFile, 'client-certificate')).toString('base64') : undefined);
  let keyData = u.keyData ?? (u.keyFile ? Buffer.from(await readRequired(u.keyFile, 'client-key')).toString('base64') : undefined);
  let expiresAt: number | undefined;
  if (u.exec) {
    const cred = await runExecPlugin(u.exec, { timeoutMs: opts.execTimeoutMs, pathEnv: await opts.pathEnv(), clusterServer: c.server });
    if (cred.token) token = cred.token;
    if (cred.clientCertificateData) certData = Buffer.from(cred.clientCertificateData).toString('base64');
    if (cred.clientKeyData) keyData = Buffer.from(cred.clientKeyData).toString('base64');
    if (cred.expirationTimestamp) expiresAt = Date.parse(cred.expirationTimestamp) || undefined;
  }
  const kc = await createKubeAccess({
    server: c.server,
    userName: rc.userName || 'anonymous',
    caData,
    skipTLSVerify: c.skipTLSVerify,
    proxyUrl: c.proxyUrl,
    tlsServerName: c.tlsServerName,
    token,
    certData,
    keyData,
    username: u.username,
    password: u.password,
    authProvider: u.authProvider ? { name: u.authProvider.name, config: { ...u.authProvider.config } } : undefined,
  });
  if (opts.compression && !c.disableCompression) kc.compression = opts.compression;
  return { kc, expiresAt };
}
