/**
 * One TCP connection to a pod's port through the API server: the
 * pods/portforward subresource over a WebSocket (v4.channel.k8s.io, what
 * kube-apiserver 1.20 passes through to the kubelet). Per requested port the
 * kubelet opens a data channel 2i and an error channel 2i+1 and first writes
 * the port number (uint16, little-endian) on both; after that channel 0 is
 * the TCP byte stream and channel 1 carries text only when the kubelet could
 * not reach the container's port. One WebSocket is one connection, so a
 * forward opens one tunnel per local connection, as kubectl does per stream.
 * The tunnel is a Duplex, so node:http can use it as a request's socket.
 */
import { Duplex } from 'node:stream';
import { WebSocket } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { ExecTransport } from '../terminals/pod-exec.ts';

export const PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io'] as const;

export interface TunnelTarget {
  namespace: string;
  pod: string;
  port: number;
}

export function portForwardPath(t: TunnelTarget): string {
  return `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/portforward?ports=${t.port}`;
}

export class PodTunnel extends Duplex {
  private ws?: WebSocket;
  /** Writes made before the WebSocket opened. */
  private queued: { chunk: Buffer; cb: (err?: Error | null) => void }[] = [];
  /** The port prefix still expected on channel 0 / 1 (two bytes each). */
  private prefix = [2, 2];
  private errorText = '';

  constructor(
    private readonly transport: ExecTransport,
    private readonly target: TunnelTarget,
    private readonly timeoutMs = 20_000,
  ) {
    super({ allowHalfOpen: false });
    void this.connect();
  }

  // node:http pokes these on its sockets; a tunnel has no TCP options of its own.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(_ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  private async connect(): Promise<void> {
    const where = `${this.target.namespace}/${this.target.pod}:${this.target.port}`;
    try {
      const headers = await this.transport.headers();
      const url = this.transport.server.replace(/\/$/, '').replace(/^http/, 'ws') + portForwardPath(this.target);
      const ws = new WebSocket(url, { protocols: [...PORTFORWARD_PROTOCOLS], dispatcher: this.transport.dispatcher, headers });
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      const opened = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.timeoutMs);
        ws.addEventListener('open', () => (clearTimeout(timer), resolve(true)), { once: true });
        ws.addEventListener('close', () => (clearTimeout(timer), resolve(false)), { once: true });
      });
      if (this.destroyed) {
        ws.close();
        return;
      }
      if (!opened) {
        ws.close();
        throw new TesseraError('UNREACHABLE', `the API server refused the port-forward to ${where} (is the pod running, and may you create pods/portforward?)`);
      }
      ws.addEventListener('message', (ev) => this.onFrame(Buffer.from(ev.data as ArrayBuffer)));
      ws.addEventListener('close', () => {
        if (this.errorText) this.destroy(new TesseraError('UNREACHABLE', `port-forward to ${where}: ${this.errorText}`));
        else this.push(null);
      });
      for (const q of this.queued.splice(0)) this.sendData(q.chunk, q.cb);
    } catch (err) {
      const e = err instanceof TesseraError ? err : new TesseraError('UNREACHABLE', `port-forward to ${where} failed: ${(err as Error).message}`);
      for (const q of this.queued.splice(0)) q.cb(e);
      this.destroy(e);
    }
  }

  private onFrame(frame: Buffer): void {
    if (frame.length === 0) return;
    const channel = frame[0]!;
    let payload = frame.subarray(1);
    if (channel > 1) return;
    // The kubelet's first bytes on each channel are the port number, not data.
    const skip = Math.min(this.prefix[channel]!, payload.length);
    this.prefix[channel]! -= skip;
    payload = payload.subarray(skip);
    if (payload.length === 0) return;
    if (channel === 0) this.push(payload);
    else this.errorText += payload.toString('utf8');
  }

  private sendData(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return cb(new TesseraError('UNREACHABLE', 'the port-forward is closed'));
    ws.send(Buffer.concat([Buffer.from([0]), chunk]));
    cb();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.sendData(chunk, cb);
    else if (!this.ws || this.ws.readyState === WebSocket.CONNECTING) this.queued.push({ chunk, cb });
    else cb(new TesseraError('UNREACHABLE', 'the port-forward is closed'));
  }

  override _read(): void {
    // Pushed as frames arrive; the WebSocket has no pull side.
  }

  override _final(cb: (err?: Error | null) => void): void {
    // A WebSocket cannot half-close: the tunnel ends when the pod side does, or on destroy.
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const ws = this.ws;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) ws.close(1000);
    cb(err);
  }
}
