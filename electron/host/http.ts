import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core/core.ts';
import { contentSecurityPolicy } from './csp.ts';
import { Router } from './router.ts';
import { readStatic } from './static-files.ts';

export interface HeadlessOptions {
  core: Pick<Core, 'methods' | 'streams'>;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  port?: number;
  token?: string;
}

export interface HeadlessServer {
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'tessera_token';
const MAX_BODY = 4 * 1024 * 1024;

function sameToken(a: string | undefined | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE) return v;
  }
  return undefined;
}

/** Refusals by the host itself; a malformed request says so rather than claiming a missing token. */
function deny(res: http.ServerResponse, status: number, message: string, code: 'HOST_UNAUTHENTICATED' | 'INVALID_REQUEST' = 'HOST_UNAUTHENTICATED'): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify({ ok: false, error: { code, message } }));
}

/**
 * The contract over HTTP (one POST per call) and one WebSocket (streams),
 * bound to 127.0.0.1 only. Every request and upgrade must carry the random
 * token; Host and Origin are checked so other sites and DNS rebinding cannot
 * reach it through the user's browser.
 */
export async function startHeadless(opts: HeadlessOptions): Promise<HeadlessServer> {
  const token = opts.token ?? crypto.randomBytes(24).toString('base64url');
  const router = new Router(opts.core);
  let origin = '';
  let allowedHosts: string[] = [];

  const hostOk = (req: http.IncomingMessage) => allowedHosts.includes(req.headers.host ?? '');
  const originOk = (req: http.IncomingMessage) => {
    const o = req.headers.origin;
    return o === undefined || o === origin || o === origin.replace('127.0.0.1', 'localhost');
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    if (!hostOk(req)) return deny(res, 421, 'unexpected Host header');
    if (!originOk(req)) return deny(res, 403, 'cross-origin requests are refused');

    if (url.pathname === '/api/call') {
      const given = req.headers['x-tessera-token'];
      if (!sameToken(typeof given === 'string' ? given : undefined, token)) return deny(res, 401, 'missing or wrong token');
      if (req.method !== 'POST') return deny(res, 405, 'use POST', 'INVALID_REQUEST');
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return deny(res, 415, 'expected application/json', 'INVALID_REQUEST');
      // Refuse a declared oversize body before reading any of it.
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return deny(res, 413, `request too large (over ${MAX_BODY} bytes)`, 'INVALID_REQUEST');
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) return deny(res, 413, `request too large (over ${MAX_BODY} bytes)`, 'INVALID_REQUEST');
        chunks.push(chunk as Buffer);
      }
      let body: { method?: unknown; params?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ ok: false, error: { code: 'INVALID_REQUEST', message: 'the body is not valid JSON' } }));
      }
      const result = await router.call(body?.method, body?.params);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      return res.end(JSON.stringify(result));
    }

    const fromQuery = url.searchParams.get('token');
    if (!sameToken(fromQuery, token) && !sameToken(cookieToken(req), token)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('Tessera: this console needs its access token. Open the exact URL printed by `tessera serve`.\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'use GET', 'INVALID_REQUEST');
    const file = await readStatic(opts.staticDir, url.pathname);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    const headers: Record<string, string> = {
      'Content-Type': file.type,
      'Content-Security-Policy': contentSecurityPolicy([`ws://${req.headers.host}`]),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    };
    if (fromQuery) headers['Set-Cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const authed = sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token);
    if (url.pathname !== '/api/stream' || !hostOk(req) || !originOk(req) || !authed) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveStreams(ws, router));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`];

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type ClientMessage = { op: 'sub'; id: string; stream: unknown; params: unknown } | { op: 'unsub'; id: string };

/** One socket carries every stream of a page; closing it ends them all. */
function serveStreams(ws: WebSocket, router: Router): void {
  const subs = new Map<string, () => void>();
  const send = (msg: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  ws.on('message', (data) => {
    let msg: ClientMessage;
    try {
      msg = JSON.parse(String(data)) as ClientMessage;
    } catch {
      return send({ error: { code: 'INVALID_REQUEST', message: 'stream messages must be JSON' } });
    }
    if (typeof msg?.id !== 'string' || msg.id.length > 100) return send({ error: { code: 'INVALID_REQUEST', message: 'stream message without an id' } });
    if (msg.op === 'unsub') {
      subs.get(msg.id)?.();
      subs.delete(msg.id);
      return;
    }
    if (msg.op !== 'sub' || subs.has(msg.id)) return send({ id: msg.id, error: { code: 'INVALID_REQUEST', message: 'unknown op or duplicate id' } });
    const id = msg.id;
    const r = router.subscribe(msg.stream, msg.params, (event) => send({ id, event }));
    if (r.ok) subs.set(id, r.unsubscribe);
    else send({ id, error: r.error });
  });
  // Without a listener, a protocol error (e.g. a frame over maxPayload) is an
  // uncaught exception that takes the whole host down; ws closes the socket itself.
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    for (const off of subs.values()) off();
    subs.clear();
  });
}
