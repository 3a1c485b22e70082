/**
 * The local end of a forward: an HTTP server on 127.0.0.1 (a random port)
 * that passes requests and WebSocket upgrades to the pod through tunnels, and
 * only for the browser that was given this forward's URL. Any local user can
 * connect to a loopback port, so a raw TCP forward would hand the IDE (a
 * shell, for JupyterLab) to every account on the machine. Here the URL
 * carries a random token; the first visit trades it for an HttpOnly,
 * SameSite=Strict cookie named for this forward and is redirected to the same
 * path without it; every other request and upgrade must carry that cookie.
 * The Host header must name the loopback port (no DNS rebinding).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export const TOKEN_PARAM = 'tessera_token';

export interface TokenProxyOptions {
  /** A fresh connection to the pod's port. */
  connect(): Duplex;
  token?: string;
  onRequest?(): void;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** The Cookie header without this forward's own cookie (the IDE has no business with it). */
function withoutOurCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const rest = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith(`${name}=`));
  return rest.length ? rest.join('; ') : undefined;
}

export class TokenProxy {
  readonly token: string;
  private server?: http.Server;
  private readonly open = new Set<Duplex>();
  private port = 0;

  constructor(private readonly o: TokenProxyOptions) {
    this.token = o.token ?? crypto.randomBytes(24).toString('base64url');
  }

  get cookieName(): string {
    return `tessera_fwd_${this.port}`;
  }

  get localPort(): number {
    return this.port;
  }

  /** Listens on 127.0.0.1 at a port the system picks; resolves with it. */
  async listen(): Promise<number> {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Duplex, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  close(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
    this.server?.closeAllConnections();
    this.server?.close();
  }

  /** Who may pass: 'ok', 'trade' (a valid token in the URL), or the refusal. */
  private admit(req: http.IncomingMessage): 'ok' | 'trade' | { status: number; text: string } {
    const host = (req.headers.host ?? '').toLowerCase();
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) return { status: 421, text: `this forward answers only as 127.0.0.1:${this.port}` };
    const url = new URL(req.url ?? '/', `http://${host}`);
    const given = url.searchParams.get(TOKEN_PARAM);
    if (given !== null) return sameToken(given, this.token) ? 'trade' : { status: 403, text: 'wrong token for this forward' };
    const c = cookies(req.headers.cookie).get(this.cookieName);
    return c && sameToken(c, this.token) ? 'ok' : { status: 403, text: 'this port-forward belongs to a Tessera session: open it from Tessera (Open IDE), which gives your browser its token' };
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const a = this.admit(req);
    if (typeof a === 'object') {
      res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${a.text}\n`);
      req.resume();
      return;
    }
    if (a === 'trade') {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      url.searchParams.delete(TOKEN_PARAM);
      res.writeHead(302, {
        Location: url.pathname + url.search,
        'Set-Cookie': `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=/`,
        'Cache-Control': 'no-store',
      });
      res.end();
      req.resume();
      return;
    }
    this.o.onRequest?.();
    const headers = { ...req.headers };
    const cookie = withoutOurCookie(req.headers.cookie, this.cookieName);
    if (cookie) headers.cookie = cookie;
    else delete headers.cookie;
    const tunnel = this.o.connect();
    this.track(tunnel);
    const upstream = http.request({ method: req.method, path: req.url, headers, createConnection: () => tunnel as never });
    upstream.on('response', (r) => {
      res.writeHead(r.statusCode ?? 502, r.statusMessage ?? '', r.headers);
      r.pipe(res);
      r.on('end', () => tunnel.destroy());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`Tessera could not reach the workstation: ${err.message}\n`);
      } else res.destroy();
      tunnel.destroy();
    });
    res.on('close', () => tunnel.destroy());
    req.pipe(upstream);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const a = this.admit(req);
    if (a !== 'ok') {
      const status = typeof a === 'object' ? a.status : 403;
      socket.end(`HTTP/1.1 ${status} Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${typeof a === 'object' ? a.text : 'open the forward first'}\n`);
      return;
    }
    this.o.onRequest?.();
    const tunnel = this.o.connect();
    this.track(tunnel);
    // The upgrade request as the browser sent it (raw header names), minus our cookie.
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      let value = req.rawHeaders[i + 1]!;
      if (name.toLowerCase() === 'cookie') {
        const kept = withoutOurCookie(value, this.cookieName);
        if (!kept) continue;
        value = kept;
      }
      lines.push(`${name}: ${value}`);
    }
    tunnel.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) tunnel.write(head);
    tunnel.pipe(socket);
    socket.pipe(tunnel);
    const end = () => {
      tunnel.destroy();
      socket.destroy();
    };
    tunnel.on('error', end);
    socket.on('error', end);
    tunnel.on('close', end);
    socket.on('close', end);
  }

  private track(s: Duplex): void {
    this.open.add(s);
    s.on('close', () => this.open.delete(s));
    s.on('error', () => undefined);
  }
}
