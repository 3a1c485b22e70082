// Driver upgrades over SSH with the site's recipe for the node's pool:
// install, optionally reboot and wait for the host to answer again, then
// verify that every GPU reports the target version. Each Kubernetes node is
// found in the hosts store (imported from that node, or with the node's
// InternalIP as address). Every command and its output go to the node's log.
import { TesseraError, toErrorShape } from '../../../../shared/contract/errors.ts';
import type { SshHost } from '../../../../shared/model/host.ts';
import type { Clock } from '../../clock.ts';
import type { HostService } from '../../hosts/host-service.ts';
import { runOperation } from '../../ssh/remote-command.ts';
import { xidsByGpu } from '../../gpu/kernel-xids.ts';
import { GPU_PRODUCT_LABEL } from '../../nodes/whole-gpu-affinity.ts';
import { readNode } from '../node-facts.ts';
import { rebootedSince, type XidReading } from '../xid-gate.ts';
import type { RolloutApi } from '../rollout-api.ts';
import type { ExecutorContext, UpgradeExecutor, VersionReport } from './executor.ts';
import { recipeFor, recipeRegistry, type RecipeBook } from './ssh-recipes.ts';

/** Output kept per command in the log: enough to see why an installer failed. */
const MAX_LOG_OUTPUT = 4000;

export interface SshExecutorOptions {
  hosts: Pick<HostService, 'store' | 'target' | 'pool'>;
  api: RolloutApi;
  cluster: string;
  recipes: RecipeBook;
  clock: Clock;
  /** How long a rebooted host may take to answer again. */
  rebootTimeoutMs?: number;
  pollMs?: number;
}

interface Ran {
  ok: boolean;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  error?: string;
}

const tail = (s: string) => (s.length > MAX_LOG_OUTPUT ? `...${s.slice(-MAX_LOG_OUTPUT)}` : s);

/** One version for the whole host, or why not: every GPU must report the same one. */
export function parseVersions(stdout: string): { version?: string; detail: string } {
  const versions = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const distinct = [...new Set(versions)];
  if (distinct.length === 1) return { version: distinct[0]!, detail: `${versions.length} GPU(s) report ${distinct[0]}` };
  if (distinct.length === 0) return { detail: 'nvidia-smi printed no driver version' };
  return { detail: `GPUs disagree: ${distinct.join(', ')}` };
}

const JOURNAL_XIDS = 'gpu.xids.journal';
const DMESG_XIDS = 'gpu.xids.dmesg';

/** The shell (exit 127) or sudo (exit 1, "command not found") found no such program on the host. */
const commandMissing = (r: Ran) => !r.ok && (r.exitCode === 127 || /command not found/i.test(r.stderr));

/** `uptime -s` (`2026-11-22 10:00:00`, local time) as ms since the epoch; NaN when it is not that. */
const bootTime = (s: string) => Date.parse(s.trim().replace(' ', 'T'));

/**
 * Whether `uptime -s` names a later boot. procps derives the boot time from the uptime and the clock, so one boot's
 * answer can move by a second between calls; a reboot moves it by far more than that.
 */
export function newBoot(before: string, now: string): boolean {
  const [a, b] = [bootTime(before), bootTime(now)];
  if (Number.isFinite(a) && Number.isFinite(b)) return rebootedSince(a, b);
  return before.trim() !== now.trim();
}

export class SshExecutor implements UpgradeExecutor {
  readonly kind = 'ssh' as const;

