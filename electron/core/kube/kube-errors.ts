import { TesseraError } from '../../../shared/contract/errors.ts';
import { parseForbidden } from '../clusters/access-required.ts';

const TLS_CODES: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in a CA that the kubeconfig does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it presented a self-signed certificate that the kubeconfig does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is not signed by the CA in the kubeconfig',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is not signed by the CA in the kubeconfig',
  UNABLE_TO_GET_ISSUER_CERT: 'its certificate is not signed by the CA in the kubeconfig',
  CERT_SIGNATURE_FAILURE: 'its certificate is not signed by the CA in the kubeconfig',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet (check the clock)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate does not name this host (set tls-server-name or fix the server URL)',
};

const NET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  UND_ERR_SOCKET: 'connection closed',
};

function causeChain(err: unknown): { code?: string; message: string }[] {
  const chain: { code?: string; message: string }[] = [];
  let cur: unknown = err;
  for (let i = 0; cur && i < 5; i++) {
    const e = cur as { code?: unknown; message?: unknown; cause?: unknown };
    chain.push({ code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? cur) });
    cur = e.cause;
  }
  return chain;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { status?: number } };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return e?.response?.status;
}

function apiMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return parsed.message;
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  if (body && typeof body === 'object') return (body as { message?: string }).message;
  return undefined;
}

export interface KubeErrorContext {
  server: string;
  user?: string;
  action?: string;
}

/** Turns whatever client-node, undici or Node threw into a specific, plain TesseraError. */
export function classifyKubeError(err: unknown, ctx: KubeErrorContext): TesseraError {
  if (err instanceof TesseraError) return err;
  const status = statusOf(err);
  const doing = ctx.action ? ` while trying to ${ctx.action}` : '';
  if (status === 401) {
    return new TesseraError(
      'UNAUTHORIZED',
      `${ctx.server} rejected the credentials of user "${ctx.user ?? '?'}" (401 Unauthorized): the token or certificate is wrong, expired or revoked`,
      { server: ctx.server, status },
    );
  }
  if (status === 403) {
    const msg = apiMessage(err);
    // Said the way Tessera's own permission checks say it, with the permission named for the UI.
    const parsed = msg ? parseForbidden(msg) : null;
    if (parsed) return new TesseraError('FORBIDDEN', `Not allowed${doing}: ${parsed.reason} (403 from the API server: ${msg})`, { server: ctx.server, status, missing: [parsed.missing] });
    return new TesseraError('FORBIDDEN', `Not allowed${doing}: ${msg ?? 'the API server refused the request (403 Forbidden)'}`, { server: ctx.server, status });
  }
  if (status !== undefined && status >= 400) {
    const msg = apiMessage(err) ?? `HTTP ${status}`;
    return new TesseraError(status === 404 ? 'NOT_FOUND' : 'API_ERROR', `The API server answered ${status}${doing}: ${msg}`, { server: ctx.server, status });
  }
  const chain = causeChain(err);
  for (const { code, message } of chain) {
    if (code && TLS_CODES[code]) {
      return new TesseraError('TLS_UNTRUSTED', `Refusing to talk to ${ctx.server}: ${TLS_CODES[code]} (${code})`, { server: ctx.server, tlsCode: code });
    }
    if (code && NET_CODES[code]) {
      return new TesseraError('UNREACHABLE', `Cannot reach ${ctx.server}: ${NET_CODES[code]}`, { server: ctx.server, netCode: code });
    }
    if (message === 'bad port') {
      return new TesseraError('UNREACHABLE', `Cannot reach ${ctx.server}: its port is one that HTTP clients refuse to use (a blocked port)`, { server: ctx.server });
    }
    if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || /TimeoutError|timed out|aborted due to timeout/i.test(message)) {
      return new TesseraError('TIMEOUT', `No answer from ${ctx.server} in time${doing}`, { server: ctx.server });
    }
  }
  const first = chain.map((c) => c.message).filter((m) => m && m !== 'fetch failed');
  return new TesseraError('API_ERROR', `Request to ${ctx.server} failed${doing}: ${first[0] ?? 'unknown error'}`, { server: ctx.server });
}
