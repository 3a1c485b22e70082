// Real HTTP servers on loopback standing in for the ingress and the predictor
// pods: one port per InferenceService (its status.url, stable for its life)
// that splits requests between revisions by the traffic percentages (smooth
// weighted round-robin: deterministic, so 10/90 over 100 requests is exactly
// 10/90) and reaches only revisions with a ready pod, and one port per
// revision (its traffic entry's url). Every answer carries
// `x-tessera-revision: <revision>` (the InferenceService's name in Raw mode).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handle, type ModelContext } from './protocols.ts';

/** What one port answers for: a whole InferenceService, or one revision of it. */
export interface Binding {
  /** Which backends take requests now, with weights; [] → 503. */
  targets(): Array<{ revision: string; weight: number }>;
  model(): ModelContext | undefined;
  /** Extra latency on top of the base 1–3 ms (isvc-slow). */
  delayMs(): number;
  /** Told of every answered request (the model server's access log). */
  served?(revision: string, method: string, path: string, status: number, ms: number): void;
}

interface Listener {
  server: http.Server;
  port: number;
  binding: Binding;
  /** Smooth weighted round-robin state, reset when the target set changes. */
  rr: { key: string; current: Map<string, number> };
}

/** Picks the next revision: nginx's smooth weighted round-robin. */
export function pickWeighted(targets: Array<{ revision: string; weight: number }>, rr: Listener['rr']): string | undefined {
  const live = targets.filter((t) => t.weight > 0);
  if (live.length === 0) return undefined;
  const key = live.map((t) => `${t.revision}=${t.weight}`).join(',');
  if (rr.key !== key) {
    rr.key = key;
    rr.current = new Map(live.map((t) => [t.revision, 0]));
  }
  const total = live.reduce((a, t) => a + t.weight, 0);
  let best: string | undefined;
  let bestValue = -Infinity;
  for (const t of live) {
    const v = (rr.current.get(t.revision) ?? 0) + t.weight;
    rr.current.set(t.revision, v);
    if (v > bestValue) {
      bestValue = v;
      best = t.revision;
    }
  }
  rr.current.set(best!, bestValue - total);
  return best;
}

export class DataPlane {
  private readonly listeners = new Map<string, Listener>();

  constructor(private readonly log: (m: string) => void) {}

  /** Opens (or keeps) the port for `id`; `preferredPort` keeps a port across simulator restarts. */
  async open(id: string, binding: Binding, preferredPort = 0): Promise<number> {
    const have = this.listeners.get(id);
    if (have) {
      have.binding = binding;
      return have.port;
    }
    const listener: Listener = { server: http.createServer(), port: 0, binding, rr: { key: '', current: new Map() } };
    listener.server.on('request', (req, res) => this.serve(listener, req, res));
    listener.server.keepAliveTimeout = 5_000;
    const listen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        listener.server.once('error', reject);
        listener.server.listen(port, '127.0.0.1', () => {
          listener.server.off('error', reject);
          resolve((listener.server.address() as AddressInfo).port);
        });
      });
    try {
      listener.port = await listen(preferredPort);
    } catch (err) {
      if (!preferredPort) throw err;
      this.log(`data plane: port ${preferredPort} for ${id} is taken (${(err as Error).message}); using a new one`);
      listener.port = await listen(0);
    }
    this.listeners.set(id, listener);
    return listener.port;
  }

  has(id: string): boolean {
    return this.listeners.has(id);
  }

  close(id: string): void {
    const l = this.listeners.get(id);
    if (!l) return;
    this.listeners.delete(id);
    l.server.close();
    l.server.closeAllConnections();
  }

  ids(): string[] {
    return [...this.listeners.keys()];
  }

  closeAll(): void {
    for (const id of this.ids()) this.close(id);
  }

  private serve(l: Listener, req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown, revision?: string) => {
        const text = JSON.stringify(body);
        const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
        if (revision) headers['x-tessera-revision'] = revision;
        const delay = 1 + Math.floor(Math.random() * 3) + Math.max(0, l.binding.delayMs());
        setTimeout(() => {
          if (!res.destroyed) res.writeHead(status, headers).end(text);
        }, delay);
      };
      const model = l.binding.model();
      const revision = pickWeighted(l.binding.targets(), l.rr);
      if (!model || !revision) {
        send(503, { error: 'no revision of this InferenceService is ready' });
        return;
      }
      const started = Date.now();
      const reply = handle(model, req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'));
      send(reply.status, reply.body, revision);
      l.binding.served?.(revision, req.method ?? 'GET', (req.url ?? '/').split('?')[0]!, reply.status, Date.now() - started + 1);
    });
    req.on('error', () => res.destroy());
  }
}
