// What a workstation pod serves on its IDE port, so a port-forward or a pod
// proxy reaches real bytes: one small HTTP server per running workstation pod
// (labelled tessera.dev/workstation or notebook-name), answering like an IDE's
// landing page under NB_PREFIX (a Kubeflow notebook image serves JupyterLab
// only below that path and 404s elsewhere), with a JSON status at
// <prefix>api/status and a WebSocket echo at <prefix>api/kernels/<id>/channels
// (what a JupyterLab kernel connection is). Each pod gets its own listener, so
// the server knows whose page it serves; PodNetwork and the kubelet's
// port-forward deliver a pod's declared container ports to it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Endpoint } from './pod-network.ts';
import type { Pod } from './pod-informer.ts';

const WS_LABELS = ['tessera.dev/workstation', 'notebook-name'];
const DEFAULT_IDE_PORT = 8888;

export function isWorkstationPod(pod: Pod): boolean {
  return WS_LABELS.some((l) => pod.metadata.labels?.[l]);
}

/** The container ports the pod declares (a notebook without any gets the controller's 8888). */
export function idePorts(pod: Pod): number[] {
  const declared = pod.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
  return declared.length ? declared : [DEFAULT_IDE_PORT];
}

/** The path the IDE serves under: NB_PREFIX with a trailing slash, else "/". */
export function idePrefix(pod: Pod): string {
  const nb = pod.spec.containers.flatMap((c) => c.env ?? []).find((e) => e.name === 'NB_PREFIX')?.value;
  return nb ? `${nb.replace(/\/+$/, '')}/` : '/';
}

interface Served {
  uid: string;
  server: http.Server;
  port?: number;
  requests: number;
}

export class PodIde {
  private readonly byKey = new Map<string, Served>();

  constructor(private readonly log: (m: string) => void) {}

  /** Starts a pod's IDE when it runs, stops it when the pod ends or goes. */
  onPodChange(pod: Pod, deleted: boolean): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const have = this.byKey.get(key);
    const live = !deleted && !pod.metadata.deletionTimestamp && pod.status?.phase === 'Running' && isWorkstationPod(pod);
    if (have && (!live || have.uid !== pod.metadata.uid)) {
      have.server.closeAllConnections();
      have.server.close();
      this.byKey.delete(key);
    }
    if (live && !this.byKey.has(key)) this.start(key, pod);
  }

  /** Where the pod's port is served locally, when it is a running workstation's IDE port. */
  endpoint(namespace: string, name: string, port: number, pod?: Pod): Endpoint | undefined {
    const s = this.byKey.get(`${namespace}/${name}`);
    if (!s?.port || (pod && !idePorts(pod).includes(port))) return undefined;
    return { host: '127.0.0.1', port: s.port };
  }

  /** Requests served per pod (for the test bed's own checks). */
  requests(namespace: string, name: string): number {
    return this.byKey.get(`${namespace}/${name}`)?.requests ?? 0;
  }

  close(): void {
    for (const s of this.byKey.values()) {
      s.server.closeAllConnections();
      s.server.close();
    }
    this.byKey.clear();
  }

  private start(key: string, pod: Pod): void {
    const prefix = idePrefix(pod);
    const who = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const image = pod.spec.containers[0]?.image ?? '';
    const served: Served = { uid: pod.metadata.uid, server: http.createServer(), requests: 0 };
    served.server.on('request', (req, res) => {
      served.requests++;
      const url = new URL(req.url ?? '/', 'http://ide');
      if (!url.pathname.startsWith(prefix)) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end(`404: ${url.pathname} is not under ${prefix}`);
        return;
      }
      const rest = url.pathname.slice(prefix.length);
      if (rest === 'api/status') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ pod: who, image, started: new Date().toISOString(), kernels: 0, connections: this.wss.clients.size }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>JupyterLab</title></head><body><h1>JupyterLab (test bed stand-in)</h1><p id="pod">${who}</p><p id="image">${image}</p><p id="path">${url.pathname}</p></body></html>`);
    });
    served.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://ide');
      if (!url.pathname.startsWith(`${prefix}api/kernels/`)) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, binary) => ws.send(binary ? data : `${who}: ${String(data)}`)));
    });
    served.server.on('error', (err) => this.log(`ide ${who}: ${err.message}`));
    served.server.listen(0, '127.0.0.1', () => {
      served.port = (served.server.address() as AddressInfo).port;
      this.log(`ide ${who}: serving ${prefix} on 127.0.0.1:${served.port}`);
    });
    this.byKey.set(key, served);
  }

  private readonly wss = new WebSocketServer({ noServer: true });
}
