// A deliberately small Kubernetes REST client for the test bed and its simulator.
// Raw https keeps full control over patch content types and avoids client-node's
// per-request overhead when the fleet issues thousands of writes.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';

export interface KubeCredentials {
  server: string;
  ca: string | Buffer;
  token?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface RequestOptions {
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export class KubeError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    const message = (body as { message?: string } | undefined)?.message ?? String(body);
    super(`${method} ${path}: HTTP ${status}: ${message}`);
  }
  get reason(): string | undefined {
    return (this.body as { reason?: string } | undefined)?.reason;
  }
}

export interface WatchEvent<T = any> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /** Settles when the stream ends, for any reason (server close, error, close()). */
  done: Promise<void>;
  close(): void;
}

export class Kube {
  readonly agent: https.Agent;
  private readonly base: URL;
  private readonly headers: Record<string, string>;

  constructor(
    readonly creds: KubeCredentials,
    opts: { maxSockets?: number; userAgent?: string } = {},
  ) {
    this.base = new URL(creds.server);
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 64,
      ca: creds.ca,
      cert: creds.cert,
      key: creds.key,
    });
    this.headers = { 'user-agent': opts.userAgent ?? 'tessera-testbed' };
    if (creds.token) this.headers.authorization = `Bearer ${creds.token}`;
  }

  private url(path: string, query?: RequestOptions['query']): URL {
    const u = new URL(path, this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  private send(method: string, path: string, body: unknown, opts: RequestOptions): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...this.headers, accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = https.request(this.url(path, opts.query), { method, agent: this.agent, headers }, resolve);
      req.on('error', reject);
      if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.end(payload);
    });
  }

  async raw(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<{ status: number; text: string }> {
    const res = await this.send(method, path, body, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') };
  }

  async request<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const { status, text } = await this.raw(method, path, body, { timeoutMs: 30_000, ...opts });
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Non-JSON bodies (e.g. /readyz) are returned as text.
    }
    if (status < 200 || status >= 300) throw new KubeError(method, path, status, parsed);
    return parsed as T;
  }

  get<T = any>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, undefined, { query });
  }
  create<T = any>(path: string, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('POST', path, body, { query });
  }
  replace<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T = any>(path: string, body: unknown, type: PatchType = 'merge', query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('PATCH', path, body, { contentType: PATCH_CONTENT_TYPES[type], query });
  }
  delete<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /**
   * Streams watch events until the server ends the stream. Callers own the
   * reconnect policy, because the simulator and the tests want different ones.
   */
  watch(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent) => void): WatchHandle {
    let req: ReturnType<typeof https.request> | undefined;
    let closed = false;
    const done = new Promise<void>((resolve, reject) => {
      const headers = { ...this.headers, accept: 'application/json' };
      req = https.request(this.url(path, { ...query, watch: 1 }), { method: 'GET', agent: this.agent, headers }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {}
            reject(new KubeError('WATCH', path, res.statusCode ?? 0, body));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              req?.destroy(err as Error);
            }
          }
        });
        res.on('end', () => resolve());
        res.on('close', () => resolve());
        res.on('error', (err) => (closed ? resolve() : reject(err)));
      });
      req.on('error', (err) => (closed ? resolve() : reject(err)));
      req.end();
    });
    return {
      done,
      close() {
        closed = true;
        req?.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const microTime = (d = new Date()): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
export const rfc3339 = (d = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
