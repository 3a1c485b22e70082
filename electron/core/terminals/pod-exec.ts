/**
 * The Kubernetes exec WebSocket (what `kubectl exec -it` speaks): one binary
 * message per frame, its first byte the channel. 0 stdin, 1 stdout, 2 stderr,
 * 3 the final Status as JSON, 4 terminal size as {"Width","Height"}.
 * v5.channel.k8s.io is offered first (servers from 1.29 take it; it adds only
 * a close signal we do not need), v4 is what 1.20 speaks.
 */
import crypto from 'node:crypto';
import { WebSocket, type Dispatcher } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

export interface PodExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: readonly string[];
  tty: boolean;
}

/** What channel 3 says at the end: a metav1.Status. */
export interface ExecStatus {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export interface ExecOutcome {
  /** Exit code when the server reported one (0 for Success). */
  code: number | null;
  /** The Status message when the command could not run or failed without an exit code. */
  message?: string;
  /** True when the status says the executable does not exist in the container. */
  notFound: boolean;
}

/** Exit code and meaning of a channel-3 Status (apimachinery's NonZeroExitCode convention). */
export function readStatus(status: ExecStatus | null): ExecOutcome {
  if (!status) return { code: null, message: 'the connection closed without an exit status', notFound: false };
  if (status.status === 'Success') return { code: 0, notFound: false };
  const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (status.reason === 'NonZeroExitCode' && exit?.message !== undefined && /^\d+$/.test(exit.message)) {
    return { code: Number(exit.message), notFound: false };
  }
  const message = status.message ?? 'the command failed';
  // containerd/runc: `exec: "/bin/bash": stat /bin/bash: no such file or directory`; docker: `executable file not found in $PATH`.
  const notFound = /executable file not found|no such file or directory|not found/i.test(message);
  return { code: null, message, notFound };
}

export function execPath(req: PodExecRequest): string {
  const q = new URLSearchParams();
  q.set('container', req.container);
  for (const c of req.command) q.append('command', c);
  q.set('stdin', 'true');
  q.set('stdout', 'true');
  // With a TTY the runtime merges stderr into stdout; asking for it anyway is refused by some servers.
  q.set('stderr', req.tty ? 'false' : 'true');
  q.set('tty', req.tty ? 'true' : 'false');
  return `/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/exec?${q}`;
}

/** How to reach one cluster's API server: what a KubeAccess has (its URL, connection pool with TLS and proxy, credential headers). */
export interface ExecTransport {
  server: string;
  dispatcher: Dispatcher;
  /** Fresh per stream: exec-plugin and OIDC tokens expire. */
  headers(): Promise<Record<string, string>>;
  /** Called once the session is over, for a pool made just for it. */
  close?(): Promise<void>;
}

export interface PodExecHandlers {
  output(bytes: Buffer): void;
  /** Once, when the stream ends: the Status from channel 3 (or null), and the close code. */
  ended(status: ExecStatus | null, closeCode: number): void;
}

/** One exec stream; `open` resolves once the server has accepted the upgrade. */
export class PodExecStream {
  private status: ExecStatus | null = null;
  private endedOnce = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly handlers: PodExecHandlers,
  ) {
    ws.addEventListener('message', (ev) => this.onMessage(Buffer.from(ev.data as ArrayBuffer)));
    ws.addEventListener('close', (ev) => this.finish(ev.code));
  }

