import type { KubeAccess } from '../kube/kube-access.ts';
// The rollouts domain as the contract sees it: plan, start, status, list,
// pause, resume, approve, abort, rollback, watch. Decisions from any console
// are written into the rollout's ConfigMap; the console holding the Lease
// acts on them. A console that finds the Lease expired may take over.
import os from 'node:os';
import type { KubeAccess as KubeConfig } from '../kube/kube-access.ts';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import { requireAccess } from '../clusters/access-required.ts';
import { ACTION_NEEDS } from '../../../shared/model/permissions.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { FINAL_PHASES, summarizeRollout, type RolloutPlan, type RolloutRequest, type RolloutState, type RolloutSummary, type StagePause, type StageSize } from '../../../shared/model/rollout.ts';
import type { AccessRequest } from '../clusters/cluster-connection.ts';
import type { Clock } from '../clock.ts';
import type { UpgradeExecutor } from './executors/executor.ts';
import { OperatorExecutor } from './executors/operator-executor.ts';
import { SshExecutor } from './executors/ssh-executor.ts';
import { loadRecipes } from './executors/ssh-recipes.ts';
import type { HostService } from '../hosts/host-service.ts';
import { RolloutApi } from './rollout-api.ts';
import { consoleIdentity, readHolder } from './rollout-lease.ts';
import { mergeLogs, readLogs } from './rollout-logs.ts';
import { newRolloutId, ROLLOUT_NAMESPACE } from './rollout-names.ts';
import { assertValidRequest, planRollout } from './rollout-planner.ts';
import { RolloutRunner, type RunnerTiming } from './rollout-runner.ts';
import { createRollout, headVersion, listRollouts, readRollout, RolloutStore } from './rollout-store.ts';

/** What the service needs from a connected cluster. */
export interface RolloutCluster {
  kubeConfig(): Promise<KubeAccess>;
  canI(req: AccessRequest): Promise<{ allowed: boolean; reason: string }>;
  userName?: string;
}

export interface RolloutServiceOptions {
  cluster: (id: string) => RolloutCluster;
  clock: Clock;
  audit?: (input: AuditInput) => Promise<unknown>;
  timing?: Partial<RunnerTiming>;
  /** Executor poll interval (operator state label), ms. */
  pollMs?: number;
  identity?: string;
  onEvent?: (rollout: string, line: string) => void;
  /** SSH executor: the hosts store nodes map to, and the data folder holding rollout-recipes.json. */
  hosts?: Pick<HostService, 'store' | 'target' | 'pool'>;
  dataDir?: string;
}

/** The contract's request shape (plain objects) made into the model's tagged unions, with clear errors. */
export type RequestParams = Omit<RolloutRequest, 'stages' | 'pause'> & { stages?: { count?: number; percent?: number }[]; pause?: { kind: 'none' | 'duration' | 'approval'; seconds?: number } };

export function toRolloutRequest(p: RequestParams): RolloutRequest {
  const stages: StageSize[] = (p.stages ?? []).map((st, i) => {
    if ((st.count === undefined) === (st.percent === undefined)) throw new TesseraError('INVALID_REQUEST', `stages[${i}]: give either count or percent`);
    return st.count !== undefined ? { count: st.count } : { percent: st.percent! };
  });
  let pause: StagePause = { kind: 'none' };
  if (p.pause?.kind === 'duration') {
    if (!p.pause.seconds) throw new TesseraError('INVALID_REQUEST', 'pause: a duration pause needs seconds');
    pause = { kind: 'duration', seconds: p.pause.seconds };
  } else if (p.pause?.kind === 'approval') pause = { kind: 'approval' };
  const req: RolloutRequest = { ...p, stages, pause };
  assertValidRequest(req);
  return req;
}

const RUNNING = new Set(['running', 'waiting-approval', 'pausing', 'halting', 'rolling-back']);

