/**
 * Interactive terminals: SSH login shells on a PTY from the shared SSH pool,
 * and pod shells through the Kubernetes exec WebSocket. Keystrokes are bytes
 * for the remote PTY and are never interpreted or logged here; opening and
 * closing a session go to the audit trail.
 */
import crypto from 'node:crypto';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { PodChoice, PodShell, TerminalEvent, TerminalOpened } from '../../../shared/contract/terminals.ts';
import type { AuditTarget } from '../../../shared/model/audit.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import { kubeJson, listPages } from '../kube/kube-http.ts';
import type { SshTarget } from '../ssh/ssh-endpoint.ts';
import { targetLabel } from '../ssh/ssh-endpoint.ts';
import { exitStatusOf } from '../ssh/ssh-connection.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import { DEFAULT_PUMP_LIMITS, OutputPump, type PumpLimits } from './output-pump.ts';
import { execTransportFor } from './exec-transport.ts';
import { PodExecStream, readStatus, type ExecTransport } from './pod-exec.ts';

export const TERM = 'xterm-256color';

export type OpenRequest = {
  kind: 'ssh' | 'pod';
  hostId?: string;
  target?: { address: string; port?: number; user: string };
  clusterId?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  shell?: PodShell;
  cols?: number;
  rows?: number;
};

/** Where SSH terminals get their connections and targets: the hosts service (its pool, keys, agent, prompts and trust store). */
export interface TerminalSsh {
  pool: SshPool;
  /** A saved host, with its jump chain. */
  resolveHost(hostId: string): Promise<{ target: SshTarget; name: string }>;
  /** An address typed in: the same default keys, agent and prompts as a saved host without its own identity file. */
  resolveAddress(t: { address: string; port?: number; user: string }): Promise<{ target: SshTarget; name: string }>;
}

export interface TerminalServiceDeps {
  clock: Clock;
  clusters: ClusterService;
  /** Absent where there is no hosts service (no data folder): SSH terminals are then refused. */
  ssh?: TerminalSsh;
  audit?: AuditService;
  /** How a connected cluster's API server is reached over a WebSocket (tests may substitute). */
  execTransport?: (clusterId: string) => Promise<ExecTransport>;
  limits?: Partial<PumpLimits>;
  maxSessions?: number;
  /** How long an ended session's last output waits for a display that never subscribed. */
  lingerMs?: number;
}

interface SessionIo {
  write(bytes: Buffer): void;
  resize(cols: number, rows: number): void;
  close(): void;
}

interface Session {
  id: string;
  opened: TerminalOpened;
  pump: OutputPump;
  io: SessionIo | null;
  startedAt: number;
  auditTargets: AuditTarget[];
  cluster?: string;
  openEntry?: string;
  closedByUser: boolean;
  ended: boolean;
  /** Set once the open is recorded; the close is recorded only after it. */
  recorded: boolean;
  exit?: Extract<TerminalEvent, { type: 'exit' }>;
  cols: number;
  rows: number;
}

const SHELLS: Record<Exclude<PodShell, 'auto'>, string> = { bash: '/bin/bash', sh: '/bin/sh' };

export class TerminalService {
  private readonly sessions = new Map<string, Session>();
  private readonly limits: PumpLimits;

  constructor(private readonly deps: TerminalServiceDeps) {
    this.limits = { ...DEFAULT_PUMP_LIMITS, ...deps.limits };
  }

  get size(): number {
    return this.sessions.size;
  }

  async open(req: OpenRequest): Promise<TerminalOpened> {
    const live = [...this.sessions.values()].filter((s) => !s.ended).length;
    const max = this.deps.maxSessions ?? 32;
    if (live >= max) throw new TesseraError('INVALID_REQUEST', `${live} terminals are open; close one first (at most ${max})`);
    return req.kind === 'ssh' ? this.openSsh(req) : this.openPod(req);
  }

  input(id: string, data: string): void {
    const s = this.live(id);
    s.io?.write(Buffer.from(data, 'utf8'));
  }

  resize(id: string, cols: number, rows: number): void {
    const s = this.live(id);
    s.cols = cols;
    s.rows = rows;
    s.io?.resize(cols, rows);
  }

