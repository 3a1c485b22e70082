// Open → IDE: a local forward to a running workstation's IDE port through the
// API server (pods/portforward), on 127.0.0.1 at a random port, guarded by a
// per-forward token (token-proxy.ts), listed and closable, and closed when the
// workstation's pod goes (stopped, restored, deleted) or the console quits.
// Opening and closing go to the audit trail; the token never does.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { OpenedForward } from '../../../shared/contract/workstations.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { AccessCheck } from '../../../shared/model/cluster.ts';
import type { IdeForward } from '../../../shared/model/workstation.ts';
import type { Clock } from '../clock.ts';
import type { AccessRequest } from '../clusters/cluster-connection.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import { PodTunnel, type TunnelTarget } from '../portforward/pod-tunnel.ts';
import { TOKEN_PARAM, TokenProxy } from '../portforward/token-proxy.ts';
import type { ExecTransport } from '../terminals/pod-exec.ts';
import { DEFAULT_PORT, type KubeObject } from './ws-objects.ts';
import type { WorkstationService } from './workstation-service.ts';

export interface WsForwardsDeps {
  service: WorkstationService;
  clock: Clock;
  kube(clusterId: string): Promise<KubeAccess>;
  canI(clusterId: string, req: AccessRequest): Promise<AccessCheck>;
  /** An HTTP/1.1 connection pool to the cluster's API server (WebSockets cannot ride HTTP/2). */
  transport(clusterId: string): Promise<ExecTransport>;
  audit(input: AuditInput): Promise<unknown>;
  userName?(clusterId: string): string | undefined;
  /** Opens a URL in the user's browser (Electron's shell.openExternal); absent in the headless host and the CLI. */
  openExternal?: (url: string) => Promise<void>;
  /** How often forwards check that their pod is still the one they opened (default 5 s). */
  watchMs?: number;
}

interface Entry {
  info: IdeForward;
  proxy: TokenProxy;
  transport: ExecTransport;
  podUid: string;
}


/** The path an IDE serves under: Kubeflow images serve below NB_PREFIX, everything else at "/". */
export function idePath(pod: KubeObject): string {
  const env = (pod.spec?.containers?.[0]?.env ?? []) as { name: string; value?: string }[];
  const nb = env.find((e) => e.name === 'NB_PREFIX')?.value;
  return nb ? `${nb.replace(/\/+$/, '')}/` : '/';
}

/** The IDE's port: the spec's, else the container's first declared port, else JupyterLab's 8888. */
export function idePort(specPort: number | undefined, pod: KubeObject): number {
  return specPort ?? pod.spec?.containers?.[0]?.ports?.[0]?.containerPort ?? DEFAULT_PORT;
}

/** One GET through a tunnel: any HTTP answer means the IDE listens; the kubelet's error otherwise. */
function probe(transport: ExecTransport, target: TunnelTarget, path: string, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const tunnel = new PodTunnel(transport, target, timeoutMs);
    const req = http.request({ method: 'GET', path, headers: { host: `127.0.0.1:${target.port}` }, createConnection: () => tunnel as never, timeout: timeoutMs });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      tunnel.destroy();
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', (err) => {
      tunnel.destroy();
      reject(err instanceof TesseraError ? err : new TesseraError('UNREACHABLE', `the IDE of ${target.namespace}/${target.pod} does not answer on port ${target.port}: ${err.message}`));
    });
    req.end();
  });
}