export class RolloutService {
  private readonly apis = new Map<string, RolloutApi>();
  private readonly driving = new Map<string, Promise<RolloutState>>();
  /** The runners this process drives, by cluster and rollout: a watch of one reads it from memory, not the cluster. */
  private readonly runners = new Map<string, RolloutRunner>();
  readonly identity: string;
  /** Progress lines of the rollouts this process drives (the CLI prints them). */
  onLine?: (line: string) => void;

  constructor(private readonly o: RolloutServiceOptions) {
    this.identity = o.identity ?? consoleIdentity();
  }

  api(id: string): RolloutApi {
    let a = this.apis.get(id);
    if (!a) {
      const c = this.o.cluster(id);
      a = new RolloutApi(() => c.kubeConfig());
      this.apis.set(id, a);
    }
    return a;
  }

  /** The drive in progress in this process, if any: the CLI waits on it. */
  drivingPromise(rollout: string): Promise<RolloutState> | undefined {
    return this.driving.get(rollout);
  }

  async plan(p: RequestParams): Promise<RolloutPlan> {
    const plan = await planRollout(this.api(p.id), toRolloutRequest(p));
    // The preview names what would stop nodes at their turn (an SSH node with no host or recipe); start refuses on it.
    const blockers = await this.unready(p.id, plan).catch((err: unknown) => [toErrorShape(err).message]);
    return blockers.length ? { ...plan, blockers } : plan;
  }

  private async unready(id: string, plan: RolloutPlan, executor = this.executor(id, plan)): Promise<string[]> {
    return executor.unready ? executor.unready(plan.nodes.map((n) => n.name)) : [];
  }

  /** Refuses with every missing permission named, before anything changes. */
  async checkAccess(id: string, plan: RolloutPlan, doing = 'start the rollout'): Promise<void> {
    const c = this.o.cluster(id);
    const need: AccessRequest[] = [
      { verb: 'get', resource: 'nodes' },
      { verb: 'patch', resource: 'nodes' },
      { verb: 'list', resource: 'pods' },
      { verb: 'create', resource: 'pods', subresource: 'eviction' },
      { verb: 'list', resource: 'poddisruptionbudgets', group: 'policy' },
      { verb: 'create', resource: 'configmaps', namespace: ROLLOUT_NAMESPACE },
      { verb: 'update', resource: 'configmaps', namespace: ROLLOUT_NAMESPACE },
      { verb: 'get', resource: 'configmaps', namespace: ROLLOUT_NAMESPACE },
      { verb: 'list', resource: 'configmaps', namespace: ROLLOUT_NAMESPACE },
      { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: ROLLOUT_NAMESPACE },
      { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: ROLLOUT_NAMESPACE },
    ];
    if (plan.executor.kind === 'gpu-operator') {
      need.push({ verb: 'patch', resource: 'clusterpolicies', group: 'nvidia.com' });
      if (plan.nodes.some((n) => n.driverOwner)) need.push({ verb: 'patch', resource: 'nvidiadrivers', group: 'nvidia.com' });
    }
    await requireAccess((r) => c.canI(r), need, doing);
  }

  private executor(id: string, plan: RolloutPlan): UpgradeExecutor {
    if (plan.executor.kind === 'gpu-operator') return new OperatorExecutor(this.api(id), this.o.clock, { ...(this.o.pollMs ? { pollMs: this.o.pollMs } : {}) });
    if (!this.o.hosts || !this.o.dataDir) throw new TesseraError('INVALID_REQUEST', 'the SSH executor needs the hosts store and site recipes (rollout-recipes.json in the data folder); this console has neither');
    // Read at every start and resume, so a fixed recipe file takes effect without a restart.
    return new SshExecutor({ hosts: this.o.hosts, api: this.api(id), cluster: id, recipes: loadRecipes(this.o.dataDir), clock: this.o.clock, ...(this.o.pollMs ? { pollMs: this.o.pollMs } : {}) });
  }

