// The streaming half of the simulated kubelets: `kubectl exec` into any pod of
// the fleet. kube-apiserver 1.20 answers pods/exec by dialling the node's
// kubelet (InternalIP, with --kubelet-preferred-address-types=InternalIP, and
// daemonEndpoints.kubeletEndpoint.Port 10250) over TLS and passing the
// client's WebSocket upgrade through unchanged; this server takes it at
// /exec/{namespace}/{pod}/{container}?command=...&input=1&output=1&tty=1 and
// runs the command on a real PTY (pty-shell.py) in a per-container folder, so
// a shell opened through the API server is a real shell.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveContainerLogs } from './container-logs.ts';
import type { Pod } from './pod-informer.ts';
import type { Endpoint } from './pod-network.ts';

export const KUBELET_PORT = 10250;
const PTY_SHELL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pty-shell.py');
/** Channel bytes of the Kubernetes exec protocol (v4.channel.k8s.io). */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;

export interface ExecSessionOptions {
  command: string[];
  /** The folder the command runs in (its "container filesystem" as far as the test can tell). */
  cwd: string;
  /** Called with every resize the client sends. */
  onResize?: (size: { Width: number; Height: number }) => void;
  /** Called when the command is over. */
  onEnd?: () => void;
}

/** Negotiates like a kubelet: only the binary v4 framing is offered here. */
export function pickExecProtocol(offered: Set<string>): string | false {
  return offered.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false;
}

/** Writes the Status that ends an exec: Success, NonZeroExitCode with its code, or a plain Failure. */
export function sendStatus(ws: WebSocket, status: object): void {
  if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([STATUS]), Buffer.from(JSON.stringify({ metadata: {}, ...status }))]));
  ws.close(1000);
}

/** Runs one exec stream: the command on a PTY, its output on channel 1, its exit as a Status on channel 3. */
export function serveExecSession(ws: WebSocket, opts: ExecSessionOptions): { live: () => boolean } {
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  fs.mkdirSync(opts.cwd, { recursive: true });
  const child = spawn('python3', [PTY_SHELL, ...opts.command], {
    cwd: opts.cwd,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: opts.cwd, PS1: '$ ', ENV: '' },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  let running = true;
  const resizeFd = child.stdio[3] as NodeJS.WritableStream;
  child.stdout!.on('data', (b: Buffer) => send(STDOUT, b));
  child.stderr!.on('data', (b: Buffer) => send(STDERR, b));
  child.on('error', (err) => sendStatus(ws, { status: 'Failure', message: `exec failed: ${err.message}` }));
  child.on('close', (code) => {
    running = false;
    opts.onEnd?.();
    if (code === 0) sendStatus(ws, { status: 'Success' });
    else
      sendStatus(ws, {
        status: 'Failure',
        reason: 'NonZeroExitCode',
        message: `command terminated with non-zero exit code: exit status ${code}`,
        details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
      });
  });
  ws.on('message', (raw: Buffer) => {
    const payload = raw.subarray(1);
    if (raw[0] === STDIN) child.stdin!.write(payload);
    else if (raw[0] === RESIZE) {
      try {
        const size = JSON.parse(payload.toString('utf8')) as { Width: number; Height: number };
        opts.onResize?.(size);
        resizeFd.write(`${JSON.stringify({ Width: size.Width, Height: size.Height })}\n`);
      } catch {
        // A malformed resize is ignored, as the kubelet does.
      }
    }
  });
  ws.on('close', () => {
    // The client hung up: the shell gets its hangup, and is killed if it ignores it.
    if (child.exitCode === null) child.stdin!.end();
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 2000).unref();
  });
  return { live: () => running };
}

