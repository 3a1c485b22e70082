// Drives one rollout from wherever its durable state says it is: stages with
// at most maxUnavailable nodes in flight, the per-node procedure with every
// step written before and after it runs, the failure policy, pauses between
// stages, control requests from any console, and staged rollback (newest
// stage first). Only the console holding the rollout's Lease runs this.
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { FINAL_PHASES, NODE_STEPS, type NodePhase, type NodeProgress, type NodeStep, type RolloutHistoryEntry, type RolloutState } from '../../../shared/model/rollout.ts';
import type { Clock } from '../clock.ts';
import type { UpgradeExecutor } from './executors/executor.ts';
import { nodeFacts, readNode } from './node-facts.ts';
import { drainNode, setCordon } from './node-drain.ts';
import { checkGates } from './node-gates.ts';
import type { RolloutApi } from './rollout-api.ts';
import { RolloutLease } from './rollout-lease.ts';
import type { RolloutStore } from './rollout-store.ts';
import { mergeLogs, RolloutLogs } from './rollout-logs.ts';

export interface RunnerTiming {
  /** How often a waiting driver reads control requests written by other consoles. */
  controlPollMs: number;
  drainRetryMs: number;
  gateSettleMs: number;
  gatePollMs: number;
}

export const DEFAULT_TIMING: RunnerTiming = { controlPollMs: 1000, drainRetryMs: 2000, gateSettleMs: 60_000, gatePollMs: 1000 };

export interface RunnerDeps {
  api: RolloutApi;
  store: RolloutStore;
  executor: UpgradeExecutor;
  clock: Clock;
  identity: string;
  audit?: (input: AuditInput) => Promise<unknown>;
  timing?: Partial<RunnerTiming>;
  /** Lines for a watching terminal (the CLI prints them). */
  onEvent?: (e: RolloutHistoryEntry) => void;
}

class LeaseLost extends Error {}

