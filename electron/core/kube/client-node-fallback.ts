// The one module that may use @kubernetes/client-node, and only through a
// dynamic import: loading it costs the main process about 85 MiB (its whole
// generated API comes with KubeConfig), which only users of auth providers
// (OIDC, GCP, Azure) and SOCKS proxies should pay.
// Everything else goes through kube-access.ts and kube-http.ts;
// test/unit/client-node-boundary.test.ts keeps it that way.
import type { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import { dispatcherFor, KubeAccess, staticHeaders, type KubeAccessSpec, type KubeHeaders } from './kube-access.ts';

async function load(spec: KubeAccessSpec): Promise<{ kc: KubeConfig; RequestContext: typeof import('@kubernetes/client-node').RequestContext }> {
  const { KubeConfig, RequestContext } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const user = spec.userName || 'anonymous';
  kc.loadFromOptions({
    clusters: [{ name: 'cluster', server: spec.server, caData: spec.caData, skipTLSVerify: spec.skipTLSVerify ?? false, proxyUrl: spec.proxyUrl, tlsServerName: spec.tlsServerName }],
    users: [
      {
        name: user,
        token: spec.token,
        certData: spec.certData,
        keyData: spec.keyData,
        username: spec.username,
        password: spec.password,
        authProvider: spec.authProvider ? { name: spec.authProvider.name, config: { ...spec.authProvider.config } } : undefined,
      },
    ],
    contexts: [{ name: 'context', cluster: 'cluster', user }],
    currentContext: 'context',
  });
  return { kc, RequestContext };
}

/** A KubeAccess whose credentials (and, for SOCKS proxies, connections) come from client-node. */
export async function clientNodeAccess(spec: KubeAccessSpec): Promise<KubeAccess> {
  const { kc, RequestContext } = await load(spec);
  const authenticate = async () => {
    const ctx = new RequestContext(spec.server, 'GET' as HttpMethod);
    // Runs the auth provider (an OIDC token refresh, say) and builds client-node's TLS setup.
    await kc.applySecurityAuthentication(ctx);
    return ctx;
  };
  // client-node builds a new connection pool on every call: keep one, as kube-http always has.
  const socks = spec.proxyUrl?.startsWith('socks') ? ((await authenticate()).getDispatcher() as Dispatcher | undefined) : undefined;
  const dispatcher = socks ?? dispatcherFor(spec);
  if (!spec.authProvider) {
    const headers = staticHeaders(spec);
    return new KubeAccess(spec.server, spec.userName, dispatcher, () => headers);
  }
  return new KubeAccess(spec.server, spec.userName, dispatcher, async (): Promise<KubeHeaders> => (await authenticate()).getHeaders());
}
