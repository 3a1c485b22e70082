import { parseArgs } from 'node:util';
import type { Core } from '../core/core.ts';
import type { RolloutPlan, RolloutState, RolloutSummary } from '../../shared/model/rollout.ts';
import { parseStageList } from '../../shared/rollout/stages.ts';
import type { RequestParams } from '../core/rollouts/rollout-service.ts';
import { table } from './format.ts';

export class RolloutUsageError extends Error {}

export const ROLLOUT_HELP = `  tessera rollout plan|start --version V (--nodes A,B | --selector K=V | --pool PRODUCT) [--canary N] [--stages 2,50%]
        [--max-unavailable M] [--pause none|approval|SECONDS] [--tolerate K] [--no-auto-rollback]
        [--drain-timeout S] [--upgrade-timeout S] [--stall-timeout S] [--lease S] [--name N] [--kubeconfig F] [--context C] [--json]
  tessera rollout status|pause|resume|abort|rollback ID | rollout approve ID --stage N | rollout list   [--kubeconfig F] [--context C] [--json]
      Driver rollouts through the GPU Operator in stages, with health gates and staged rollback.
      start, resume and rollback drive the rollout from this process until it ends or pauses.`;

export interface RolloutCliDeps {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => Promise<T>;
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new RolloutUsageError(`--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

function requestFrom(values: Record<string, string | boolean | undefined>, id: string): RequestParams {
  const list = (v: unknown) => String(v).split(',').map((x) => x.trim()).filter(Boolean);
  const targets = values.nodes !== undefined ? { nodes: list(values.nodes) } : values.selector !== undefined ? { selector: String(values.selector) } : values.pool !== undefined ? { pool: String(values.pool) } : undefined;
  if (!targets) throw new RolloutUsageError('say which nodes: --nodes A,B or --selector K=V or --pool PRODUCT');
  if (!values.version) throw new RolloutUsageError('--version V is required (the target driver version, e.g. 550.127.05)');
  let stages;
  try {
    stages = parseStageList(String(values.stages ?? ''));
  } catch (err) {
    throw new RolloutUsageError(`--stages: ${(err as Error).message}`);
  }
  const p = String(values.pause ?? 'none');
  const pause = p === 'none' ? { kind: 'none' as const } : p === 'approval' ? { kind: 'approval' as const } : { kind: 'duration' as const, seconds: num('pause', p)! };
  const opt = (k: string, flag: string) => num(flag, values[k] as string | undefined);
  const req: RequestParams = {
    id,
    targets,
    driverVersion: String(values.version),
    executor: { kind: values.executor === 'ssh' ? 'ssh' : 'gpu-operator' },
    stages,
    pause,
    ...(values.name ? { name: String(values.name) } : {}),
    ...(values['no-auto-rollback'] ? { autoRollback: false } : {}),
  };
  const numbers: [keyof RequestParams, string][] = [
    ['canary', 'canary'],
    ['maxUnavailable', 'max-unavailable'],
    ['tolerateFailures', 'tolerate'],
    ['drainTimeoutSeconds', 'drain-timeout'],
    ['upgradeTimeoutSeconds', 'upgrade-timeout'],
    ['stallTimeoutSeconds', 'stall-timeout'],
    ['leaseSeconds', 'lease'],
  ];
  for (const [key, flag] of numbers) {
    const v = opt(flag, flag);
    if (v !== undefined) (req as unknown as Record<string, number>)[key] = v;
  }
  return req;
}

export function planText(p: RolloutPlan): string {
  const lines = [`driver ${p.driverVersion} via ${p.executor.kind}: ${p.nodes.length} node(s) in ${p.stages.length} stage(s)`, ''];
  const byName = new Map(p.nodes.map((n) => [n.name, n]));
  lines.push(
    table(
      ['STAGE', 'NODE', 'FROM', 'CORDONED', 'EVICTS', 'BLOCKING PDB'],
      p.stages.flatMap((st) =>
        st.nodes.map((n) => {
          const pn = byName.get(n)!;
          const blocking = p.blockingPdbs.filter((b) => b.nodes.includes(n)).map((b) => `${b.namespace}/${b.name}`);
          return [`${st.index} ${st.label}`, n, pn.currentVersion ?? '?', pn.cordoned ? 'yes' : '', String(pn.evictions.length), blocking.join(',')];
        }),
      ),
    ),
  );
  if (p.skipped.length) lines.push('', 'skipped:', ...p.skipped.map((s) => `  ${s.name}: ${s.detail}`));
  if (p.warnings.length) lines.push('', ...p.warnings.map((w) => `warning: ${w}`));
  if (p.blockers?.length) lines.push('', ...p.blockers.map((b) => `cannot start: ${b}`));
  return lines.join('\n');
}

export function stateText(s: RolloutState): string {
  const lines = [`${s.id} (${s.name}): ${s.phase}${s.reason ? ` - ${s.reason}` : ''}`, `driver ${s.plan.driverVersion}, stage ${Math.max(0, s.currentStage)}/${s.plan.stages.length}${s.holder ? `, driven by ${s.holder.identity}${s.holder.fresh ? '' : ' (lease expired)'}` : ''}`, ''];
  lines.push(
    table(
      ['STAGE', 'NODE', 'FROM', 'UPGRADE', 'ROLLBACK', 'ERROR'],
      s.nodes.map((n) => [String(n.stage), n.name, n.before?.version ?? '?', n.upgrade.step, n.rollback?.step ?? '', n.rollback?.error ?? n.upgrade.error ?? '']),
    ),
  );
  return lines.join('\n');
}

function listText(rows: RolloutSummary[]): string {
  if (!rows.length) return 'no rollouts';
  return table(
    ['ID', 'PHASE', 'DRIVER', 'STAGE', 'NODES DONE', 'FAILED', 'CREATED'],
    rows.map((r) => [r.id, r.phase, r.driverVersion, `${Math.max(0, r.currentStage)}/${r.stages}`, `${r.nodes.done}/${r.nodes.total}`, String(r.nodes.failed), r.createdAt]),
  );
}

/** `tessera rollout …`: the same service the console uses; start/resume/rollback drive from this process. */
export async function rolloutCommand(args: string[], deps: RolloutCliDeps): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      json: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      selector: { type: 'string' },
      pool: { type: 'string' },
      version: { type: 'string' },
      executor: { type: 'string' },
      canary: { type: 'string' },
      stages: { type: 'string' },
      'max-unavailable': { type: 'string' },
      pause: { type: 'string' },
      tolerate: { type: 'string' },
      'no-auto-rollback': { type: 'boolean' },
      'drain-timeout': { type: 'string' },
      'upgrade-timeout': { type: 'string' },
      'stall-timeout': { type: 'string' },
      lease: { type: 'string' },
      name: { type: 'string' },
      stage: { type: 'string' },
    },
    strict: true,
  });
  const print = (value: unknown, text: string) => deps.out.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  const rolloutArg = () => {
    if (positionals.length !== 1) throw new RolloutUsageError(`usage: tessera rollout ${sub} ID`);
    return positionals[0]!;
  };
  const drive = async (core: Core, state: RolloutState): Promise<number> => {
    const running = core.rollouts.drivingPromise(state.id);
    deps.err.write(`driving rollout ${state.id} (Ctrl+C pauses it after the nodes in flight)\n`);
    let interrupted = 0;
    const onInt = () => {
      if (++interrupted > 1) process.exit(130);
      deps.err.write('pausing after the nodes in flight; Ctrl+C again to leave now (the lease then expires and another console can take over)\n');
      void core.rollouts.pause(state.cluster, state.id).catch(() => undefined);
    };
    process.on('SIGINT', onInt);
    // Core's timers are unref'd so they never hold a window or server open; this process exists to drive, so it holds itself.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      const final = running ? await running : state;
      print(final, stateText(final));
      return final.phase === 'succeeded' || final.phase === 'rolled-back' || final.phase === 'paused' || final.phase === 'waiting-approval' ? 0 : 1;
    } finally {
      clearInterval(keepAlive);
      process.off('SIGINT', onInt);
    }
  };
  const withTarget = <T>(fn: (core: Core, id: string) => Promise<T>) => deps.withTarget(values.kubeconfig, values.context, fn);

  switch (sub) {
    case 'plan':
      return withTarget(async (core, id) => {
        const plan = await core.rollouts.plan(requestFrom(values, id));
        print(plan, planText(plan));
        return 0;
      });
    case 'start':
      return withTarget(async (core, id) => {
        core.rollouts.onLine = (line) => deps.err.write(`${line}\n`);
        const state = await core.rollouts.start(requestFrom(values, id));
        deps.err.write(`rollout ${state.id} started\n`);
        return drive(core, state);
      });
    case 'resume':
    case 'rollback':
      return withTarget(async (core, id) => {
        core.rollouts.onLine = (line) => deps.err.write(`${line}\n`);
        const state = sub === 'resume' ? await core.rollouts.resume(id, rolloutArg()) : await core.rollouts.rollback(id, rolloutArg());
        if (!core.rollouts.drivingPromise(state.id)) {
          // Another console drives it and will act on the request.
          print(state, stateText(state));
          return 0;
        }
        return drive(core, state);
      });
    case 'status':
      return withTarget(async (core, id) => {
        const s = await core.rollouts.status(id, rolloutArg());
        print(s, stateText(s));
        return 0;
      });
    case 'pause':
    case 'abort':
      return withTarget(async (core, id) => {
        const s = sub === 'pause' ? await core.rollouts.pause(id, rolloutArg()) : await core.rollouts.abort(id, rolloutArg());
        print(s, `${sub} requested for ${s.id} (${s.phase})`);
        return 0;
      });
    case 'approve':
      return withTarget(async (core, id) => {
        const stage = num('stage', values.stage);
        if (stage === undefined) throw new RolloutUsageError('usage: tessera rollout approve ID --stage N');
        const s = await core.rollouts.approve(id, rolloutArg(), stage);
        print(s, `stage ${stage} of ${s.id} approved`);
        return 0;
      });
    case 'list':
      return withTarget(async (core, id) => {
        const rows = await core.rollouts.list(id);
        print(rows, listText(rows));
        return 0;
      });
    default:
      throw new RolloutUsageError(`usage: tessera rollout plan|start|status|pause|resume|approve|abort|rollback|list (got "${sub ?? ''}")`);
  }
}