type Phase = 'upgrade' | 'rollback';
const idx = (s: NodeStep) => NODE_STEPS.indexOf(s);
/** A list for a history line, which lives in the small head ConfigMap: the nodes themselves say the rest. */
const someOf = (xs: string[], max = 12) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more (${xs.length} in all)`);

export class RolloutRunner {
  private readonly lease: RolloutLease;
  private readonly ac = new AbortController();
  private lost?: string;
  private readonly timing: RunnerTiming;
  private readonly audits = new Set<Promise<unknown>>();
  private readonly logs: RolloutLogs;
  /** Final writes of nodes that finished (see processNode); a stage or rollback group is over once they landed. */
  private readonly trailing = new Set<Promise<void>>();

  constructor(private readonly d: RunnerDeps) {
    this.timing = { ...DEFAULT_TIMING, ...d.timing };
    this.logs = new RolloutLogs(d.api, d.store.id, d.store.state.nodes.map((n) => n.name), d.clock);
    this.lease = new RolloutLease(d.api, d.store.id, d.identity, d.store.state.plan.leaseSeconds, d.clock, (why) => {
      this.lost = why;
      this.ac.abort();
    });
  }

  private get s(): RolloutState {
    return this.d.store.state;
  }

  private now(): string {
    return new Date(this.d.clock.now()).toISOString();
  }

  /** What this driver holds in memory (state and unflushed log lines), and a key that changes whenever either does. */
  view(): { state: RolloutState; version: string } {
    return { state: mergeLogs(structuredClone(this.s), this.logs.snapshot()), version: `${this.d.store.writes}|${this.s.updatedAt}|${this.logs.version}` };
  }

  /** Takes the Lease (or throws CONFLICT); call before drive(). */
  async acquire(): Promise<void> {
    await this.lease.acquire();
  }

  /** Gives the lease up without driving (used when a request only needed the lock). */
  async release(): Promise<void> {
    await this.lease.release();
  }

  private audit(input: Omit<AuditInput, 'cluster'>): void {
    if (!this.d.audit) return;
    const p = this.d.audit({ ...input, cluster: this.s.cluster }).catch(() => undefined);
    this.audits.add(p);
    void p.finally(() => this.audits.delete(p));
  }

  private async write(mut: (s: RolloutState) => void, event?: Omit<RolloutHistoryEntry, 'at'>): Promise<void> {
    if (this.lost) throw new LeaseLost(this.lost);
    const at = this.now();
    await this.d.store.update((s) => {
      mut(s);
      if (event) s.history.push({ at, ...event });
    });
    if (event) this.d.onEvent?.({ at, ...event });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.d.clock.setTimeout(r, ms));
  }

  /** Runs until the rollout ends, pauses, or this console loses the lease. The lease is released at the end. */
  async drive(): Promise<RolloutState> {
    let stopped: unknown;
    try {
      await this.d.store.refresh();
      await this.logs.load();
      await this.write(() => {}, { kind: 'lease', message: `driven by ${this.d.identity}` });
      if (this.d.executor.prepare && !FINAL_PHASES.includes(this.s.phase)) {
        const held = await this.d.executor.prepare(
          this.s.nodes.map((n) => n.name),
          (m) => this.d.onEvent?.({ at: this.now(), kind: 'node', message: m }),
        );
        if (held.length) await this.write((s) => (s.held = [...new Set([...s.held, ...held])]), { kind: 'decision', message: `held ${held.length} node(s) out of operator upgrades until their turn` });
      }
      await this.loop();
    } catch (err) {
      if (!(err instanceof LeaseLost) && !this.lost) {
        // The API server went away, or something unexpected broke the driver: leave the phase as it is so that this or
        // another console can resume from the recorded steps once the cause is fixed.
        stopped = err;
        const message = toErrorShape(err).message;
        await this.write(() => {}, { kind: 'failure', message: `driver stopped: ${message}; resume to continue` }).catch(() => undefined);
        this.audit({ action: 'rollout.drive', outcome: 'failed', targets: [{ kind: 'Rollout', name: this.s.id }], error: err });
      }
    } finally {
      await this.d.executor.close?.().catch(() => undefined);
      await this.logs.close().catch(() => undefined);
      if (!this.lost) await this.lease.release();
      else this.lease.stop();
      await Promise.all([...this.audits]);
    }
    if (this.lost) throw new TesseraError('CONFLICT', `stopped driving rollout ${this.s.id}: ${this.lost}`, { rollout: this.s.id });
    if (stopped) throw stopped;
    return this.s;
  }

  private async refreshControl(): Promise<void> {
    await this.d.store.refresh();
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.lost) return;
      const s = this.s;
      const c = s.control;
      if (FINAL_PHASES.includes(s.phase) || s.phase === 'paused') return;
      if (s.phase === 'pending') {
        await this.write((x) => {
          x.phase = 'running';
          x.currentStage = 0;
        }, { kind: 'start', message: `rollout to ${s.plan.driverVersion} started: ${s.nodes.length} node(s) in ${s.plan.stages.length} stage(s)` });
        this.audit({ action: 'rollout.start', outcome: 'started', targets: s.nodes.map((n) => ({ kind: 'Node', name: n.name })), params: { rollout: s.id, driverVersion: s.plan.driverVersion, stages: s.plan.stages.map((st) => st.nodes.length) } });
        continue;
      }
      if (c.rollback && s.phase !== 'rolling-back') {
        await this.write((x) => (x.phase = 'rolling-back'), { kind: 'rollback', message: 'rollback requested' });
        continue;
      }
      if (c.abort) {
        await this.finish('aborted', 'aborted on request');
        return;
      }
      if (c.pause) {
        await this.write((x) => {
          x.phase = 'paused';
          x.control.pause = false;
        }, { kind: 'decision', message: 'paused' });
        this.audit({ action: 'rollout.pause', outcome: 'succeeded', targets: [{ kind: 'Rollout', name: s.id }], params: { stage: s.currentStage } });
        return;
      }
      if (s.phase === 'rolling-back') {
        await this.rollback();
        continue;
      }
      if (s.phase === 'waiting-approval') {
        if (c.approvedStages.includes(s.currentStage)) {
          await this.write((x) => (x.phase = 'running'), { kind: 'decision', message: `stage ${s.currentStage} approved`, stage: s.currentStage });
          continue;
        }
        await this.sleep(this.timing.controlPollMs);
        await this.refreshControl();
        continue;
      }
      // running, or pausing/halting left behind by a console that died
      if (s.resumeAt && Date.parse(s.resumeAt) > this.d.clock.now()) {
        await this.sleep(Math.min(this.timing.controlPollMs, Date.parse(s.resumeAt) - this.d.clock.now()));
        await this.refreshControl();
        continue;
      }
      if (s.currentStage >= s.plan.stages.length) {
        await this.finish('succeeded', `all ${s.plan.stages.length} stage(s) done`);
        return;
      }
      const untouched = s.nodes.every((n) => n.stage !== s.currentStage || n.upgrade.step === 'pending');
      if (s.plan.pause.kind === 'approval' && s.currentStage > 0 && untouched && !c.approvedStages.includes(s.currentStage)) {
        await this.write((x) => (x.phase = 'waiting-approval'), { kind: 'stage', message: `stage ${s.currentStage} waits for approval`, stage: s.currentStage });
        continue;
      }
      const r = await this.runStage(s.currentStage);
      if (this.lost) return;
      if (r === 'halted') {
        const st = this.s.plan.stages[this.s.currentStage]!;
        const msg = `stage ${st.index} (${st.label}) failed beyond its policy (${r === 'halted' ? this.failedIn(st.index) : 0} failure(s), ${st.tolerateFailures} tolerated)`;
        this.audit({ action: 'rollout.stage', outcome: 'failed', targets: st.nodes.map((n) => ({ kind: 'Node', name: n })), params: { rollout: this.s.id, stage: st.index } });
        if (this.s.plan.autoRollback) {
          await this.write((x) => {
            x.phase = 'rolling-back';
            x.reason = msg;
          }, { kind: 'failure', message: `${msg}; rolling back`, stage: st.index });
        } else {
          await this.finish('failed', msg);
          return;
        }
        continue;
      }
      if (r === 'interrupted') {
        await this.refreshControl();
        continue;
      }
      await this.stageDone(s.currentStage);
    }
  }

  private failedIn(stage: number): number {
    return this.s.nodes.filter((n) => n.stage === stage && n.upgrade.step === 'failed').length;
  }

  private async stageDone(stage: number): Promise<void> {
    const plan = this.s.plan;
    const st = plan.stages[stage]!;
    this.audit({ action: 'rollout.stage', outcome: 'succeeded', targets: st.nodes.map((n) => ({ kind: 'Node', name: n })), params: { rollout: this.s.id, stage, failed: this.failedIn(stage) } });
    const next = stage + 1;
    const more = next < plan.stages.length;
    await this.write(
      (x) => {
        x.currentStage = next;
        if (more && plan.pause.kind === 'approval') x.phase = 'waiting-approval';
        if (more && plan.pause.kind === 'duration') x.resumeAt = new Date(this.d.clock.now() + plan.pause.seconds * 1000).toISOString();
      },
      { kind: 'stage', message: `stage ${stage} (${st.label}) done${more && plan.pause.kind === 'approval' ? `; stage ${next} waits for approval` : ''}`, stage },
    );
  }

  private async finish(phase: RolloutState['phase'], reason: string): Promise<void> {
    if (phase === 'succeeded' && this.d.executor.release) {
      const mine = new Set(this.s.held);
      const done = this.s.nodes.filter((n) => n.upgrade.step === 'done' && !n.rollback && mine.has(n.name)).map((n) => n.name);
      await this.d.executor.release(done, () => {});
    }
    await this.write((x) => {
      x.phase = phase;
      x.reason = reason;
      x.resumeAt = undefined;
    }, { kind: 'finish', message: `${phase}: ${reason}` });
    this.audit({ action: 'rollout.finish', outcome: phase === 'succeeded' || phase === 'rolled-back' ? 'succeeded' : phase === 'aborted' ? 'cancelled' : 'failed', targets: [{ kind: 'Rollout', name: this.s.id }], params: { phase, reason } });
  }

  private async settleWrites(): Promise<void> {
    await Promise.all([...this.trailing]);
  }

  private stopRequested(): boolean {
    const c = this.s.control;
    return Boolean(this.lost || c.pause || c.abort || c.rollback);
  }

  /** Nodes of one stage through the procedure, at most maxUnavailable at once. */
  private async runStage(stage: number): Promise<'done' | 'halted' | 'interrupted'> {
    const st = this.s.plan.stages[stage]!;
    const open = this.s.nodes.filter((n) => n.stage === stage && n.upgrade.step !== 'done' && n.upgrade.step !== 'failed');
    // Nodes a previous console left half-way go first: they are cordoned now.
    open.sort((a, b) => Number(b.upgrade.step !== 'pending') - Number(a.upgrade.step !== 'pending'));
    if (this.s.nodes.every((n) => n.stage !== stage || n.upgrade.step === 'pending')) await this.write(() => {}, { kind: 'stage', message: `stage ${stage} (${st.label}) started: ${someOf(st.nodes)}`, stage });
    let halted = this.failedIn(stage) > st.tolerateFailures;
    let interrupted = false;
    let poll = this.d.clock.now();
    const queue = [...open];
    const worker = async () => {
      while (queue.length && !halted) {
        if (this.d.clock.now() - poll > this.timing.controlPollMs) {
          poll = this.d.clock.now();
          await this.refreshControl().catch(() => undefined);
        }
        if (this.stopRequested()) {
          interrupted = true;
          return;
        }
        // Another worker may have taken the last node while this one read the control requests.
        const n = queue.shift();
        if (!n) return;
        const ok = await this.processNode(n.name, 'upgrade', this.s.plan.driverVersion);
        if (!ok && this.failedIn(stage) > st.tolerateFailures) halted = true;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(st.maxUnavailable, open.length)) }, worker));
    await this.settleWrites();
    if (halted) return 'halted';
    if (interrupted || queue.length) return 'interrupted';
    return 'done';
  }

  private node(name: string): NodeProgress {
    const n = this.s.nodes.find((x) => x.name === name);
    if (!n) throw new TesseraError('INTERNAL', `node ${name} is not part of rollout ${this.s.id}`);
    return n;
  }

  private phaseOf(name: string, phase: Phase): NodePhase {
    const n = this.node(name);
    const p = phase === 'upgrade' ? n.upgrade : n.rollback;
    if (!p) throw new TesseraError('INTERNAL', `node ${name} has no ${phase} phase`);
    return p;
  }

  private async mark(name: string, phase: Phase, step: NodeStep, extra: (p: NodePhase, n: NodeProgress) => void = () => {}, message?: string): Promise<void> {
    const at = this.now();
    await this.write(
      (s) => {
        const n = s.nodes.find((x) => x.name === name)!;
        const p = phase === 'upgrade' ? n.upgrade : n.rollback!;
        p.step = step;
        p.stepAt = at;
        p.startedAt ??= at;
        extra(p, n);
      },
      message ? { kind: 'node', node: name, stage: this.node(name).stage, message } : undefined,
    );
  }

  /** The last XID per GPU as the phase begins (the xid gate compares against it); never fails the node. */
  private async xidsNow(name: string): Promise<Pick<NodePhase, 'xidsBefore' | 'xidsUnread' | 'xidsBootedAt'>> {
    const ex = this.d.executor;
    if (!ex.readXids) return { xidsUnread: 'this executor has no XID source' };
    try {
      const r = await ex.readXids(name, this.ac.signal);
      return r ? { xidsBefore: r.byGpu, ...(r.bootedAt !== undefined ? { xidsBootedAt: r.bootedAt } : {}) } : { xidsUnread: ex.noXidSource ?? 'the node has no XID source' };
    } catch (err) {
      return { xidsUnread: `the XID source could not be read (${toErrorShape(err).message})` };
    }
  }

  private logTo(name: string, phase: Phase): (line: string) => void {
    return (line) => this.logs.append(name, phase, `${this.now()} ${line}`);
  }

  /**
   * The per-node procedure. Each step is skipped when the recorded step says
   * it is done, so a console taking over mid-node carries on without
   * repeating it. Returns false when the node failed (recorded, never thrown).
   */
  private async processNode(name: string, phase: Phase, version: string): Promise<boolean> {
    const verb = phase === 'upgrade' ? 'upgrade' : 'rollback';
    const target = [{ kind: 'Node', name }];
    const at = () => idx(this.phaseOf(name, phase).step);
    // Each write records one step as done and the next as begun: a console that takes over redoes at most the step in
    // progress, and every step is idempotent (cordon, evict what is left, an install already at the version, read gates).
    // A step's write is not waited for by default: a step whose work a takeover would redo anyway from the earlier
    // record (the drain after the cordon, the gate reads) starts while it is in flight, and anything a takeover must
    // know happened (the driver install, the uncordon, the next node) waits for it (`written`).
    let recorded: Promise<void> = Promise.resolve();
    const written = async () => {
      await recorded;
    };
    const step = async (doing: NodeStep, next: NodeStep, work: () => Promise<void | ((p: NodePhase) => void)>, labels: string[], o: { overlap?: boolean } = {}) => {
      if (at() > idx(doing)) return;
      if (!o.overlap) await written();
      const t0 = this.d.clock.now();
      const after = await work();
      await written();
      recorded = this.mark(name, phase, next, (p) => after && after(p), `${verb}: ${labels.join(' + ')}`);
      // Awaited by the next step or at the end; this only keeps a failed write from being an unhandled rejection meanwhile.
      recorded.catch(() => undefined);
      for (const l of labels) this.audit({ action: `rollout.node.${l.split(' ')[0]}`, outcome: 'succeeded', targets: target, params: { rollout: this.s.id, phase, version }, durationMs: this.d.clock.now() - t0 });
    };
    try {
      const first = this.phaseOf(name, phase).step;
      // The GPUs' last XIDs before the driver changes: read beside the cordon and drain (a metrics scrape is the slowest
      // read there is), recorded with the drain, before the install.
      const xidsBefore = idx(first) < idx('upgrading') ? this.xidsNow(name) : undefined;
      if (phase === 'upgrade' && first === 'pending') {
        const f = nodeFacts(this.d.executor.cachedNode?.(name) ?? (await readNode(this.d.api, name)));
        await this.mark(
          name,
          phase,
          'cordoning',
          (_p, n) => {
            n.before = { ...(f.version ? { version: f.version } : {}), cordoned: f.cordoned, ...(f.gpuCount !== undefined ? { gpuCount: f.gpuCount } : {}), ...(f.migConfig ? { migConfig: f.migConfig } : {}), migResources: f.migResources, ...(f.skip ? { skipLabel: f.skip } : {}) };
          },
          `${verb}: recorded driver ${f.version ?? '?'}${f.cordoned ? ', cordoned before the rollout' : ''}`,
        );
      } else if (first === 'pending' || first === 'recorded') {
        await this.mark(name, phase, 'cordoning');
      }
      const before = this.node(name).before;
      if (!before) throw new TesseraError('INTERNAL', `nothing was recorded about ${name} before its upgrade`);
      if (phase === 'rollback' && !before.version) throw new TesseraError('INVALID_REQUEST', `the previous driver version of ${name} is unknown, so it cannot be rolled back`);
      await step('cordoning', 'draining', () => setCordon(this.d.api, name, true), ['cordon']);
      await step(
        'draining',
        'upgrading',
        async () => {
          const [r, xids] = await Promise.all([
            drainNode(this.d.api, this.d.clock, name, { timeoutMs: this.s.plan.drainTimeoutSeconds * 1000, retryMs: this.timing.drainRetryMs, signal: this.ac.signal, log: this.logTo(name, phase) }),
            xidsBefore ?? this.xidsNow(name),
          ]);
          return (p) => {
            p.drains++;
            Object.assign(p, xids);
            if (!r.evicted.length) this.logs.append(name, phase, `${this.now()} drained: nothing to evict`);
          };
        },
        ['drain'],
        { overlap: true },
      );
      await step(
        'upgrading',
        'verifying',
        () =>
          this.d.executor.upgrade(name, version, {
            log: this.logTo(name, phase),
            signal: this.ac.signal,
            timeoutMs: this.s.plan.upgradeTimeoutSeconds * 1000,
            stallMs: this.s.plan.stallTimeoutSeconds * 1000,
          }),
        [`install ${version}`],
      );
      await step(
        'verifying',
        'done',
        async () => {
          const ex = this.d.executor;
          const reported = ex.reportedVersion ? () => ex.reportedVersion!(name, this.logTo(name, phase), this.ac.signal) : undefined;
          const ph = this.phaseOf(name, phase);
          const xid = ex.readXids
            ? {
                ...(ph.xidsBefore ? { before: ph.xidsBefore } : {}),
                ...(ph.xidsUnread ? { unreadBefore: `no reading from before: ${ph.xidsUnread}` } : {}),
                ...(ph.xidsBootedAt !== undefined ? { beforeBootedAt: ph.xidsBootedAt } : {}),
                read: () => ex.readXids!(name, this.ac.signal),
                noSource: ex.noXidSource ?? 'the node has no XID source',
              }
            : undefined;
          const gates = await checkGates(this.d.api, this.d.clock, name, version, before, { settleMs: this.timing.gateSettleMs, pollMs: this.timing.gatePollMs, ...(reported ? { reported } : {}), ...(xid ? { xid } : {}) });
          // The install must be on record before the node takes work again.
          await written();
          if (!before.cordoned) await setCordon(this.d.api, name, false);
          const at = this.now();
          return (p) => {
            p.gates = gates;
            p.finishedAt = at;
          };
        },
        ['verify', before.cordoned ? 'finish (left cordoned as it was before)' : 'uncordon'],
        { overlap: true },
      );
      // The slot is free once the node is uncordoned; the record of it lands with the next node's first write, and the
      // stage waits for it before it counts as done (settleWrites).
      this.trailing.add(recorded);
      void recorded.finally(() => this.trailing.delete(recorded)).catch(() => undefined);
      return true;
    } catch (err0) {
      let err = err0;
      // A step's own write may still be in flight (or have failed: a lost lease is the error that counts then).
      await written().catch((e) => (err = e instanceof LeaseLost ? e : err));
      if (err instanceof LeaseLost || this.lost) throw err instanceof LeaseLost ? err : new LeaseLost(this.lost!);
      const failedAt = this.phaseOf(name, phase).step;
      const message = toErrorShape(err).message;
      const gates = (err as TesseraError).details?.gates as NodePhase['gates'];
      // Nothing changed on the driver yet: give the node back as it was.
      const restore = idx(failedAt) < idx('upgrading') && before0(this.node(name)) === false;
      if (restore) await setCordon(this.d.api, name, false).catch(() => undefined);
      await this.mark(
        name,
        phase,
        'failed',
        (p) => {
          p.failedAt = failedAt;
          p.error = message;
          p.finishedAt = this.now();
          if (gates) p.gates = gates;
        },
        undefined,
      );
      await this.write(() => {}, { kind: 'failure', node: name, stage: this.node(name).stage, message: `${verb} of ${name} failed at ${failedAt}: ${message}${restore ? ' (uncordoned: its driver was not touched)' : ''}` });
      this.audit({ action: `rollout.node.${verb}`, outcome: 'failed', targets: target, params: { rollout: this.s.id, phase, version, failedAt }, error: err });
      return false;
    }
  }

  /** Staged rollback: newest stage first, each node back to the version recorded before its upgrade. */
  private async rollback(): Promise<void> {
    const s = this.s;
    const lastStage = Math.min(s.currentStage, s.plan.stages.length - 1);
    this.audit({ action: 'rollout.rollback', outcome: 'started', targets: [{ kind: 'Rollout', name: s.id }], params: { fromStage: lastStage } });
    for (let stage = lastStage; stage >= 0; stage--) {
      const touched = this.s.nodes.filter((n) => n.stage === stage && needsRollback(n));
      if (touched.length === 0) continue;
      const fresh = touched.filter((n) => !n.rollback);
      if (fresh.length) {
        await this.write(
          (x) => {
            for (const n of x.nodes) {
              if (fresh.some((f) => f.name === n.name)) n.rollback = { toVersion: n.before?.version ?? '', step: 'recorded', drains: 0, log: [] };
            }
          },
          { kind: 'rollback', stage, message: `rolling back stage ${stage}: ${someOf(touched.map((n) => `${n.name} -> ${n.before?.version ?? '?'}`))}` },
        );
      }
      const open = touched.filter((n) => this.node(n.name).rollback!.step !== 'done' && this.node(n.name).rollback!.step !== 'failed');
      // One owner object asks for one version at a time, so nodes are rolled back grouped by the version they return to.
      const byVersion = new Map<string, string[]>();
      for (const n of open) byVersion.set(n.before?.version ?? '', [...(byVersion.get(n.before?.version ?? '') ?? []), n.name]);
      const width = Math.max(1, s.plan.stages[stage]!.maxUnavailable);
      for (const [version, names] of byVersion) {
        const queue = [...names];
        const worker = async () => {
          while (queue.length) {
            await this.refreshControl().catch(() => undefined);
            if (this.lost || this.s.control.pause || this.s.control.abort) return;
            const n = queue.shift();
            if (!n) return;
            await this.processNode(n, 'rollback', version);
          }
        };
        await Promise.all(Array.from({ length: Math.min(width, queue.length) }, worker));
        await this.settleWrites();
        if (this.lost || this.s.control.pause || this.s.control.abort) return;
      }
    }
    const failed = this.s.nodes.filter((n) => n.rollback?.step === 'failed');
    await this.write((x) => (x.control.rollback = false));
    if (failed.length) await this.finish('rollback-failed', `rollback failed on ${failed.map((n) => `${n.name} (${n.rollback!.error ?? 'failed'})`).join('; ')}`);
    else await this.finish('rolled-back', `${this.s.nodes.filter((n) => n.rollback?.step === 'done').length} node(s) returned to their previous driver`);
    this.audit({ action: 'rollout.rollback', outcome: failed.length ? 'failed' : 'succeeded', targets: this.s.nodes.filter((n) => n.rollback).map((n) => ({ kind: 'Node', name: n.name })), params: { failed: failed.map((n) => n.name) } });
  }
}

function before0(n: NodeProgress): boolean | undefined {
  return n.before?.cordoned;
}

/** A node whose driver Tessera touched (the upgrade reached 'upgrading', done or failed there or later). */
export function needsRollback(n: NodeProgress): boolean {
  const u = n.upgrade;
  if (u.step === 'failed') return u.failedAt !== undefined && idx(u.failedAt) >= idx('upgrading');
  return idx(u.step) >= idx('upgrading');
}
