// The pod network, as far as the API server needs one. kube-apiserver refuses
// to proxy to loopback pod IPs ("address not allowed"), so simulated pods get
// ordinary pod-CIDR addresses (10.128.x.y) that exist nowhere. The API server
// runs with HTTP_PROXY=socks5://127.0.0.1:<port> (Go's proxy-from-environment,
// which its pod/service proxy transport honours) and this SOCKS5 server routes
// each connection to whatever serves that pod IP locally, the way a CNI would
// deliver it to the pod. Destinations that are not simulated pods pass straight
// through, so nothing else the API server dials changes behaviour.
import net from 'node:net';
import type { Pod } from './pod-informer.ts';

export interface Endpoint {
  host: string;
  port: number;
}

/** Picks where a pod's port is really served, or undefined when nothing listens there. */
export type PodRoute = (pod: Pod, port: number) => Endpoint | undefined;

const REPLY = { ok: 0, refused: 5, unsupported: 7 } as const;

export class PodNetwork {
  private readonly byIp = new Map<string, Pod>();
  private server?: net.Server;

  constructor(
    private readonly route: PodRoute,
    /** True for addresses inside the simulated pod CIDRs: unknown ones there are refused, not passed through. */
    private readonly isPodIp: (ip: string) => boolean,
    private readonly log: (m: string) => void,
  ) {}

  onPodChange(pod: Pod, deleted: boolean): void {
    const ip = pod.status?.podIP;
    if (!ip || pod.spec.hostNetwork) return;
    if (deleted) {
      if (this.byIp.get(ip)?.metadata.uid === pod.metadata.uid) this.byIp.delete(ip);
    } else this.byIp.set(ip, pod);
  }

  listen(port: number): Promise<void> {
    this.server = net.createServer((c) => this.accept(c));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
  }

  close(): void {
    this.server?.close();
  }

  private resolve(host: string, port: number): Endpoint | 'refused' {
    const pod = this.byIp.get(host);
    if (pod) return this.route(pod, port) ?? 'refused';
    return this.isPodIp(host) ? 'refused' : { host, port };
  }

  /** SOCKS5 (RFC 1928), no authentication, CONNECT only: what Go's proxy dialer speaks. */
  private accept(client: net.Socket): void {
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'piping' = 'greeting';
    client.on('error', () => client.destroy());
    const reply = (code: number) => client.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'greeting') {
        if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
        buf = buf.subarray(2 + buf[1]!);
        client.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage !== 'request' || buf.length < 5) return;
      const cmd = buf[1];
      const atyp = buf[3];
      let host: string;
      let at: number;
      if (atyp === 1) {
        if (buf.length < 10) return;
        host = [...buf.subarray(4, 8)].join('.');
        at = 8;
      } else if (atyp === 3) {
        const len = buf[4]!;
        if (buf.length < 5 + len + 2) return;
        host = buf.subarray(5, 5 + len).toString();
        at = 5 + len;
      } else {
        reply(REPLY.unsupported);
        client.end();
        return;
      }
      const port = buf.readUInt16BE(at);
      const rest = buf.subarray(at + 2);
      stage = 'piping';
      client.off('data', onData);
      if (cmd !== 1) {
        reply(REPLY.unsupported);
        client.end();
        return;
      }
      const target = this.resolve(host, port);
      if (target === 'refused') {
        reply(REPLY.refused);
        client.end();
        return;
      }
      let connected = false;
      const upstream = net.connect(target.port, target.host);
      upstream.once('connect', () => {
        connected = true;
        reply(REPLY.ok);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', (err) => {
        if (connected) {
          client.destroy();
          return;
        }
        reply(REPLY.refused);
        client.end();
        this.log(`pod network: ${host}:${port} → ${target.host}:${target.port}: ${err.message}`);
      });
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  }
}
