/**
 * SSH hosts as objects: the store, how a host becomes a connection target
 * (its key or the agent, its jump chain), the trust decisions on host keys,
 * named operations fanned out to many hosts, and support bundles. Every
 * change is audited; secrets only pass through the SecretBroker.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { HostExecResult, HostGpus, HostInput, HostTestResult, ImportResult, SshHost } from '../../../shared/model/host.ts';
import { gpuReportOverSsh } from '../gpu/gpu-over-ssh.ts';
import type { NodeRow } from '../../../shared/model/node.ts';
import { sha256Fingerprint } from '../ssh/key-blob.ts';
import { KnownHosts } from '../ssh/known-hosts.ts';
import { runOperation } from '../ssh/remote-command.ts';
import type { SshPrompts } from '../ssh/ssh-auth.ts';
import { endpointLabel } from '../ssh/ssh-endpoint.ts';
import type { SshAuthMethod, SshEndpoint, SshTarget } from '../ssh/ssh-endpoint.ts';
import { SshPool } from '../ssh/ssh-pool.ts';
import { SshConnection } from '../ssh/ssh-connection.ts';
import type { SshConnectOptions } from '../ssh/ssh-connection.ts';
import { lookupOperation, operationArgv } from '../ssh/command-registry.ts';
import { hostRegistry, operationInfos } from './host-operations.ts';
import { HostStore } from './host-store.ts';
import { parseHop } from './host-validate.ts';
import { SecretBroker } from './secrets.ts';
import type { SecretStore } from './secrets.ts';
import { parseSshConfig } from './ssh-config.ts';
import type { SshConfigFiles } from './ssh-config.ts';
import { supportBundle } from './support-bundle.ts';
import type { Bundle } from './support-bundle.ts';

export interface HostServiceOptions {
  dataDir: string;
  version: string;
  secretStore?: SecretStore;
  /** The user's OpenSSH known_hosts files (read-only); default ~/.ssh/known_hosts and /etc/ssh. */
  userKnownHostsFiles?: readonly string[];
  home?: string;
  /** SSH_AUTH_SOCK; an agent is offered only when there is one. */
  agentSocket?: string;
  record?: (input: AuditInput) => Promise<unknown>;
  /** Nodes of a connected cluster, for importNodes. */
  listNodes?: (clusterId: string) => Promise<NodeRow[]>;
  readyTimeoutMs?: number;
}

export interface ExecRequest {
  ids: string[];
  operation: string;
  args?: { name: string; value: string }[];
  sudo?: boolean;
  concurrency?: number;
  runId?: string;
}