/** A self-signed certificate for the simulated kubelets (the test bed's API server does not verify kubelets). */
export function kubeletCert(dir: string): { cert: Buffer; key: Buffer } {
  const cert = path.join(dir, 'kubelet.crt');
  const key = path.join(dir, 'kubelet.key');
  if (!fs.existsSync(cert) || !fs.existsSync(key)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', '/CN=tessera-sim-kubelet', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  }
  return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
}

/** Where a pod's port is served locally (undefined: nothing listens there, or no such pod). */
export type PortForwardTarget = (namespace: string, pod: string, port: number) => Endpoint | undefined;

/**
 * The kubelet's WebSocket port-forward (pkg/kubelet/cri/streaming/portforward
 * websocket.go, as in 1.20): the API server passes `port=P[,Q]`; each port
 * gets a data channel 2i and an error channel 2i+1, and the kubelet first
 * writes the port (uint16 little-endian) on both. One WebSocket carries one
 * connection per port; bytes on the data channel are the TCP stream, and a
 * failure to reach the container's port is text on the error channel.
 */
export function servePortForward(ws: WebSocket, ports: number[], target: (port: number) => Endpoint | undefined, log: (m: string) => void): void {
  const sockets: (net.Socket | undefined)[] = [];
  const portBytes = (p: number) => Buffer.from([p & 0xff, p >> 8]);
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  ports.forEach((port, i) => {
    send(2 * i, portBytes(port));
    send(2 * i + 1, portBytes(port));
    const fail = (why: string) => {
      send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod: ${why}`));
      ws.close(1000);
    };
    const to = target(port);
    if (!to) return fail(`dial tcp 127.0.0.1:${port}: connect: connection refused`);
    const sock = net.connect(to.port, to.host);
    sockets[i] = sock;
    sock.on('data', (b: Buffer) => send(2 * i, b));
    sock.on('error', (err) => fail(err.message));
    sock.on('close', () => ws.readyState === ws.OPEN && ws.close(1000));
  });
  ws.on('message', (raw: Buffer) => {
    const ch = raw[0] ?? 255;
    const sock = ch % 2 === 0 ? sockets[ch / 2] : undefined;
    if (sock && raw.length > 1) sock.write(raw.subarray(1));
  });
  ws.on('close', () => {
    for (const s of sockets) s?.end();
    log(`port-forward ${ports.join(',')} closed`);
  });
}

export class KubeletExec {
  private readonly servers: https.Server[] = [];
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: pickExecProtocol });
  private sessions = 0;

  constructor(
    private readonly stateDir: string,
    private readonly log: (m: string) => void,
    /** Serves pods/portforward when given. */
    private readonly portForward?: PortForwardTarget,
    /** Serves GET /containerLogs when given: the pods this kubelet runs, by namespace/name. */
    private readonly podAt?: (namespace: string, name: string) => Pod | undefined,
  ) {}

  get activeSessions(): number {
    return this.sessions;
  }

  /** One TLS listener per node address; returns how many listen. */
  async listenAll(ips: string[]): Promise<number> {
    const tls = kubeletCert(path.join(this.stateDir, 'pki'));
    await Promise.all(ips.map((ip) => this.listen(ip, tls)));
    return this.servers.length;
  }

  private listen(ip: string, tls: { cert: Buffer; key: Buffer }): Promise<void> {
    const server = https.createServer(tls, (req, res) => {
      if (this.podAt && req.url?.startsWith('/containerLogs/')) return serveContainerLogs(req, res, this.stateDir, this.podAt);
      res.writeHead(req.url?.startsWith('/exec/') ? 400 : 404, { 'Content-Type': 'text/plain' });
      res.end(req.url?.startsWith('/exec/') ? 'Upgrade request required' : 'not found');
    });
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const pf = /^\/portForward\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (pf && this.portForward) {
        const [namespace, pod] = [pf[1]!, pf[2]!].map(decodeURIComponent) as [string, string];
        const ports = url.searchParams.getAll('port').flatMap((v) => v.split(',')).map(Number);
        if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nquery parameter "port" is required');
          return;
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.log(`kubelet ${ip}: port-forward ${namespace}/${pod} ${ports.join(',')} (${ws.protocol})`);
          servePortForward(ws, ports, (port) => this.portForward!(namespace, pod, port), this.log);
        });
        return;
      }
      const m = /^\/exec\/([^/]+)\/([^/]+)\/(?:[^/]+\/)?([^/]+)$/.exec(url.pathname);
      const command = url.searchParams.getAll('command');
      if (!m || command.length === 0) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const [namespace, pod, container] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sessions++;
        this.log(`kubelet ${ip}: exec ${namespace}/${pod}/${container} ${JSON.stringify(command)} (${ws.protocol})`);
        serveExecSession(ws, {
          command,
          cwd: path.join(this.stateDir, 'exec', `${namespace}_${pod}_${container}`),
          onEnd: () => this.sessions--,
        });
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new Error(`${ip}:${KUBELET_PORT} is taken (another test bed on the same node network?)`) : err));
      server.listen(KUBELET_PORT, ip, () => {
        this.servers.push(server);
        resolve();
      });
    });
  }

  close(): void {
    for (const c of this.wss.clients) c.terminate();
    for (const s of this.servers) {
      s.closeAllConnections();
      s.close();
    }
  }
}
