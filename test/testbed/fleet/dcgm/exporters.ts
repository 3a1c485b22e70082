// One dcgm-exporter endpoint per GPU node, each on the node's own loopback
// address and port 9400, all served by this one process. The pod network
// (pod-network.ts) routes the exporter pods' IPs here, which is how the API
// server's pod and service proxy reaches them.
import http from 'node:http';
import { mapLimit } from '../../kube.ts';
import type { DeviceAllocator } from '../allocator.ts';
import type { NodeSpec } from '../catalog.ts';
import type { FleetFaults } from '../fault-state.ts';
import { renderMetrics } from './metrics.ts';

export const DCGM_PORT = 9400;

export class DcgmExporters {
  private readonly servers = new Map<string, http.Server>();
  private readonly specs: NodeSpec[];

  constructor(
    specs: NodeSpec[],
    private readonly devices: DeviceAllocator,
    private readonly faults: () => FleetFaults,
    private readonly log: (m: string) => void,
  ) {
    this.specs = specs.filter((s) => s.gpu);
  }

  get nodes(): NodeSpec[] {
    return this.specs;
  }

  address(node: string): { host: string; port: number } | undefined {
    const spec = this.specs.find((s) => s.name === node);
    return spec && { host: spec.ip, port: DCGM_PORT };
  }

  async listenAll(): Promise<number> {
    await mapLimit(this.specs, 64, (spec) => this.listen(spec));
    return this.servers.size;
  }

  private listen(spec: NodeSpec): Promise<void> {
    const server = http.createServer((req, res) => this.handle(spec, req, res));
    server.keepAliveTimeout = 30_000;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`${spec.ip}:${DCGM_PORT} is taken (another test bed on the same node network?)`) : err),
      );
      server.listen(DCGM_PORT, spec.ip, () => {
        this.servers.set(spec.name, server);
        resolve();
      });
    });
  }

  private handle(spec: NodeSpec, req: http.IncomingMessage, res: http.ServerResponse): void {
    const down = this.faults().exporters?.[spec.name];
    if (down?.mode === 'close') {
      req.socket.destroy();
      return;
    }
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Service Unavailable\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      res.end('OK\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    try {
      const body = renderMetrics({ spec, gpus: this.devices.gpus(spec.name), faults: this.faults().gpus?.[spec.name], nowMs: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    } catch (err) {
      this.log(`dcgm-exporter ${spec.name}: ${err instanceof Error ? err.stack : String(err)}`);
      res.writeHead(500);
      res.end();
    }
  }

  close(): void {
    for (const s of this.servers.values()) s.close();
    this.servers.clear();
  }
}