  async start(p: RequestParams): Promise<RolloutState> {
    const req = toRolloutRequest(p);
    const api = this.api(p.id);
    const plan = await planRollout(api, req);
    if (plan.nodes.length === 0) throw new TesseraError('INVALID_REQUEST', `nothing to roll out: ${plan.skipped.map((s) => `${s.name} (${s.detail})`).join(', ') || 'no target nodes'}`);
    await this.checkAccess(p.id, plan);
    // Two rollouts driving one node would fight over its cordon, drain and version.
    const targets = new Set(plan.nodes.map((n) => n.name));
    // Heads do not name their nodes, so the unfinished rollouts (rarely more than one) are read whole.
    const unfinished = (await listRollouts(api)).map((r) => r.state).filter((r) => !FINAL_PHASES.includes(r.phase));
    const busy = (await Promise.all(unfinished.map(async (r) => (await readRollout(api, r.id)).state)))
      .flatMap((r) => r.nodes.map((n) => n.name).filter((n) => targets.has(n)).map((n) => `${n} (in ${r.id}, ${r.phase})`));
    if (busy.length) throw new TesseraError('INVALID_REQUEST', `these nodes belong to a rollout that has not finished: ${busy.join(', ')}. Finish, abort or roll it back first.`);
    const executor = this.executor(p.id, plan);
    if (executor instanceof OperatorExecutor) await executor.policyName();
    const problems = await this.unready(p.id, plan, executor);
    if (problems.length) throw new TesseraError('INVALID_REQUEST', `cannot start the rollout: ${problems.join('; ')}`, { problems });
    const now = new Date(this.o.clock.now()).toISOString();
    const stageOf = new Map(plan.stages.flatMap((st) => st.nodes.map((n) => [n, st.index] as const)));
    const state: RolloutState = {
      id: newRolloutId(req.name ?? `driver-${req.driverVersion}`),
      name: req.name ?? `driver ${req.driverVersion}`,
      cluster: p.id,
      createdAt: now,
      createdBy: `${os.userInfo().username}@${os.hostname()}${this.o.cluster(p.id).userName ? ` as ${this.o.cluster(p.id).userName}` : ''}`,
      plan,
      phase: 'pending',
      currentStage: -1,
      nodes: plan.nodes.map((n) => ({ name: n.name, stage: stageOf.get(n.name) ?? 0, upgrade: { toVersion: plan.driverVersion, step: 'pending', drains: 0, log: [] } })),
      control: { approvedStages: [] },
      held: [],
      history: [],
      updatedAt: now,
    };
    const store = await createRollout(api, state);
    await this.o.audit?.({ action: 'rollout.create', outcome: 'succeeded', cluster: p.id, targets: plan.nodes.map((n) => ({ kind: 'Node', name: n.name })), params: { rollout: state.id, driverVersion: plan.driverVersion, stages: plan.stages.map((s) => s.nodes) } });
    await this.launch(p.id, store, executor);
    return { ...store.state, holder: { identity: this.identity, fresh: true } };
  }

  private async launch(id: string, store: RolloutStore, executor?: UpgradeExecutor, beforeDrive?: () => Promise<void>): Promise<void> {
    const runner = new RolloutRunner({
      api: this.api(id),
      store,
      executor: executor ?? this.executor(id, store.state.plan),
      clock: this.o.clock,
      identity: this.identity,
      ...(this.o.audit ? { audit: this.o.audit } : {}),
      ...(this.o.timing ? { timing: this.o.timing } : {}),
      onEvent: (e) => {
        const line = `${e.at} ${e.node ? `${e.node}: ` : ''}${e.message}`;
        this.o.onEvent?.(store.id, line);
        this.onLine?.(line);
      },
    });
    await runner.acquire();
    try {
      await beforeDrive?.();
    } catch (err) {
      await runner.release();
      throw err;
    }
    const key = runnerKey(id, store.id);
    const p = runner.drive().finally(() => {
      this.driving.delete(store.id);
      if (this.runners.get(key) === runner) this.runners.delete(key);
    });
    p.catch(() => undefined);
    this.driving.set(store.id, p);
    this.runners.set(key, runner);
  }

  async status(id: string, rollout: string): Promise<RolloutState> {
    const api = this.api(id);
    const [{ state }, holder, logs] = await Promise.all([readRollout(api, rollout), readHolder(api, rollout, this.o.clock), readLogs(api, rollout)]);
    return { ...mergeLogs(state, logs.logs), ...(holder ? { holder } : {}) };
  }