  constructor(private readonly o: SshExecutorOptions) {}

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.o.clock.setTimeout(r, ms));
  }

  async unready(nodes: string[]): Promise<string[]> {
    // One copy of the host list for every node: the store hands out a fresh copy per call.
    const hosts = (await this.o.hosts.store.list()).hosts;
    const problems = await Promise.all(
      nodes.map(async (node) => {
        try {
          recipeFor(this.o.recipes, (await this.hostFor(node, hosts)).pool);
          return undefined;
        } catch (err) {
          return toErrorShape(err).message;
        }
      }),
    );
    return problems.filter((m): m is string => m !== undefined);
  }

  /** The SSH host for a node: imported from it (this cluster first), else the one whose address is its InternalIP. */
  async hostFor(node: string, known?: SshHost[]): Promise<{ host: SshHost; pool?: string }> {
    const raw = await readNode(this.o.api, node);
    const pool = raw.metadata.labels?.[GPU_PRODUCT_LABEL];
    const hosts = known ?? (await this.o.hosts.store.list()).hosts;
    const bySource = (sameCluster: boolean) => hosts.find((h) => h.source.kind === 'kubernetes' && h.source.node === node && (!sameCluster || h.source.cluster === this.o.cluster));
    const ips = (raw.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
    const host = bySource(true) ?? bySource(false) ?? hosts.find((h) => ips.includes(h.address));
    if (!host) throw new TesseraError('NOT_FOUND', `no SSH host for node ${node}: import the cluster's nodes (Hosts page, or tessera ssh import-nodes), or add a host with address ${ips[0] ?? '(the node has no InternalIP)'}`, { node });
    return { host, ...(pool ?? host.nodePool ? { pool: pool ?? host.nodePool! } : {}) };
  }

  /** Runs one recipe operation, logging the command line, exit status and output; never throws for a failed command. */
  private async run(host: SshHost, operation: string, args: Record<string, string>, ctx: Pick<ExecutorContext, 'log' | 'signal'>, timeoutMs?: number): Promise<Ran> {
    const sudo = host.user !== 'root' && recipeRegistry.get(operation)?.sudo === 'allowed';
    ctx.log(`${host.name}$ [${operation}] ${Object.values(args).join(' ')}${sudo ? ' (sudo)' : ''}`.trimEnd());
    let r: Ran;
    try {
      const target = await this.o.hosts.target(host);
      const res = await this.o.hosts.pool.use(target, (conn) =>
        // Not check: true, whose error keeps only stderr; installers print their failure on stdout.
        runOperation(conn, operation, { registry: recipeRegistry, args, signal: ctx.signal, ...(timeoutMs ? { timeoutMs } : {}), ...(sudo ? { sudo: {} } : {}) }),
      );
      ctx.log(`command: ${res.command}`);
      const okCodes = recipeRegistry.get(operation)?.okExitCodes ?? [0];
      const ok = res.exitCode !== null && okCodes.includes(res.exitCode);
      r = { ok, stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode, ...(ok ? {} : { error: res.exitCode === null ? `killed by ${res.signal ?? 'a signal'}` : `exit status ${res.exitCode}` }) };
    } catch (err) {
      const e = toErrorShape(err);
      const d = e.details ?? {};
      if (typeof d.command === 'string') ctx.log(`command: ${d.command}`);
      r = { ok: false, stdout: typeof d.stdout === 'string' ? d.stdout : '', stderr: typeof d.stderr === 'string' ? d.stderr : '', exitCode: typeof d.exitCode === 'number' ? d.exitCode : null, error: e.message };
    }
    if (r.stdout.trim()) ctx.log(`stdout:\n${tail(r.stdout.trimEnd())}`);
    if (r.stderr.trim()) ctx.log(`stderr:\n${tail(r.stderr.trimEnd())}`);
    ctx.log(r.ok ? `exit ${r.exitCode ?? 0}` : `failed: ${r.error ?? `exit ${r.exitCode}`}`);
    return r;
  }

  /** What the recipe's verify operation reads on the node's host now. */
  async reportedVersion(node: string, log: (line: string) => void, signal?: AbortSignal): Promise<VersionReport> {
    const { host, pool } = await this.hostFor(node);
    const recipe = recipeFor(this.o.recipes, pool);
    const r = await this.run(host, recipe.verify, {}, { log, signal: signal ?? new AbortController().signal });
    if (!r.ok) return { detail: `${recipe.verify} on SSH host ${host.name} failed: ${r.error ?? `exit ${r.exitCode}`}${r.stderr.trim() ? ` (${tail(r.stderr.trim())})` : ''}` };
    const p = parseVersions(r.stdout);
    return { ...(p.version ? { version: p.version } : {}), detail: `${recipe.verify} on SSH host ${host.name}: ${p.detail}` };
  }

  readonly noXidSource = 'the recipe for its pool reads no XIDs ("xids": false)';
  /** Hosts found without journalctl: their XIDs come from dmesg straight away. */
  private readonly noJournal = new Set<string>();

  /**
   * The last XID per GPU from the host's kernel log of this boot, with the boot time: a reboot starts a fresh log,
   * which the xid gate must know to count an XID the same as an older one. Quiet unless something fails, since the
   * gates poll it.
   */
  async readXids(node: string, signal?: AbortSignal): Promise<XidReading | undefined> {
    const { host, pool } = await this.hostFor(node);
    let op = recipeFor(this.o.recipes, pool).xids;
    if (op === false) return undefined;
    if (op === JOURNAL_XIDS && this.noJournal.has(host.id)) op = DMESG_XIDS;
    // Not logged: the gates read this every poll, and a failure's message carries what went wrong.
    const ctx = { log: () => undefined, signal: signal ?? new AbortController().signal };
    const boot = await this.run(host, 'host.boot-time', {}, ctx, 15_000);
    const bus = await this.run(host, 'gpu.bus-ids', {}, ctx);
    let log = await this.run(host, op, {}, ctx);
    // Hosts without systemd's journal have no journalctl (a real H100 VM captured for this project has none);
    // the ring buffer holds the same kernel lines of this boot.
    if (op === JOURNAL_XIDS && commandMissing(log)) {
      // Remembered for this drive: the gates poll, and asking for journalctl again each time would double the commands.
      this.noJournal.add(host.id);
      op = DMESG_XIDS;
      log = await this.run(host, op, {}, ctx);
    }
    const failed = [boot, bus, log].find((r) => !r.ok);
    if (failed) throw new TesseraError('COMMAND_FAILED', `reading XIDs on ${host.name} failed: ${failed.error ?? `exit ${failed.exitCode}`}${failed.stderr.trim() ? ` (${tail(failed.stderr.trim())})` : ''}`, { node, host: host.id });
    // journalctl shows an unprivileged user only their own messages, with a hint on stderr: no kernel lines is then no answer.
    if (/not seeing messages|insufficient permissions|No journal files/i.test(log.stderr)) {
      throw new TesseraError('COMMAND_FAILED', `${op} on ${host.name} cannot read the kernel log: ${log.stderr.trim().split('\n')[0]}`, { node, host: host.id });
    }
    const bootedAt = bootTime(boot.stdout);
    return { byGpu: xidsByGpu(log.stdout, bus.stdout), source: `kernel log of ${host.name} (${op})`, ...(Number.isFinite(bootedAt) ? { bootedAt } : {}) };
  }

  async upgrade(node: string, version: string, ctx: ExecutorContext): Promise<void> {
    const { host, pool } = await this.hostFor(node);
    const recipe = recipeFor(this.o.recipes, pool);
    ctx.log(`SSH host ${host.name} (${host.user}@${host.address}:${host.port}), pool ${pool ?? '(none)'}: ${recipe.install}${recipe.reboot ? ' + reboot' : ''}, verify ${recipe.verify}`);
    // The install runs even when the host already reports the version: after a failed or interrupted install (or for a
    // rollback after one) the reported version says little about what is on disk, and installers are idempotent.
    const now = await this.reportedVersion(node, ctx.log, ctx.signal);
    ctx.log(`before the install: ${now.detail}`);
    const inst = await this.run(host, recipe.install, { version }, ctx, ctx.timeoutMs);
    if (!inst.ok) {
      const out = [inst.stdout.trim(), inst.stderr.trim()].filter(Boolean).join('\n');
      throw new TesseraError('COMMAND_FAILED', `${recipe.install} ${version} failed on ${host.name}: ${inst.error ?? `exit ${inst.exitCode}`}${out ? `\n${tail(out)}` : ''}`, { node, host: host.id, exitCode: inst.exitCode });
    }
    if (recipe.reboot) await this.rebootAndWait(host, ctx);
    const after = await this.reportedVersion(node, ctx.log, ctx.signal);
    if (after.version !== version) throw new TesseraError('COMMAND_FAILED', `after ${recipe.install} ${version}, ${after.detail} (wanted ${version})`, { node, host: host.id });
    ctx.log(`verified: ${after.detail}`);
  }

  /**
   * Reboots the host and waits until it answers again from a new boot: the boot time (`uptime -s`) read before the
   * reboot must change, so a host that has not gone down yet (systemctl returns at once) does not count as back. A
   * host that does not answer from a new boot within the reboot timeout fails the node (fault no-return).
   */
  private async rebootAndWait(host: SshHost, ctx: ExecutorContext): Promise<void> {
    const boot = await this.run(host, 'host.boot-time', {}, ctx, 15_000);
    const bootBefore = boot.ok ? boot.stdout.trim() : undefined;
    // The connection drops while the reboot command runs, so its "failure" is expected; the host answering again is what counts.
    await this.run(host, 'host.reboot', {}, ctx);
    const limit = this.o.rebootTimeoutMs ?? ctx.timeoutMs;
    const began = this.o.clock.now();
    const pollMs = this.o.pollMs ?? 5000;
    const quiet = { log: () => {}, signal: ctx.signal };
    let wentDown = false;
    let last = 'no answer yet';
    for (;;) {
      await this.sleep(pollMs);
      if (ctx.signal.aborted) throw new TesseraError('INTERNAL', `stopped while waiting for ${host.name} to come back`);
      const r = await this.run(host, 'host.boot-time', {}, quiet, 15_000);
      const now = r.ok ? r.stdout.trim() : undefined;
      if (!r.ok) {
        last = r.error ?? `exit ${r.exitCode}`;
        if (!wentDown) ctx.log(`${host.name} is down (${last})`);
        wentDown = true;
      } else if (bootBefore === undefined ? wentDown : newBoot(bootBefore, now!)) {
        ctx.log(`${host.name} answers again after ${Math.round((this.o.clock.now() - began) / 1000)} s (booted ${now})`);
        return;
      } else last = `still up from the boot before the reboot (${now})`;
      if (this.o.clock.now() - began > limit) {
        throw new TesseraError('TIMEOUT', `${host.name} did not come back within ${Math.round(limit / 1000)} s after its reboot (last: ${last})`, { host: host.id, reason: 'no-return' });
      }
    }
  }
}