export class WorkstationForwards {
  private readonly entries = new Map<string, Entry>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly d: WsForwardsDeps) {
    d.service.onStopped.add((id, ns, name) => this.closeFor(id, ns, name, 'the workstation was stopped'));
  }

  list(): IdeForward[] {
    return [...this.entries.values()].map((e) => ({ ...e.info }));
  }

  async open(id: string, namespace: string, name: string): Promise<OpenedForward> {
    const existing = [...this.entries.values()].find((e) => e.info.clusterId === id && e.info.namespace === namespace && e.info.name === name);
    if (existing) return { ...existing.info, opened: await this.browse(existing.info.url), reused: true };
    const targets = [{ kind: 'Workstation', namespace, name }];
    const actor = this.d.userName?.(id) ? { actor: { kubeUser: this.d.userName(id)! } } : {};
    let params: Record<string, unknown> = {};
    try {
      const w = await this.d.service.get(id, namespace, name);
      if (w.state !== 'running' || !w.pod) throw new TesseraError('CONFLICT', `workstation ${namespace}/${name} is ${w.state}${w.reason ? ` (${w.reason})` : ''}; its IDE can be opened once it runs`);
      const access = await this.d.canI(id, { verb: 'create', resource: 'pods', subresource: 'portforward', namespace });
      if (!access.allowed) throw new TesseraError('FORBIDDEN', access.reason);
      const pod = await kubeJson<KubeObject>(await this.d.kube(id), `/api/v1/namespaces/${namespace}/pods/${w.pod}`, { action: `read pod ${w.pod}` });
      const target: TunnelTarget = { namespace, pod: w.pod, port: idePort(w.spec.port, pod) };
      const path = idePath(pod);
      params = { pod: w.pod, port: target.port, path };
      const transport = await this.d.transport(id);
      try {
        await probe(transport, target, path);
      } catch (err) {
        await transport.close?.();
        throw err;
      }
      const info: IdeForward = { id: `fwd-${randomUUID().slice(0, 8)}`, clusterId: id, namespace, name, pod: w.pod, remotePort: target.port, localPort: 0, url: '', openedAt: new Date(this.d.clock.now()).toISOString(), requests: 0 };
      const proxy = new TokenProxy({ connect: () => new PodTunnel(transport, target), onRequest: () => void info.requests++ });
      info.localPort = await proxy.listen();
      info.url = `http://127.0.0.1:${info.localPort}${path}?${TOKEN_PARAM}=${proxy.token}`;
      this.entries.set(info.id, { info, proxy, transport, podUid: pod.metadata.uid });
      this.ensureWatch();
      params = { ...params, localPort: info.localPort, forward: info.id };
      await this.d.audit({ action: 'workstation.open', outcome: 'succeeded', cluster: id, targets, params, ...actor });
      return { ...info, opened: await this.browse(info.url), reused: false };
    } catch (err) {
      await this.d.audit({ action: 'workstation.open', outcome: 'failed', cluster: id, targets, params, error: err, ...actor });
      throw err;
    }
  }

  async close(forwardId: string, reason = 'closed by the user'): Promise<{ closed: boolean }> {
    const e = this.entries.get(forwardId);
    if (!e) return { closed: false };
    this.entries.delete(forwardId);
    e.proxy.close();
    await e.transport.close?.().catch(() => undefined);
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    const { clusterId, namespace, name, localPort, requests } = e.info;
    await this.d.audit({ action: 'workstation.close-ide', outcome: 'succeeded', cluster: clusterId, targets: [{ kind: 'Workstation', namespace, name }], params: { forward: forwardId, localPort, requests, reason } });
    return { closed: true };
  }

  closeFor(id: string, namespace: string, name: string, reason: string): void {
    for (const e of [...this.entries.values()]) if (e.info.clusterId === id && e.info.namespace === namespace && e.info.name === name) void this.close(e.info.id, reason);
  }

  /** The console quits: every listener goes (the audit entries are best effort). */
  closeAll(reason = 'the console quit'): void {
    for (const id of [...this.entries.keys()]) void this.close(id, reason);
  }

  private async browse(url: string): Promise<boolean> {
    if (!this.d.openExternal) return false;
    try {
      await this.d.openExternal(url);
      return true;
    } catch {
      return false;
    }
  }

  /** Forwards end with their pod: a stop, a restore or a delete replaces or removes it. */
  private ensureWatch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.d.watchMs ?? 5000);
    this.timer.unref?.();
  }

  private async check(): Promise<void> {
    for (const e of [...this.entries.values()]) {
      const { clusterId, namespace, pod } = e.info;
      try {
        const p = await kubeJson<KubeObject>(await this.d.kube(clusterId), `/api/v1/namespaces/${namespace}/pods/${pod}`);
        if (p.metadata.uid !== e.podUid || p.metadata.deletionTimestamp || p.status?.phase !== 'Running') await this.close(e.info.id, `pod ${pod} ended (the workstation stopped or was restarted)`);
      } catch (err) {
        if (err instanceof TesseraError && (err.code === 'NOT_FOUND' || err.details?.status === 404)) await this.close(e.info.id, `pod ${pod} is gone (the workstation stopped)`);
        // Anything else (the API server unreachable for a moment) leaves the forward as it is.
      }
    }
  }
}
