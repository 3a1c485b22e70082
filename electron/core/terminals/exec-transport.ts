import fs from 'node:fs/promises';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { ClusterConnection } from '../clusters/cluster-connection.ts';
import type { ExecTransport } from './pod-exec.ts';

/**
 * The exec WebSocket needs an HTTP/1.1 connection: undici's pools offer
 * HTTP/2 by ALPN, and a WebSocket over HTTP/2 is an extended CONNECT (RFC
 * 8441) that kube-apiserver does not accept. The cluster's KubeAccess keeps
 * its TLS material to itself, so this pool is built from the same kubeconfig
 * context (CA, client certificate, skip-verify, tls-server-name, proxy-url),
 * and the credential headers still come from the KubeAccess, so tokens from
 * exec plugins and auth providers are the ones every other request uses.
 * Not covered: a client certificate that only an exec plugin hands out.
 */
export async function execTransportFor(conn: ClusterConnection): Promise<ExecTransport> {
  const access = await conn.kubeConfig();
  const { cluster, user } = conn.rc;
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string } = {};
  const data = async (inline: string | undefined, file: string | undefined, what: string) => {
    if (inline) return Buffer.from(inline, 'base64');
    if (!file) return undefined;
    try {
      return await fs.readFile(file);
    } catch {
      throw new TesseraError('KUBECONFIG_INVALID', `${what} file not found or not readable: ${file}`, { file });
    }
  };
  const ca = await data(cluster.caData, cluster.caFile, 'certificate-authority');
  const cert = await data(user.certData, user.certFile, 'client-certificate');
  const key = await data(user.keyData, user.keyFile, 'client-key');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
  if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
  const dispatcher: Dispatcher = cluster.proxyUrl?.startsWith('http')
    ? new ProxyAgent({ uri: cluster.proxyUrl, requestTls: tls, allowH2: false })
    : new Agent({ connect: tls, allowH2: false });
  return { server: access.server, dispatcher, headers: () => access.headers(), close: () => dispatcher.close() };
}
