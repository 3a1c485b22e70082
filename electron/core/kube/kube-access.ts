import { Agent, ProxyAgent, type Dispatcher } from 'undici';

/** One kubeconfig context with its files already read: what a request to that cluster needs. */
export interface KubeAccessSpec {
  server: string;
  /** The kubeconfig user's name, for error messages ("rejected the credentials of user ..."). */
  userName: string;
  /** Base64, as in `certificate-authority-data`. */
  caData?: string;
  skipTLSVerify?: boolean;
  proxyUrl?: string;
  tlsServerName?: string;
  token?: string;
  /** Base64 PEM, as in `client-certificate-data` / `client-key-data`. */
  certData?: string;
  keyData?: string;
  username?: string;
  password?: string;
  /** OIDC, GCP, Azure: handled by client-node, loaded only for users that need it. */
  authProvider?: { name: string; config: Record<string, string> };
}

export type KubeHeaders = Record<string, string>;

/**
 * Everything a request to one cluster needs: its server, a keep-alive
 * connection pool set up with the context's TLS material (and proxy), and the
 * credential headers. Built from a kubeconfig context by resolve-context.ts;
 * requests go through kube-http.ts (kubeJson, kubeText, kubeWatch, listPages).
 *
 * This replaces client-node's KubeConfig on the request path: importing
 * client-node loads its whole generated API (about 85 MiB of main-process
 * memory) for what is a TLS and header setup. client-node is still used, and
 * only then loaded, for auth-provider users (OIDC, GCP, Azure) and SOCKS
 * proxies (see client-node-fallback.ts).
 *
 * One pool per KubeAccess: paged lists and watches reuse their TLS
 * connections; refreshed exec credentials come with a new KubeAccess.
 */
export class KubeAccess {
  /** Whether to ask for gzip now (the console's setting, read per request so a change applies at once). */
  compression?: () => Promise<boolean>;
  /** What answers cost on the wire: gzipped ones and bytes received before and after decompression. */
  readonly traffic = { responses: 0, gzipped: 0, wireBytes: 0, bodyBytes: 0 };

  constructor(
    readonly server: string,
    readonly userName: string,
    readonly dispatcher: Dispatcher,
    private readonly authHeaders: () => KubeHeaders | Promise<KubeHeaders>,
  ) {}

  /** The credential headers for the next request (auth providers may refresh tokens here). */
  async headers(): Promise<KubeHeaders> {
    return { ...(await this.authHeaders()) };
  }

  /** Closes the pooled connections (idle ones also close on their own after a few seconds). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

function tlsOf(spec: KubeAccessSpec): TlsOptions {
  const tls: TlsOptions = {};
  if (spec.caData) tls.ca = Buffer.from(spec.caData, 'base64');
  if (spec.certData) tls.cert = Buffer.from(spec.certData, 'base64');
  if (spec.keyData) tls.key = Buffer.from(spec.keyData, 'base64');
  if (spec.skipTLSVerify) tls.rejectUnauthorized = false;
  if (spec.tlsServerName) tls.servername = spec.tlsServerName;
  return tls;
}

// undici's default keepAliveInitialDelay (60 s) races cloud load balancers' idle timeouts; 30 s as client-go.
const KEEPALIVE = { keepAlive: true, keepAliveInitialDelay: 30_000 };

/** The connection pool for a context: direct, or through an HTTP(S) CONNECT proxy. */
export function dispatcherFor(spec: KubeAccessSpec): Dispatcher {
  const tls = tlsOf(spec);
  if (spec.proxyUrl) return new ProxyAgent({ uri: spec.proxyUrl, requestTls: tls, connect: KEEPALIVE });
  return new Agent({ connect: { ...tls, ...KEEPALIVE } });
}

/** Static credentials: a bearer token, or basic auth (as kubectl sends them). */
export function staticHeaders(spec: KubeAccessSpec): KubeHeaders {
  if (spec.token) return { Authorization: `Bearer ${spec.token}` };
  if (spec.username) return { Authorization: `Basic ${Buffer.from(`${spec.username}:${spec.password ?? ''}`).toString('base64')}` };
  return {};
}

/** Whether this context needs client-node (and its memory) at all. */
export function needsClientNode(spec: KubeAccessSpec): boolean {
  return spec.authProvider !== undefined || (spec.proxyUrl?.startsWith('socks') ?? false);
}

export async function createKubeAccess(spec: KubeAccessSpec): Promise<KubeAccess> {
  if (needsClientNode(spec)) {
    // A dynamic import, so that bundles load client-node only when such a context connects.
    const { clientNodeAccess } = await import('./client-node-fallback.ts');
    return clientNodeAccess(spec);
  }
  const headers = staticHeaders(spec);
  return new KubeAccess(spec.server, spec.userName, dispatcherFor(spec), () => headers);
}