const MAX_RESULT_TEXT = 256 * 1024;
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export class HostService {
  readonly store: HostStore;
  readonly knownHosts: KnownHosts;
  readonly broker: SecretBroker;
  readonly pool: SshPool;
  private readonly home: string;
  private readonly connectOptions: SshConnectOptions;
  /** Runs of hosts.exec still going, so hosts.cancel can stop them. */
  private readonly runs = new Map<string, AbortController>();
  /** Keys first seen by hosts.test, awaiting the person's decision, by "host:port". */
  private readonly pendingKeys = new Map<string, { blob: Buffer; fingerprint: string }>();

  constructor(private readonly opts: HostServiceOptions) {
    this.home = opts.home ?? os.homedir();
    this.store = new HostStore({ dataDir: opts.dataDir, home: this.home });
    this.knownHosts = new KnownHosts({ dataDir: path.join(opts.dataDir, 'ssh'), ...(opts.userKnownHostsFiles ? { userFiles: opts.userKnownHostsFiles } : {}) });
    this.broker = new SecretBroker(opts.secretStore);
    this.connectOptions = { hostKeys: this.knownHosts, prompts: this.prompts(), readyTimeoutMs: opts.readyTimeoutMs ?? 20_000, ...(opts.agentSocket ? { agentSocket: opts.agentSocket } : {}) };
    this.pool = new SshPool(this.connectOptions);
  }

  list() {
    return this.store.list();
  }

  add(input: HostInput): Promise<SshHost> {
    return this.audited('host.add', [{ kind: 'SshHost', name: input.name }], input, () => this.store.add(input));
  }

  update(id: string, input: HostInput): Promise<SshHost> {
    return this.audited('host.update', [{ kind: 'SshHost', name: id }], input, async () => {
      const before = await this.store.get(id);
      const after = await this.store.update(id, input);
      await this.pool.close(await this.target(before)).catch(() => undefined);
      return after;
    });
  }

  remove(id: string): Promise<{ removed: string }> {
    return this.audited('host.remove', [{ kind: 'SshHost', name: id }], { id }, async () => {
      const old = await this.store.remove(id);
      return { removed: old.id };
    });
  }

  operations() {
    return operationInfos(hostRegistry);
  }

  /** From pasted text, or from ~/.ssh/config (core reads it; the renderer never names a path). */
  async importSshConfig(req: { content?: string; useDefault?: boolean; group?: string }): Promise<ImportResult & { warnings: string[] }> {
    const source = req.content !== undefined ? 'pasted config' : '~/.ssh/config';
    return this.audited('hosts.import-ssh-config', [{ kind: 'SshConfig', name: source }], { source, group: req.group }, async () => {
      const files = this.configFiles();
      let text = req.content;
      if (text === undefined) {
        if (!req.useDefault) throw new TesseraError('INVALID_REQUEST', 'give the config text, or useDefault to read ~/.ssh/config');
        text = files.read(path.join(this.home, '.ssh', 'config')) ?? '';
        if (!text) throw new TesseraError('NOT_FOUND', `there is no ${path.join(this.home, '.ssh', 'config')}`);
      }
      const parsed = parseSshConfig(text, files, source);
      const { hosts: existing } = await this.store.list();
      // ProxyJump aliases defined in the same config become references to the imported host.
      const idOfAlias = (alias: string): string | undefined => existing.find((h) => h.source.kind === 'ssh-config' && h.source.alias === alias)?.id;
      const aliases = new Set(parsed.hosts.map((h) => h.alias));
      const skipped = [...parsed.skipped];
      const first = parsed.hosts.filter((h) => h.proxyJump.every((j) => !aliases.has(j)));
      const second = parsed.hosts.filter((h) => !first.includes(h));
      const toItem = (h: (typeof parsed.hosts)[number]) => {
        const user = h.user ?? os.userInfo().username;
        const proxyJump = h.proxyJump.map((j) => (aliases.has(j) ? (idOfAlias(j) ?? j) : normalizeHop(j, user)));
        return {
          input: { name: h.alias, address: h.hostName, user, ...(h.port ? { port: h.port } : {}), ...(h.identityFile ? { identityFile: h.identityFile } : {}), proxyJump, ...(req.group ? { group: req.group } : {}) },
          source: { kind: 'ssh-config' as const, alias: h.alias },
          key: `ssh-config:${h.alias}`,
        };
      };
      // Jump hosts first, so the hosts behind them can name them by id.
      const r1 = await this.store.upsertMany(first.map(toItem));
      const after = (await this.store.list()).hosts;
      const idAfter = (alias: string) => after.find((h) => h.source.kind === 'ssh-config' && h.source.alias === alias)?.id;
      const r2 = await this.store.upsertMany(
        second.map((h) => {
          const item = toItem(h);
          item.input.proxyJump = h.proxyJump.map((j) => (aliases.has(j) ? (idAfter(j) ?? j) : normalizeHop(j, item.input.user)));
          return item;
        }),
      );
      return { added: [...r1.added, ...r2.added], updated: [...r1.updated, ...r2.updated], skipped: [...skipped, ...r1.skipped, ...r2.skipped], warnings: parsed.warnings };
    });
  }

  async importNodes(req: { id: string; user: string; identityFile?: string; group?: string; proxyJump?: string[] }): Promise<ImportResult> {
    return this.audited('hosts.import-nodes', [{ kind: 'Cluster', name: req.id }], { cluster: req.id, user: req.user, identityFile: req.identityFile, group: req.group }, async () => {
      if (!this.opts.listNodes) throw new TesseraError('INTERNAL', 'no cluster service on this host');
      const nodes = await this.opts.listNodes(req.id);
      const skipped: ImportResult['skipped'] = [];
      const items = [];
      for (const n of nodes) {
        if (!n.internalIP) {
          skipped.push({ name: n.name, reason: 'the node reports no InternalIP address' });
          continue;
        }
        items.push({
          input: {
            name: n.name,
            address: n.internalIP,
            user: req.user,
            ...(req.identityFile ? { identityFile: req.identityFile } : {}),
            ...(req.proxyJump ? { proxyJump: req.proxyJump } : {}),
            group: req.group ?? contextGroup(req.id),
            ...(n.pool ? { nodePool: n.pool } : {}),
          },
          source: { kind: 'kubernetes' as const, cluster: req.id, node: n.name },
          key: `kubernetes:${req.id}:${n.name}`,
        });
      }
      const r = await this.store.upsertMany(items);
      return { ...r, skipped: [...skipped, ...r.skipped] };
    }, req.id);
  }

  /** Connect afresh and run `uname -a`; trust problems come back as data the UI can act on. */
  async test(id: string): Promise<HostTestResult> {
    const host = await this.store.get(id);
    // A connection of its own: closing a pooled one would cut off terminals or runs sharing it.
    const started = performance.now();
    try {
      const target = await this.target(host);
      const conn = await SshConnection.open(target, this.connectOptions);
      try {
        const connectMs = Math.round(performance.now() - started);
        const r = await runOperation(conn, 'uname.all', { registry: hostRegistry, check: true });
        return { hostId: id, ok: true, authMethod: conn.authMethod ?? 'unknown', connectMs, latencyMs: r.durationMs, uname: r.stdout.trim(), via: (target.jump ?? []).map(endpointLabel) };
      } finally {
        conn.close();
      }
    } catch (err) {
      const shape = toErrorShape(err);
      const d = shape.details ?? {};
      const { publicKey, ...details } = d as Record<string, unknown> & { publicKey?: string };
      const out: HostTestResult = { hostId: id, ok: false, error: { code: shape.code, message: shape.message, details } };
      if (shape.code === 'HOST_KEY_UNKNOWN' && typeof publicKey === 'string') {
        const blob = Buffer.from(publicKey, 'base64');
        const fingerprint = sha256Fingerprint(blob);
        this.pendingKeys.set(`${String(d.host)}:${Number(d.port)}`, { blob, fingerprint });
        out.unknownKey = { host: String(d.host), port: Number(d.port), keyType: String(d.keyType), sha256Fingerprint: fingerprint };
      } else if (shape.code === 'HOST_KEY_MISMATCH') {
        out.mismatch = {
          host: String(d.host),
          port: Number(d.port),
          keyType: String(d.keyType),
          sha256Fingerprint: String(d.presented),
          expected: (d.expected as { type: string; sha256Fingerprint: string; source: string }[] | undefined) ?? [],
        };
      }
      return out;
    }
  }

  /**
   * Accepts (or rejects) exactly the key hosts.test saw for host:port. There
   * is no path from here to overriding a mismatch: a changed key is never
   * pending, and a key whose fingerprint differs from the one shown is refused.
   */
  async trust(req: { host: string; port: number; sha256Fingerprint: string; accept: boolean }): Promise<{ trusted: boolean; host: string; port: number; sha256Fingerprint: string }> {
    const key = `${req.host}:${req.port}`;
    const target = [{ kind: 'SshHostKey', name: `${key} ${req.sha256Fingerprint}` }];
    return this.audited(req.accept ? 'ssh.hostkey.trust' : 'ssh.hostkey.reject', target, { host: req.host, port: req.port, fingerprint: req.sha256Fingerprint }, async () => {
      const pending = this.pendingKeys.get(key);
      if (!pending) throw new TesseraError('NOT_FOUND', `no host key from ${key} is waiting for a decision; test the host first`, { host: req.host, port: req.port });
      if (pending.fingerprint !== req.sha256Fingerprint) {
        throw new TesseraError('HOST_KEY_MISMATCH', `${key} presented ${pending.fingerprint}, not ${req.sha256Fingerprint}; nothing was trusted`, { presented: pending.fingerprint, given: req.sha256Fingerprint });
      }
      this.pendingKeys.delete(key);
      if (req.accept) await this.knownHosts.trust(req.host, req.port, pending.blob);
      return { trusted: req.accept, host: req.host, port: req.port, sha256Fingerprint: pending.fingerprint };
    });
  }

  async exec(req: ExecRequest): Promise<{ runId: string; operation: string; results: HostExecResult[] }> {
    const args = Object.fromEntries((req.args ?? []).map((a) => [a.name, a.value]));
    // Caller mistakes are refused before anything runs anywhere.
    const spec = lookupOperation(hostRegistry, req.operation);
    operationArgv(req.operation, spec, args);
    if (req.sudo && spec.sudo === 'never') throw new TesseraError('INVALID_REQUEST', `operation "${req.operation}" may not run through sudo`, { operation: req.operation });
    if (req.ids.length === 0) throw new TesseraError('INVALID_REQUEST', 'select at least one host');
    const hosts = await Promise.all([...new Set(req.ids)].map((id) => this.store.get(id)));
    const runId = req.runId ?? randomUUID();
    if (this.runs.has(runId)) throw new TesseraError('INVALID_REQUEST', `run ${runId} is already going`);
    const targets = hosts.map((h) => ({ kind: 'SshHost', name: h.id }));
    return this.audited('ssh.exec', targets, { operation: req.operation, args, sudo: req.sudo === true, hosts: hosts.length }, async () => {
      const results: HostExecResult[] = new Array(hosts.length);
      const abort = new AbortController();
      this.runs.set(runId, abort);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < hosts.length) {
          const i = next++;
          const h = hosts[i]!;
          results[i] = abort.signal.aborted
            ? { hostId: h.id, name: h.name, ok: false, exitCode: null, stdout: '', stderr: '', durationMs: 0, truncated: false, error: { code: 'COMMAND_FAILED', message: 'not started: the run was cancelled' } }
            : await this.execOne(h, req.operation, args, req.sudo === true, abort.signal);
          this.broker.emit({ type: 'exec-progress', runId, hostId: h.id, ok: results[i]!.ok });
        }
      };
      const n = Math.max(1, Math.min(req.concurrency ?? 8, hosts.length));
      try {
        await Promise.all(Array.from({ length: n }, worker));
      } finally {
        this.runs.delete(runId);
      }
      if (abort.signal.aborted) {
        await this.opts.record?.({ action: 'ssh.exec.cancelled', outcome: 'cancelled', targets, params: { runId, operation: req.operation } });
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length) {
        // The run is reported whole; the audit entry says which hosts failed.
        await this.opts.record?.({ action: 'ssh.exec.host-failures', outcome: 'failed', targets: failed.map((r) => ({ kind: 'SshHost', name: r.hostId })), params: { runId, operation: req.operation }, error: `${failed.length} of ${results.length} hosts failed` });
      }
      return { runId, operation: req.operation, results };
    });
  }

  /** Stops a running hosts.exec: commands still running are killed, hosts not yet started are skipped. */
  cancel(runId: string): { cancelled: boolean } {
    const run = this.runs.get(runId);
    if (!run) return { cancelled: false };
    run.abort();
    return { cancelled: true };
  }

  /** nvidia-smi on one host now (read-only, so not audited), over the shared pool like hosts.exec. */
  async gpus(id: string): Promise<HostGpus> {
    const host = await this.store.get(id);
    const report = await gpuReportOverSsh(this.pool, await this.target(host));
    return { hostId: id, readAt: new Date().toISOString(), report };
  }

  async bundle(id: string): Promise<Bundle> {
    const host = await this.store.get(id);
    return this.audited('ssh.bundle', [{ kind: 'SshHost', name: id }], { host: id }, async () => {
      const target = await this.target(host);
      return this.pool.use(target, (conn) => supportBundle(conn, host, { version: this.opts.version }));
    });
  }

  async close(): Promise<void> {
    this.broker.cancelAll();
    for (const run of this.runs.values()) run.abort();
    await this.pool.closeAll();
  }

  /** The host as ssh2 needs it: its auth methods and its jump chain, resolved through other hosts. */
  async target(host: SshHost, seen: string[] = []): Promise<SshTarget> {
    if (seen.includes(host.id)) throw new TesseraError('INVALID_REQUEST', `jump hosts form a loop: ${[...seen, host.id].join(' → ')}`);
    const auth = this.authFor(host);
    const jump: SshEndpoint[] = [];
    for (const hop of host.proxyJump) {
      const viaHost = (await this.store.list()).hosts.find((h) => h.id === hop);
      if (viaHost) {
        const t = await this.target(viaHost, [...seen, host.id]);
        jump.push(...(t.jump ?? []), { host: t.host, port: t.port, username: t.username, auth: t.auth });
        continue;
      }
      const p = parseHop(hop);
      if (!p) throw new TesseraError('INVALID_REQUEST', `jump host "${hop}" of ${host.name} is neither a known host nor user@host:port`);
      jump.push({ host: p.host, port: p.port, username: p.user, auth });
    }
    return { host: host.address, port: host.port, username: host.user, auth, ...(jump.length ? { jump } : {}) };
  }

  private authFor(host: SshHost): SshAuthMethod[] {
    const auth: SshAuthMethod[] = [];
    const keyFiles = host.identityFile ? [host.identityFile] : DEFAULT_KEYS.map((k) => path.join(this.home, '.ssh', k));
    for (const file of keyFiles) {
      let text: Buffer;
      try {
        text = fs.readFileSync(file);
      } catch {
        if (host.identityFile) throw new TesseraError('SSH_KEY_INVALID', `cannot read the identity file ${file} of ${host.name}`, { host: host.id, key: file });
        continue;
      }
      auth.push({ type: 'key', privateKey: text, label: file });
    }
    if (this.opts.agentSocket) auth.push({ type: 'agent' });
    auth.push({ type: 'keyboard-interactive' }, { type: 'password' });
    return auth;
  }

  private prompts(): SshPrompts {
    return {
      passphrase: ({ keyLabel, attempt }) =>
        this.broker.ask({ kind: 'passphrase', message: `Passphrase for ${keyLabel}${attempt > 1 ? ' (the last one was wrong)' : ''}`, attempt, storeKey: `passphrase:${keyLabel}` }),
      password: ({ host, port, username }) => this.broker.ask({ kind: 'password', message: `Password for ${username}@${host}:${port}`, attempt: 1, storeKey: `password:${username}@${host}:${port}` }),
      keyboardInteractive: async (req) => {
        const answers: string[] = [];
        for (const p of req.prompts) {
          const a = await this.broker.ask({ kind: 'keyboard-interactive', message: `${req.username}@${req.host}: ${p.prompt.trim()}`, attempt: 1, storeKey: `kbd:${req.username}@${req.host}:${req.port}:${p.prompt.trim()}` });
          if (a === null) return null;
          answers.push(a);
        }
        return answers;
      },
    };
  }

  private async execOne(h: SshHost, operation: string, args: Record<string, string>, sudo: boolean, signal: AbortSignal): Promise<HostExecResult> {
    const started = performance.now();
    const base = { hostId: h.id, name: h.name };
    try {
      const target = await this.target(h);
      const r = await this.pool.use(target, async (conn) => {
        const run = (password?: string) =>
          runOperation(conn, operation, { registry: hostRegistry, args, check: true, signal, ...(sudo ? { sudo: password === undefined ? {} : { password } } : {}) });
        try {
          return await run();
        } catch (err) {
          // sudo asked for a password: ask the person (or the keychain), then once more with it.
          if (!(sudo && err instanceof TesseraError && err.code === 'SUDO_FAILED' && /none was given/.test(err.message))) throw err;
          for (let attempt = 1; attempt <= 3; attempt++) {
            const pw = await this.broker.ask({ kind: 'sudo', message: `sudo password for ${h.user} on ${h.name}${attempt > 1 ? ' (the last one was rejected)' : ''}`, attempt, storeKey: `sudo:${h.id}` });
            if (pw === null) throw new TesseraError('SUDO_FAILED', `sudo on ${h.name} needs a password and none was given`, { host: h.id });
            try {
              return await run(pw);
            } catch (e) {
              if (!(e instanceof TesseraError && e.code === 'SUDO_FAILED') || attempt === 3) throw e;
            }
          }
          throw err;
        }
      });
      return { ...base, ok: true, exitCode: r.exitCode, stdout: clip(r.stdout), stderr: clip(r.stderr), durationMs: r.durationMs, truncated: r.truncated || r.stdout.length > MAX_RESULT_TEXT };
    } catch (err) {
      const e = toErrorShape(err);
      const d = e.details ?? {};
      return {
        ...base,
        ok: false,
        exitCode: typeof d.exitCode === 'number' ? d.exitCode : null,
        stdout: typeof d.stdout === 'string' ? d.stdout : '',
        stderr: typeof d.stderr === 'string' ? d.stderr : '',
        durationMs: Math.round(performance.now() - started),
        truncated: false,
        error: { code: e.code, message: e.message },
      };
    }
  }

  private configFiles(): SshConfigFiles {
    return {
      home: this.home,
      read: (f) => {
        try {
          return fs.readFileSync(f, 'utf8');
        } catch {
          return null;
        }
      },
      list: (d) => {
        try {
          return fs.readdirSync(d);
        } catch {
          return [];
        }
      },
    };
  }

  private async audited<T>(action: string, targets: { kind: string; name: string }[], params: unknown, fn: () => Promise<T>, cluster?: string): Promise<T> {
    const started = performance.now();
    try {
      const r = await fn();
      await this.opts.record?.({ action, outcome: 'succeeded', targets, params, durationMs: Math.round(performance.now() - started), ...(cluster ? { cluster } : {}) });
      return r;
    } catch (err) {
      await this.opts.record?.({ action, outcome: 'failed', targets, params, error: err, durationMs: Math.round(performance.now() - started), ...(cluster ? { cluster } : {}) }).catch(() => undefined);
      throw err;
    }
  }
}

/** The context part of a cluster id, in the characters a group name may hold. */
function contextGroup(clusterId: string): string {
  return clusterId.split('/').slice(1).join('/').replace(/[^\w .:/@+-]/g, '-').slice(0, 64) || 'cluster';
}

function clip(s: string): string {
  return s.length > MAX_RESULT_TEXT ? s.slice(0, MAX_RESULT_TEXT) : s;
}

/** `[user@]host[:port]` from a config, with the host's own user when the hop names none. */
function normalizeHop(hop: string, user: string): string {
  const withUser = hop.includes('@') ? hop : `${user}@${hop}`;
  return withUser;
}