  async list(id: string): Promise<RolloutSummary[]> {
    return (await listRollouts(this.api(id))).map((r) => summarizeRollout(r.state, r.counts));
  }

  private async decide(id: string, rollout: string, action: string, mut: (s: RolloutState, driverAlive: boolean) => void, check: (s: RolloutState) => string | undefined): Promise<RolloutState> {
    // A decision is a write to the rollout's state ConfigMap; the driving console acts on it.
    await requireAccess((r) => this.o.cluster(id).canI(r), ACTION_NEEDS.rolloutDecide(), `${action} rollout ${rollout}`);
    const api = this.api(id);
    const store = await RolloutStore.open(api, rollout);
    const problem = check(store.state);
    if (problem) throw new TesseraError('INVALID_REQUEST', `cannot ${action} rollout ${rollout}: ${problem}`, { rollout, phase: store.state.phase });
    const holder = await readHolder(api, rollout, this.o.clock);
    const alive = holder?.fresh === true;
    try {
      await store.update((s) => {
        mut(s, alive);
        s.history.push({ at: new Date(this.o.clock.now()).toISOString(), kind: 'decision', message: `${action} requested by ${os.userInfo().username}@${os.hostname()}` });
      });
      await this.o.audit?.({ action: `rollout.${action}`, outcome: 'succeeded', cluster: id, targets: [{ kind: 'Rollout', namespace: ROLLOUT_NAMESPACE, name: rollout }], params: { phase: store.state.phase, driverAlive: alive } });
    } catch (err) {
      await this.o.audit?.({ action: `rollout.${action}`, outcome: 'failed', cluster: id, targets: [{ kind: 'Rollout', namespace: ROLLOUT_NAMESPACE, name: rollout }], error: err });
      throw err;
    }
    return { ...store.state, ...(holder ? { holder } : {}) };
  }

  pause(id: string, rollout: string): Promise<RolloutState> {
    return this.decide(
      id,
      rollout,
      'pause',
      (s, alive) => {
        if (alive) s.control.pause = true;
        else s.phase = 'paused';
      },
      (s) => (RUNNING.has(s.phase) || s.phase === 'pending' ? undefined : `it is ${s.phase}`),
    );
  }

  abort(id: string, rollout: string): Promise<RolloutState> {
    return this.decide(
      id,
      rollout,
      'abort',
      (s, alive) => {
        if (alive) s.control.abort = true;
        else {
          s.phase = 'aborted';
          s.reason = 'aborted on request (no console was driving it)';
        }
      },
      (s) => (FINAL_PHASES.includes(s.phase) ? `it is already ${s.phase}` : undefined),
    );
  }

  approve(id: string, rollout: string, stage: number): Promise<RolloutState> {
    return this.decide(
      id,
      rollout,
      'approve',
      (s) => {
        if (!s.control.approvedStages.includes(stage)) s.control.approvedStages.push(stage);
      },
      (s) => (stage >= s.plan.stages.length ? `it has no stage ${stage}` : FINAL_PHASES.includes(s.phase) ? `it is already ${s.phase}` : stage <= s.currentStage && s.phase !== 'waiting-approval' ? `stage ${stage} has already started` : undefined),
    );
  }