  close(id: string): void {
    const s = this.sessions.get(id);
    if (!s) throw new TesseraError('NOT_FOUND', `no terminal ${id}`);
    if (s.ended) return;
    s.closedByUser = true;
    s.io?.close();
  }

  /** The session's output, then its exit event. Only one display at a time; a new subscriber replaces the old. */
  output(id: string, emit: (event: TerminalEvent) => void): () => void {
    const s = this.sessions.get(id);
    if (!s) throw new TesseraError('NOT_FOUND', `no terminal ${id} (it ended, or this console restarted)`);
    const detach = s.pump.attach((event) => {
      emit(event);
      if (event.type === 'exit') this.sessions.delete(id);
    });
    return detach;
  }

  /** Running pods with their containers, for the pod picker. */
  async pods(clusterId: string, namespace?: string): Promise<PodChoice[]> {
    const kc = await this.deps.clusters.connection(clusterId).kubeConfig();
    const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    const out: PodChoice[] = [];
    type RawPod = { metadata?: { name?: string; namespace?: string }; spec?: { nodeName?: string; containers?: { name: string }[] }; status?: { phase?: string } };
    for await (const page of listPages<RawPod>(kc, path, { fieldSelector: 'status.phase=Running' })) {
      for (const p of page.items) {
        out.push({
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
          ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
          phase: p.status?.phase ?? 'Unknown',
          containers: (p.spec?.containers ?? []).map((c) => c.name),
        });
      }
      if (out.length >= 5000) break;
    }
    return out.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  /** Ends every session (the console is quitting). */
  /**
   * The console is going away: each session ends now, not when its channel's close
   * arrives, so its `terminal.close` entry is queued before the audit trail closes.
   */
  closeAll(): void {
    for (const s of this.sessions.values()) {
      if (s.ended) continue;
      s.closedByUser = true;
      s.io?.close();
      this.ended(s, { type: 'exit', code: null, reason: 'the console closed' });
    }
  }

  private live(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new TesseraError('NOT_FOUND', `no terminal ${id}`);
    if (s.ended) throw new TesseraError('INVALID_REQUEST', `terminal ${id} has ended`);
    return s;
  }

  private newSession(opened: Omit<TerminalOpened, 'id'>, targets: AuditTarget[], req: OpenRequest, cluster?: string): Session {
    const id = `t-${crypto.randomBytes(9).toString('base64url')}`;
    return {
      id,
      opened: { id, ...opened },
      pump: new OutputPump(this.deps.clock, this.limits),
      io: null,
      startedAt: this.deps.clock.now(),
      auditTargets: targets,
      ...(cluster ? { cluster } : {}),
      closedByUser: false,
      ended: false,
      recorded: false,
      cols: req.cols ?? 80,
      rows: req.rows ?? 24,
    };
  }

  private async sshTarget(req: OpenRequest): Promise<{ target: SshTarget; name: string }> {
    if (req.hostId && req.target) throw new TesseraError('INVALID_REQUEST', 'give either hostId or target for an SSH terminal, not both');
    if (req.clusterId || req.namespace || req.pod || req.container || req.shell) {
      throw new TesseraError('INVALID_REQUEST', 'clusterId, namespace, pod, container and shell are for pod terminals (kind "pod")');
    }
    if (!req.hostId && !req.target) throw new TesseraError('INVALID_REQUEST', 'an SSH terminal needs hostId (a saved host) or target {address, port, user}');
    if (!this.deps.ssh) throw new TesseraError('INVALID_REQUEST', 'SSH terminals need the hosts service, which this console runs only with a data folder');
    return req.hostId ? this.deps.ssh.resolveHost(req.hostId) : this.deps.ssh.resolveAddress(req.target!);
  }

  private async openSsh(req: OpenRequest): Promise<TerminalOpened> {
    const { target, name } = await this.sshTarget(req);
    const label = targetLabel(target);
    const s = this.newSession({ kind: 'ssh', title: name, banner: `SSH ${label}` }, [{ kind: 'SshHost', name: label }], req);
    try {
      const lease = await this.deps.ssh!.pool.acquire(target);
      let channel;
      try {
        channel = await lease.connection.shell({ term: TERM, cols: s.cols, rows: s.rows });
      } catch (err) {
        lease.release();
        throw err;
      }
      let code: number | null = null;
      let signal: string | undefined;
      let lost: TesseraError | null = null;
      const offLost = lease.connection.onClose((reason) => {
        lost = reason;
      });
      channel.on('data', (b: Buffer) => s.pump.push(b));
      channel.stderr.on('data', (b: Buffer) => s.pump.push(b));
      channel.on('exit', (c: number | null, sig?: string) => {
        code = typeof c === 'number' ? c : null;
        if (sig) signal = sig;
      });
      channel.once('close', () => {
        const early = exitStatusOf(channel);
        if (code === null && early) {
          code = early.code;
          signal = early.signal;
        }
        offLost();
        lease.release();
        const reason = s.closedByUser
          ? 'closed'
          : lost
            ? lost.message
            : code !== null
              ? `the shell exited with status ${code}`
              : signal
                ? `the shell was killed by SIG${signal}`
                : `${label} closed the session`;
        this.ended(s, { type: 'exit', code, ...(signal ? { signal } : {}), reason, ...(lost && !s.closedByUser ? { error: toErrorShape(lost) } : {}) });
      });
      s.io = {
        write: (b) => channel.write(b),
        resize: (cols, rows) => channel.setWindow(rows, cols, 0, 0),
        close: () => channel.close(),
      };
    } catch (err) {
      await this.audit({ action: 'terminal.open', outcome: 'failed', targets: s.auditTargets, params: { kind: 'ssh' }, error: err });
      throw err;
    }
    await this.started(s, { kind: 'ssh' });
    return s.opened;
  }

  private async openPod(req: OpenRequest): Promise<TerminalOpened> {
    if (req.hostId || req.target) throw new TesseraError('INVALID_REQUEST', 'hostId and target are for SSH terminals (kind "ssh")');
    const { clusterId, namespace, pod } = req;
    const missing = (['clusterId', 'namespace', 'pod'] as const).filter((k) => !req[k]);
    if (!clusterId || !namespace || !pod) throw new TesseraError('INVALID_REQUEST', `a pod terminal needs ${missing.join(', ')}`);
    const conn = this.deps.clusters.connection(clusterId);
    const targets: AuditTarget[] = [{ kind: 'Pod', namespace, name: pod }];
    const params = { kind: 'pod', ...(req.container ? { container: req.container } : {}), shell: req.shell ?? 'auto' };
    const fail = async (err: unknown): Promise<never> => {
      await this.audit({ action: 'terminal.open', cluster: clusterId, outcome: 'failed', targets, params, error: err });
      throw err;
    };

    const access = await conn.canI({ verb: 'create', resource: 'pods', subresource: 'exec', namespace });
    if (!access.allowed) {
      return fail(new TesseraError('FORBIDDEN', `cannot open a shell in ${namespace}/${pod}: ${access.reason}`, { missing: [`create pods/exec in ${namespace}`], namespace }));
    }
    const kc = await conn.kubeConfig();
    type RawPod = { metadata?: { annotations?: Record<string, string> }; spec?: { containers?: { name: string }[] }; status?: { phase?: string } };
    let raw: RawPod;
    try {
      raw = await kubeJson<RawPod>(kc, `/api/v1/namespaces/${namespace}/pods/${pod}`, { action: `read pod ${namespace}/${pod}` });
    } catch (err) {
      return fail(err);
    }
    const containers = (raw.spec?.containers ?? []).map((c) => c.name);
    const container = req.container ?? raw.metadata?.annotations?.['kubectl.kubernetes.io/default-container'] ?? containers[0];
    if (!container || !containers.includes(container)) {
      return fail(new TesseraError('NOT_FOUND', `pod ${namespace}/${pod} has no container "${req.container ?? ''}"; it has ${containers.join(', ') || 'none'}`, { containers }));
    }
    if (raw.status?.phase !== 'Running') {
      return fail(new TesseraError('INVALID_REQUEST', `pod ${namespace}/${pod} is ${raw.status?.phase ?? 'in an unknown phase'}; a shell needs a running container`));
    }
    const transport: ExecTransport = this.deps.execTransport ? await this.deps.execTransport(clusterId) : await execTransportFor(conn);
    const context = this.deps.clusters.get(clusterId).context;
    const s = this.newSession(
      { kind: 'pod', title: `${namespace}/${pod}`, banner: `${context} · pod ${namespace}/${pod} · container ${container}`, container },
      targets,
      req,
      clusterId,
    );
    const shells = req.shell && req.shell !== 'auto' ? [SHELLS[req.shell]] : [SHELLS.bash, SHELLS.sh];

    let sawOutput = false;
    const attempt = async (i: number): Promise<void> => {
      const shell = shells[i]!;
      const stream = await PodExecStream.open(transport, { namespace, pod, container, command: [shell], tty: true }, {
        output: (b) => {
          sawOutput = true;
          s.pump.push(b);
        },
        ended: (status) => {
          const outcome = readStatus(status);
          if (!s.closedByUser && !sawOutput && outcome.notFound && i + 1 < shells.length) {
            s.pump.notice(`${shell} is not in container ${container}; starting ${shells[i + 1]}`);
            // Keys typed while the next shell starts are kept for it, not lost with the old stream.
            const typed: Buffer[] = [];
            s.io = { write: (b) => void typed.push(b), resize: () => {}, close: () => {} };
            attempt(i + 1).then(
              () => {
                if (s.closedByUser) return s.io?.close();
                for (const b of typed) s.io?.write(b);
              },
              (err) => {
                this.ended(s, { type: 'exit', code: null, reason: (err as Error).message, error: toErrorShape(err) });
                void transport.close?.();
              },
            );
            return;
          }
          const reason = s.closedByUser
            ? 'closed'
            : outcome.code !== null
              ? `the shell exited with status ${outcome.code}`
              : (outcome.message ?? 'the exec stream closed');
          this.ended(s, { type: 'exit', code: s.closedByUser ? null : outcome.code, reason });
          void transport.close?.();
        },
      });
      s.io = { write: (b) => stream.write(b), resize: (c, r) => stream.resize(c, r), close: () => stream.close() };
      stream.resize(s.cols, s.rows);
    };
    try {
      await attempt(0);
    } catch (err) {
      void transport.close?.();
      return fail(err);
    }
    await this.started(s, params);
    return s.opened;
  }

  private async started(s: Session, params: Record<string, string>): Promise<void> {
    this.sessions.set(s.id, s);
    try {
      const entry = await this.deps.audit?.record({
        action: 'terminal.open',
        outcome: 'succeeded',
        ...(s.cluster ? { cluster: s.cluster } : {}),
        targets: s.auditTargets,
        params: { ...params, session: s.id, banner: s.opened.banner },
      });
      if (entry) s.openEntry = entry.id;
      s.recorded = true;
      // The shell may have ended while the open was being written.
      if (s.exit) this.recordClose(s, s.exit);
    } catch (err) {
      // A session nobody can account for is not left running.
      s.closedByUser = true;
      s.io?.close();
      this.sessions.delete(s.id);
      throw new TesseraError('INTERNAL', `the terminal was not opened: the audit trail could not record it (${(err as Error).message})`);
    }
  }

  private ended(s: Session, exit: Extract<TerminalEvent, { type: 'exit' }>): void {
    if (s.ended) return;
    s.ended = true;
    s.io = null;
    s.exit = exit;
    s.pump.end(exit);
    if (s.recorded) this.recordClose(s, exit);
    // Output nobody came to read is let go after a while.
    this.deps.clock.setTimeout(() => {
      if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    }, this.deps.lingerMs ?? 5 * 60_000);
  }

  private recordClose(s: Session, exit: Extract<TerminalEvent, { type: 'exit' }>): void {
    void this.audit({
      action: 'terminal.close',
      outcome: exit.error ? 'failed' : 'succeeded',
      ...(s.cluster ? { cluster: s.cluster } : {}),
      targets: s.auditTargets,
      params: { session: s.id, reason: exit.reason, exitCode: exit.code, by: s.closedByUser ? 'user' : 'remote' },
      durationMs: this.deps.clock.now() - s.startedAt,
      ...(s.openEntry ? { correlationId: s.openEntry } : {}),
      ...(exit.error ? { error: exit.error } : {}),
    });
  }

  private async audit(input: Parameters<AuditService['record']>[0]): Promise<void> {
    try {
      await this.deps.audit?.record(input);
    } catch {
      // Recording a failure must not hide the failure itself.
    }
  }
}
