import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { request } from 'undici';
import { classifyKubeError } from './kube-errors.ts';

export interface KubeRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  action?: string;
}

/**
 * client-node builds a new undici Agent on every applySecurityAuthentication,
 * which means a new TLS connection per request (and idle sockets left behind).
 * One dispatcher per KubeConfig keeps connections alive across paged lists;
 * a refreshed credential comes with a new KubeConfig and so a new dispatcher.
 */
const dispatchers = new WeakMap<KubeConfig, unknown>();

class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

/**
 * A raw JSON request through client-node's authentication and TLS setup.
 * Lists go through here rather than the generated clients so we can project
 * items without client-node deserialising every field of thousands of objects.
 */
export async function kubeJson<T = unknown>(kc: KubeConfig, path: string, req: KubeRequest = {}): Promise<T> {
  return JSON.parse(await kubeText(kc, path, { ...req, accept: 'application/json' })) as T;
}

/** The same request returning the body as text: API-server proxy paths serve non-JSON (metrics). */
export async function kubeText(kc: KubeConfig, path: string, req: KubeRequest & { accept?: string } = {}): Promise<string> {
  const cluster = kc.getCurrentCluster();
  const server = cluster?.server ?? '(no cluster)';
  const user = kc.getCurrentUser()?.name;
  try {
    const ctx = new RequestContext(server + path, (req.method ?? 'GET') as HttpMethod);
    await kc.applySecurityAuthentication(ctx);
    // Identity, not gzip: undici asks for compression by default, and on the LANs these consoles
    // sit on, gzipping multi-megabyte lists costs the API server more CPU than the bytes saved.
    const headers: Record<string, string> = { ...ctx.getHeaders(), Accept: req.accept ?? '*/*', 'Accept-Encoding': 'identity' };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    // undici's request(), not fetch(): no WHATWG stream layer, about a quarter faster on multi-megabyte lists.
    const res = await request(server + path, {
      method: req.method ?? 'GET',
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      dispatcher: dispatcherFor(kc, ctx) as never,
      signal: AbortSignal.timeout(req.timeoutMs ?? 30_000),
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new HttpStatusError(res.statusCode, text);
    return text;
  } catch (err) {
    throw classifyKubeError(err, { server, user, action: req.action });
  }
}

function dispatcherFor(kc: KubeConfig, ctx: RequestContext): unknown {
  let d = dispatchers.get(kc);
  if (d === undefined) {
    d = ctx.getDispatcher();
    if (d !== undefined) dispatchers.set(kc, d);
  }
  return d;
}

export interface WatchStreamOptions {
  signal: AbortSignal;
  /** No bytes for this long means a dead connection (the server ends healthy watches itself). */
  idleTimeoutMs: number;
  /** Called once the server has accepted the watch. */
  onOpen?: () => void;
}

/**
 * A watch as a stream of JSON lines over the shared dispatcher. Resolves when
 * the server ends the watch, rejects with a classified error (HTTP status in
 * details.status) otherwise. Used instead of client-node's Watch, which opens
 * a new TLS connection per watch and layers web streams and readline over each event.
 */
export async function kubeWatch(kc: KubeConfig, path: string, opts: WatchStreamOptions, onEvent: (type: string, obj: Record<string, unknown>) => void): Promise<void> {
  const server = kc.getCurrentCluster()?.server ?? '(no cluster)';
  const user = kc.getCurrentUser()?.name;
  try {
    const ctx = new RequestContext(server + path, 'GET' as HttpMethod);
    await kc.applySecurityAuthentication(ctx);
    const res = await request(server + path, {
      method: 'GET',
      headers: { ...ctx.getHeaders(), Accept: 'application/json', 'Accept-Encoding': 'identity' },
      dispatcher: dispatcherFor(kc, ctx) as never,
      signal: opts.signal,
      bodyTimeout: opts.idleTimeoutMs,
      headersTimeout: 30_000,
    });
    if (res.statusCode !== 200) throw new HttpStatusError(res.statusCode, await res.body.text());
    opts.onOpen?.();
    res.body.setEncoding('utf8');
    let buf = '';
    for await (const chunk of res.body as AsyncIterable<string>) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: Record<string, unknown> };
        onEvent(ev.type, ev.object);
      }
    }
  } catch (err) {
    throw classifyKubeError(err, { server, user, action: 'watch' });
  }
}

export interface ListPageOf<T> {
  items: T[];
  resourceVersion?: string;
}

/** A collection read in pages (`limit`/`continue`), one page at a time so callers can project as they go. */
export async function* listPages<T>(kc: KubeConfig, path: string, params: Record<string, string>, opts: { pageSize?: number; timeoutMs?: number } = {}): AsyncGenerator<ListPageOf<T>> {
  let cont: string | undefined;
  do {
    const q = new URLSearchParams({ ...params, limit: String(opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) });
    const page = await kubeJson<{ items?: T[]; metadata?: { continue?: string; resourceVersion?: string } }>(kc, `${path}?${q}`, { action: `list ${path}`, timeoutMs: opts.timeoutMs ?? 60_000 });
    yield { items: page.items ?? [], resourceVersion: page.metadata?.resourceVersion };
    cont = page.metadata?.continue || undefined;
  } while (cont);
}