  /** Continues a paused rollout or takes over one whose driver is gone; refused while another console holds a fresh lease. */
  async resume(id: string, rollout: string): Promise<RolloutState> {
    // The state and lease writes every resume makes, before reading anything; the plan's own needs once it is read.
    await requireAccess((r) => this.o.cluster(id).canI(r), ACTION_NEEDS.rolloutResume(), `resume rollout ${rollout}`);
    const api = this.api(id);
    const store = await RolloutStore.open(api, rollout);
    if (FINAL_PHASES.includes(store.state.phase)) throw new TesseraError('INVALID_REQUEST', `cannot resume rollout ${rollout}: it is ${store.state.phase}`);
    // Resuming makes this console drive the rollout, so it needs what starting one needs.
    await this.checkAccess(id, store.state.plan, `resume rollout ${rollout}`);
    const holder = await readHolder(api, rollout, this.o.clock);
    if (holder?.fresh && store.state.phase !== 'paused') {
      throw new TesseraError('CONFLICT', `rollout ${rollout} is being driven by another console (${holder.identity}); its lease runs until ${holder.expiresAt}`, { rollout, holder: holder.identity, expiresAt: holder.expiresAt });
    }
    const wasPaused = store.state.phase === 'paused';
    await this.launch(id, store, undefined, async () => {
      if (wasPaused) {
        await store.update((s) => {
          s.phase = 'running';
          s.control.pause = false;
        });
      }
    });
    await this.o.audit?.({ action: 'rollout.resume', outcome: 'succeeded', cluster: id, targets: [{ kind: 'Rollout', namespace: ROLLOUT_NAMESPACE, name: rollout }], params: { phase: store.state.phase, tookOverFrom: holder?.identity ?? null } });
    return { ...store.state, holder: { identity: this.identity, fresh: true } };
  }

  async rollback(id: string, rollout: string): Promise<RolloutState> {
    const api = this.api(id);
    const holder = await readHolder(api, rollout, this.o.clock);
    const state = await this.decide(
      id,
      rollout,
      'rollback',
      (s, alive) => {
        s.control.rollback = true;
        s.control.pause = false;
        s.control.abort = false;
        if (!alive) s.phase = 'rolling-back';
      },
      (s) => (s.phase === 'rolled-back' ? 'it is already rolled back' : s.phase === 'rolling-back' ? 'it is already rolling back' : s.nodes.every((n) => n.upgrade.step === 'pending') ? 'no node was touched yet' : undefined),
    );
    if (holder?.fresh) return state;
    const store = await RolloutStore.open(api, rollout);
    await this.launch(id, store);
    return { ...store.state, holder: { identity: this.identity, fresh: true } };
  }

  /** Snapshots whenever the rollout or its holder changes, polled once a second (two small GETs, none while driven here). */
  watch(id: string, rollout: string, emit: (s: RolloutState) => void, intervalMs = 1000): () => void {
    let stopped = false;
    let last = '';
    let readAt: string | undefined;
    const holderSig = (h: RolloutState['holder']) => `${h?.identity ?? ''}|${h?.fresh ?? ''}`;
    const fromMemory = (runner: RolloutRunner) => {
      // Driven here: the runner holds the newest state and log lines, so a thousand-node rollout costs no reads.
      const view = runner.view();
      const sig = `local|${view.version}`;
      if (sig === last) return;
      last = sig;
      readAt = undefined;
      emit({ ...view.state, holder: { identity: this.identity, fresh: true } });
    };
    const fromCluster = async () => {
      // Only a console holding a fresh lease writes logs without touching the head, so while none does, an unchanged
      // head and lease mean an unchanged rollout: a finished or paused one of thousands of nodes costs two small reads.
      const [rv, holder] = await Promise.all([headVersion(this.api(id), rollout), readHolder(this.api(id), rollout, this.o.clock)]);
      const unchanged = rv !== undefined && rv === readAt && !holder?.fresh && last.endsWith(`|${holderSig(holder)}`);
      if (unchanged) return;
      const s = await this.status(id, rollout);
      readAt = rv;
      const sig = `${s.updatedAt}|${holderSig(s.holder)}`;
      if (sig === last) return;
      last = sig;
      emit(s);
    };
    const tick = async () => {
      if (stopped) return;
      try {
        const local = this.runners.get(runnerKey(id, rollout));
        if (local) fromMemory(local);
        else await fromCluster();
      } catch {
        // The next tick retries; a deleted rollout simply stops changing.
      }
      if (!stopped) this.o.clock.setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
    };
  }

  /** Waits for every drive this process runs (CLI exit, tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.driving.values()]);
  }
}

const runnerKey = (cluster: string, rollout: string) => `${cluster}\n${rollout}`;