  static async open(transport: ExecTransport, req: PodExecRequest, handlers: PodExecHandlers, timeoutMs = 20_000): Promise<PodExecStream> {
    const server = transport.server.replace(/\/$/, '');
    const path = execPath(req);
    const headers = await transport.headers();
    const where = `${req.namespace}/${req.pod} (${req.container})`;
    // undici's WebSocket over the cluster's own dispatcher: the same TLS setup, client certificate and proxy as every other request.
    const ws = new WebSocket(server.replace(/^http/, 'ws') + path, { protocols: [...EXEC_PROTOCOLS], dispatcher: transport.dispatcher, headers });
    ws.binaryType = 'arraybuffer';
    const opened = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      ws.addEventListener('open', () => (clearTimeout(timer), resolve(true)), { once: true });
      ws.addEventListener('close', () => (clearTimeout(timer), resolve(false)), { once: true });
    });
    if (!opened) {
      ws.close();
      throw await diagnose(transport, server, path, headers, where);
    }
    if (!EXEC_PROTOCOLS.includes(ws.protocol as (typeof EXEC_PROTOCOLS)[number])) {
      ws.close();
      throw new TesseraError('API_ERROR', `the API server answered exec with subprotocol "${ws.protocol}", not ${EXEC_PROTOCOLS.join(' or ')}`);
    }
    return new PodExecStream(ws, handlers);
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  write(data: Buffer): void {
    this.send(CHANNEL.stdin, data);
  }

  resize(cols: number, rows: number): void {
    this.send(CHANNEL.resize, Buffer.from(JSON.stringify({ Width: cols, Height: rows })));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    // A server that never answers the close handshake does not hold the session open.
    setTimeout(() => this.finish(1006), 3000).unref();
  }

  private send(channel: number, payload: Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(Buffer.concat([Buffer.from([channel]), payload]));
  }

  private onMessage(frame: Buffer): void {
    if (frame.length === 0) return;
    const channel = frame[0]!;
    const payload = frame.subarray(1);
    if (channel === CHANNEL.stdout || channel === CHANNEL.stderr) {
      if (payload.length) this.handlers.output(payload);
    } else if (channel === CHANNEL.error) {
      try {
        this.status = JSON.parse(payload.toString('utf8')) as ExecStatus;
      } catch {
        this.status = { status: 'Failure', message: payload.toString('utf8').slice(0, 2000) };
      }
    }
  }

  private finish(code: number): void {
    if (this.endedOnce) return;
    this.endedOnce = true;
    this.handlers.ended(this.status, code);
  }
}

/**
 * Why a WebSocket handshake failed. The WHATWG WebSocket hides the answer, so
 * the same upgrade is sent once more through the cluster's dispatcher with a
 * handler that reads a non-101 answer like any response: the API server's
 * Status then says what went wrong (403, 404, "container not found", or the
 * error it got dialling the node's kubelet).
 */
async function diagnose(transport: ExecTransport, server: string, path: string, headers: Record<string, string>, where: string): Promise<TesseraError> {
  const url = new URL(server + path);
  try {
    const answer = await new Promise<{ status: number; body: string } | null>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      const done = (v: { status: number; body: string } | null) => (clearTimeout(timer), resolve(v));
      transport.dispatcher.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'GET',
          upgrade: 'websocket',
          headers: { ...headers, 'sec-websocket-version': '13', 'sec-websocket-key': crypto.randomBytes(16).toString('base64'), 'sec-websocket-protocol': EXEC_PROTOCOLS.join(', ') },
        },
        {
          onRequestStart: () => {},
          onRequestUpgrade: (_c: unknown, _s: number, _h: unknown, socket: { destroy(): void }) => {
            socket.destroy();
            done(null);
          },
          onResponseStart: (_c: unknown, statusCode: number) => {
            status = statusCode;
          },
          onResponseData: (_c: unknown, chunk: Buffer) => {
            if (chunks.length < 64) chunks.push(chunk);
          },
          onResponseEnd: () => done({ status, body: Buffer.concat(chunks).toString('utf8') }),
          onResponseError: (_c: unknown, err: Error) => (clearTimeout(timer), reject(err)),
        } as unknown as Dispatcher.DispatchHandler,
      );
    });
    if (!answer) return new TesseraError('UNREACHABLE', `exec into ${where}: the API server accepted the stream the second time; try again`);
    return httpError(answer.status, answer.body, where);
  } catch (err) {
    return new TesseraError('UNREACHABLE', `exec into ${where} failed: ${(err as Error).message}`, { server });
  }
}

function httpError(status: number, body: string, where: string): TesseraError {
  let message = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { message?: string };
    if (parsed.message) message = parsed.message;
  } catch {
    // Not a Status: keep the text.
  }
  const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : status === 400 ? 'INVALID_REQUEST' : /error dialing backend/.test(message) ? 'UNREACHABLE' : 'API_ERROR';
  return new TesseraError(code, `exec into ${where} refused (HTTP ${status}): ${message || 'no message'}`, { status });
}
