/**
 * A real WebSocket server speaking the Kubernetes exec protocol
 * (v4.channel.k8s.io, as a 1.20 API server and kubelet do) over TLS, with a
 * real shell on a real PTY behind it (the test bed's kubelet-exec session), in a temp
 * folder. It answers what the API server answers before the upgrade: 401 for
 * a wrong token, 404 for an unknown pod, 400 for a container the pod does not
 * have, 400 "Upgrade request required" for a plain GET; and what containerd
 * answers for a missing executable (a Failure Status on channel 3).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ExecTransport } from '../../electron/core/terminals/pod-exec.ts';
import { pickExecProtocol, sendStatus, serveExecSession } from '../testbed/fleet/kubelet-exec.ts';

export interface FakeContainer {
  /** Whether /bin/bash "exists" in this container (the host's real one runs when it does). */
  bash: boolean;
}

export interface ExecServerOptions {
  token: string;
  /** "namespace/pod" → containers by name. */
  pods: Record<string, Record<string, FakeContainer>>;
}

export interface ExecRecord {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  protocol: string;
  tty: boolean;
  resizes: { Width: number; Height: number }[];
}

export interface ExecServer {
  url: string;
  /** A transport for PodExecStream / TerminalService trusting this server's CA. */
  transport(token?: string): ExecTransport;
  /** Every exec that got past the upgrade, in order. */
  execs: ExecRecord[];
  /** Shell processes still running. */
  live(): number;
  close(): Promise<void>;
}

function status(res: import('node:http').ServerResponse, code: number, message: string, reason: string): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

export async function startExecServer(opts: ExecServerOptions): Promise<ExecServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-execsrv-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  const key = fs.readFileSync(path.join(dir, 'key.pem'));
  const execs: ExecRecord[] = [];

  type Checked = { ok: true; namespace: string; pod: string; container: string; command: string[]; tty: boolean } | { ok: false; code: number; message: string; reason: string };
  const check = (req: import('node:http').IncomingMessage): Checked => {
    if (req.headers.authorization !== `Bearer ${opts.token}`) return { ok: false, code: 401, message: 'Unauthorized', reason: 'Unauthorized' };
    const url = new URL(req.url ?? '/', 'https://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) return { ok: false, code: 404, message: 'the server could not find the requested resource', reason: 'NotFound' };
    const [namespace, pod] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    const containers = opts.pods[`${namespace}/${pod}`];
    if (!containers) return { ok: false, code: 404, message: `pods "${pod}" not found`, reason: 'NotFound' };
    const names = Object.keys(containers);
    const container = url.searchParams.get('container') ?? (names.length === 1 ? names[0]! : '');
    if (!containers[container]) return { ok: false, code: 400, message: `container ${container} is not valid for pod ${pod}`, reason: 'BadRequest' };
    const command = url.searchParams.getAll('command');
    if (command.length === 0) return { ok: false, code: 400, message: 'you must specify at least 1 command', reason: 'BadRequest' };
    return { ok: true, namespace, pod, container, command, tty: url.searchParams.get('tty') === 'true' };
  };

  const server = https.createServer({ cert, key }, (req, res) => {
    const c = check(req);
    if (!c.ok) return status(res, c.code, c.message, c.reason);
    status(res, 400, 'Upgrade request required', 'BadRequest');
  });
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: pickExecProtocol,
  });
  server.on('upgrade', (req, socket, head) => {
    const c = check(req);
    if (!c.ok) {
      const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: c.message, reason: c.reason, code: c.code });
      socket.end(`HTTP/1.1 ${c.code} ${c.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, c));
  });

  let live = 0;
  const serve = (ws: WebSocket, c: Extract<Checked, { ok: true }>): void => {
    const record: ExecRecord = { namespace: c.namespace, pod: c.pod, container: c.container, command: c.command, protocol: ws.protocol, tty: c.tty, resizes: [] };
    execs.push(record);
    if (c.command[0] === '/bin/bash' && !opts.pods[`${c.namespace}/${c.pod}`]![c.container]!.bash) {
      // What containerd answers for an executable the image does not have.
      return sendStatus(ws, { status: 'Failure', message: 'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/bash": stat /bin/bash: no such file or directory: unknown' });
    }
    live++;
    serveExecSession(ws, { command: c.command, cwd: home, onResize: (size) => record.resizes.push(size), onEnd: () => live-- });
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agents: Agent[] = [];
  return {
    url,
    execs,
    live: () => live,
    transport: (token = opts.token) => {
      const dispatcher = new Agent({ connect: { ca: cert } });
      agents.push(dispatcher);
      return { server: url, dispatcher, headers: async () => ({ Authorization: `Bearer ${token}` }) };
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(agents.map((a) => a.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
