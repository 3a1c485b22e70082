import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { KubeAccess } from './kube-access.ts';
import { classifyKubeError } from './kube-errors.ts';

const gunzip = promisify(zlib.gunzip);

export interface KubeRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  action?: string;
}

class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

/**
 * A raw JSON request with the context's TLS setup and credentials (KubeAccess).
 * This, kubeText, kubeWatch and listPages are how core talks to a cluster:
 * no generated clients, so lists are projected without deserialising every
 * field of thousands of objects, and client-node stays out of memory.
 */
export async function kubeJson<T = unknown>(kc: KubeAccess, path: string, req: KubeRequest = {}): Promise<T> {
  const text = await kubeText(kc, path, { ...req, accept: 'application/json' });
  try {
    return JSON.parse(text) as T;
  } catch {
    const doing = req.action ? ` while trying to ${req.action}` : '';
    throw new TesseraError('API_ERROR', `${kc.server} sent an answer that is not valid JSON${doing} (cut off, or not from a Kubernetes API server)`, { server: kc.server });
  }
}

/** The same request returning the body as text: API-server proxy paths serve non-JSON (metrics). */
export async function kubeText(kc: KubeAccess, path: string, req: KubeRequest & { accept?: string } = {}): Promise<string> {
  const { server, userName: user } = kc;
  try {
    // Identity unless the console asks for gzip: on the LANs these consoles mostly sit on, gzipping
    // multi-megabyte lists costs the API server more CPU than the bytes saved; over an edge site's uplink it pays.
    const gzip = (await kc.compression?.()) === true;
    const headers: Record<string, string> = { ...(await kc.headers()), Accept: req.accept ?? '*/*', 'Accept-Encoding': gzip ? 'gzip' : 'identity' };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    // undici's request(), not fetch(): no WHATWG stream layer, about a quarter faster on multi-megabyte lists.
    const res = await request(server + path, {
      method: req.method ?? 'GET',
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      dispatcher: kc.dispatcher,
      signal: AbortSignal.timeout(req.timeoutMs ?? 30_000),
    });
    const text = await bodyText(kc, res);
    if (res.statusCode >= 400) throw new HttpStatusError(res.statusCode, text);
    return text;
  } catch (err) {
    throw classifyKubeError(err, { server, user, action: req.action });
  }
}

/** The body as text, gunzipped when the server compressed it; counted in kc.traffic. */
async function bodyText(kc: KubeAccess, res: Dispatcher.ResponseData): Promise<string> {
  const raw = Buffer.from(await res.body.arrayBuffer());
  const gzipped = String(res.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
  // Off the main thread's hot path: zlib's async gunzip runs in the thread pool.
  const body = gzipped ? await gunzip(raw) : raw;
  kc.traffic.responses++;
  if (gzipped) kc.traffic.gzipped++;
  kc.traffic.wireBytes += raw.length;
  kc.traffic.bodyBytes += body.length;
  return body.toString('utf8');
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
export async function kubeWatch(kc: KubeAccess, path: string, opts: WatchStreamOptions, onEvent: (type: string, obj: Record<string, unknown>) => void): Promise<void> {
  const { server, userName: user } = kc;
  try {
    const res = await request(server + path, {
      method: 'GET',
      headers: { ...(await kc.headers()), Accept: 'application/json', 'Accept-Encoding': 'identity' },
      dispatcher: kc.dispatcher,
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

export interface ListPagesOptions<T> {
  pageSize?: number;
  timeoutMs?: number;
  /** Applied to each raw item right after its page is parsed: pass a projection so raw objects die young. */
  map?: (raw: never) => T;
}

interface RawPage {
  items?: unknown[] | null;
  metadata?: { continue?: string; resourceVersion?: string };
}

/** Projects a page in a call of its own, so nothing holds the raw page once this returns. */
function projectPage<T>(page: RawPage, map: (raw: unknown) => T): { items: T[]; meta: NonNullable<RawPage['metadata']> } {
  return { items: (page.items ?? []).map(map), meta: page.metadata ?? {} };
}

/**
 * A collection read in pages (`limit`/`continue`), one page at a time. With
 * `map`, each page is projected as soon as it is parsed and its raw objects
 * are dropped before the next page is read: at 16,000 pods, holding raw pages
 * (or every raw item until the end) is what drives the main process's peak.
 */
export async function* listPages<T>(kc: KubeAccess, path: string, params: Record<string, string>, opts: ListPagesOptions<T> = {}): AsyncGenerator<ListPageOf<T>> {
  let cont: string | undefined;
  const map = (opts.map ?? ((raw: unknown) => raw)) as (raw: unknown) => T;
  do {
    const q = new URLSearchParams({ ...params, limit: String(opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) });
    const { items, meta } = projectPage(await kubeJson<RawPage>(kc, `${path}?${q}`, { action: `list ${path}`, timeoutMs: opts.timeoutMs ?? 60_000 }), map);
    yield { items, resourceVersion: meta.resourceVersion };
    cont = meta.continue || undefined;
  } while (cont);
}
