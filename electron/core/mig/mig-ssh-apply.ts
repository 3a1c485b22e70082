/**
 * Applies a MIG layout to GPUs of a host without the GPU Operator, over SSH,
 * with the nvidia-smi sequence an admin would type: read the current state,
 * check the plan against the geometry engine, enable MIG mode (and reset the
 * GPU when the mode stays pending), destroy the old compute and GPU
 * instances, create the new ones at their placements, and read the result
 * back. Every command is a named operation from the SSH command registry.
 *
 * Safety: nothing changes until the whole plan is valid on every GPU and no
 * process uses a target GPU (unless forced); the run stops at the first step
 * that fails, keeping that step's output; an abort signal stops it between
 * steps, never in the middle of a command that changes the GPU.
 */
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import { MIG_MODELS, migModelFor } from '../../../shared/gpu/mig-geometry.ts';
import type { MigModel } from '../../../shared/gpu/mig-geometry.ts';
import { validateLayout } from '../../../shared/gpu/mig-layout.ts';
import type { LayoutDiff, LayoutItem } from '../../../shared/gpu/mig-layout.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { GpuReport } from '../gpu/gpu-report.ts';
import { parseMigLgi, parseMigLgip } from '../gpu/mig-tables.ts';
import { parseSmiList } from '../gpu/smi-list.ts';
import { runOperation } from '../ssh/remote-command.ts';
import type { CommandResult } from '../ssh/remote-command.ts';
import type { CommandRegistry } from '../ssh/command-registry.ts';
import { targetLabel } from '../ssh/ssh-endpoint.ts';
import type { SshTarget } from '../ssh/ssh-endpoint.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import { cgiPlacements, diffLayouts, errorLines, formatLayout, parseCgiOutput, parseComputeApps, parseMigModeCsv, sameLayout } from './mig-ssh-parse.ts';
import type { GpuProcess, InstanceOnGpu, MigModeRow } from './mig-ssh-parse.ts';

export interface MigSshPlan {
  /** GPU indexes on the host; each gets the same layout. */
  gpus: number[];
  /** GPU instances (profile at a memory-slice start); [] means MIG enabled with no instances. */
  layout: LayoutItem[];
  /** The GPU model the plan was made for (a geometry key such as "A100-80GB", or a product name): lets the plan be checked before anything runs. */
  model?: string;
}

export interface MigSshApplyOptions {
  pool: SshPool;
  target: SshTarget;
  plan: MigSshPlan;
  /** Go on although processes use a target GPU (nvidia-smi itself may still refuse). */
  force?: boolean;
  sudo?: { password?: string };
  signal?: AbortSignal;
  onStep?: (step: MigSshStep, phase: 'start' | 'end') => void;
  /** The audit trail's record(); every apply that gets past its checks is recorded. */
  record?: (input: AuditInput) => Promise<unknown>;
  registry?: CommandRegistry;
}

export type MigSshStepName =
  | 'read-devices'
  | 'read-mig-mode'
  | 'read-instances'
  | 'read-processes'
  | 'enable-mig'
  | 'reset-gpu'
  | 'read-profiles'
  | 'destroy-compute-instances'
  | 'destroy-gpu-instances'
  | 'create-gpu-instances'
  | 'read-back';

export interface MigSshStep {
  index: number;
  name: MigSshStepName;
  gpu?: number;
  operation: string;
  /** The command line as run (never a password). */
  command: string;
  exitCode: number | null;
  durationMs: number;
  ok: boolean;
  /** stdout then stderr, cut to a few KiB. */
  output: string;
  /** What Tessera read from the output. */
  parsed?: unknown;
  /** Why the step failed, in nvidia-smi's words where it gave any. */
  message?: string;
}

export interface GpuMigState {
  index: number;
  uuid: string | null;
  product: string | null;
  /** Geometry key (mig-geometry.ts), or null for a GPU without MIG. */
  model: string | null;
  mode: { current: string | null; pending: string | null };
  instances: InstanceOnGpu[];
  /** MIG devices (compute instances) `nvidia-smi -L` lists under this GPU: a GPU instance without one is unusable. */
  migDevices: number;
}

export type MigSshRefusal =
  | 'invalid-request'
  | 'unknown-model'
  | 'invalid-plan'
  | 'unknown-gpu'
  | 'not-mig-capable'
  | 'model-mismatch'
  | 'processes-running'
  | 'read-failed';

export interface MigSshResult {
  ok: boolean;
  target: string;
  plan: MigSshPlan;
  /** Set when the apply was refused before any change; problems say why. */
  refused?: { reason: MigSshRefusal; problems: string[]; processes?: GpuProcess[] };
  /** Nothing needed changing: the GPUs already had the layout. */
  unchanged?: boolean;
  aborted?: boolean;
  /** The step that failed and what it said. */
  failed?: { step: MigSshStepName; gpu?: number; message: string; output: string };
  steps: MigSshStep[];
  before: GpuMigState[];
  /** Read back at the end (after a failure too, when the host still answers); null when never read. */
  after: GpuMigState[] | null;
  /** Per GPU, read-back against the plan: removed = there but not planned, added = planned but missing. */
  diff: { gpu: number; diff: LayoutDiff<LayoutItem> }[];
}

const OUTPUT_KEEP = 4096;
const PROFILE_NAME = /^(\d+c\.)?\d+g\.\d+gb(\+me|\+me\.all|\+gfx|-me)?$/;

class StepFailed extends Error {
  constructor(readonly step: MigSshStep) {
    super(step.message ?? step.name);
  }
}
class Aborted extends Error {}

/** Checks the plan's shape: indexes and starts are small integers, profile names look like profile names. Throws INVALID_REQUEST. */
export function checkPlanShape(plan: MigSshPlan): void {
  const bad = (msg: string): never => {
    throw new TesseraError('INVALID_REQUEST', msg);
  };
  if (!plan || typeof plan !== 'object') bad('a MIG plan is required');
  if (!Array.isArray(plan.gpus) || plan.gpus.length === 0) bad('the plan names no GPU');
  for (const g of plan.gpus) if (!Number.isInteger(g) || g < 0 || g > 999) bad(`GPU index ${JSON.stringify(g)} is not a whole number from 0 to 999`);
  if (new Set(plan.gpus).size !== plan.gpus.length) bad('the plan names a GPU twice');
  if (!Array.isArray(plan.layout)) bad('the plan has no layout');
  if (plan.layout.length > 16) bad(`a GPU holds at most 7 instances; the layout has ${plan.layout.length}`);
  for (const item of plan.layout) {
    if (!item || typeof item.profile !== 'string' || !PROFILE_NAME.test(item.profile)) bad(`${JSON.stringify(item?.profile)} is not a MIG profile name (e.g. 3g.40gb)`);
    if (!Number.isInteger(item.start) || item.start < 0 || item.start > 15) bad(`${item.profile}@${JSON.stringify(item.start)}: the start must be a memory-slice index`);
  }
  if (plan.model !== undefined && typeof plan.model !== 'string') bad('the plan\u2019s model must be a string');
}

function modelByName(name: string): MigModel | undefined {
  return MIG_MODELS.find((m) => m.key.toLowerCase() === name.toLowerCase()) ?? migModelFor(name);
}

export async function applyMigOverSsh(opts: MigSshApplyOptions): Promise<MigSshResult> {
  const { pool, target, plan } = opts;
  const label = targetLabel(target);
  const steps: MigSshStep[] = [];
  const result = (r: Partial<MigSshResult> & { ok: boolean }): MigSshResult => ({ target: label, plan, steps, before: [], after: null, diff: [], ...r });
  const refuse = (reason: MigSshRefusal, problems: string[], extra: Partial<MigSshResult> = {}): MigSshResult => result({ ok: false, refused: { reason, problems }, ...extra });

  // 1. Everything that can be checked without the host, before any command runs.
  try {
    checkPlanShape(plan);
  } catch (err) {
    return refuse('invalid-request', [toErrorShape(err).message]);
  }
  if (plan.model !== undefined) {
    const model = modelByName(plan.model);
    if (!model) return refuse('unknown-model', [`"${plan.model}" is not a GPU model with MIG (known: ${MIG_MODELS.map((m) => m.key).join(', ')}).`]);
    const v = validateLayout(model, plan.layout);
    if (!v.ok) return refuse('invalid-plan', v.problems.map((p) => p.message));
  }

  /**
   * One step: runs the operation, keeps its output, parses it, and fails it on
   * an exit status outside okCodes or when `check` finds the answer wrong
   * (before the step is reported as ended, so listeners see the verdict).
   */
  const run = async (
    name: MigSshStepName,
    operation: string,
    args: Record<string, string>,
    gpu: number | undefined,
    okCodes: readonly number[],
    parse?: (r: CommandResult) => unknown,
    check?: (r: CommandResult) => string | null,
  ): Promise<CommandResult> => {
    if (opts.signal?.aborted) throw new Aborted();
    const step: MigSshStep = { index: steps.length, name, ...(gpu !== undefined ? { gpu } : {}), operation, command: '', exitCode: null, durationMs: 0, ok: false, output: '' };
    steps.push(step);
    opts.onStep?.(step, 'start');
    let r: CommandResult;
    const started = performance.now();
    try {
      // No abort signal here: killing nvidia-smi halfway through a change is what "stop between steps" avoids.
      r = await pool.use(target, (conn) => runOperation(conn, operation, { args, ...(opts.sudo ? { sudo: opts.sudo } : {}), ...(opts.registry ? { registry: opts.registry } : {}) }));
    } catch (err) {
      step.durationMs = Math.round(performance.now() - started);
      step.message = toErrorShape(err).message;
      opts.onStep?.(step, 'end');
      throw new StepFailed(step);
    }
    step.command = r.command;
    step.exitCode = r.exitCode;
    step.durationMs = r.durationMs;
    step.output = (r.stdout + r.stderr).slice(0, OUTPUT_KEEP);
    step.ok = r.exitCode !== null && okCodes.includes(r.exitCode);
    if (step.ok && parse) step.parsed = parse(r);
    if (!step.ok) step.message = `${operation} exited with status ${r.exitCode ?? r.signal}: ${errorLines(r.stdout + '\n' + r.stderr).join(' ')}`;
    const wrong = step.ok && check ? check(r) : null;
    if (wrong) {
      step.ok = false;
      step.message = wrong;
    }
    opts.onStep?.(step, 'end');
    if (!step.ok) throw new StepFailed(step);
    return r;
  };

  const readState = async (phase: 'read-instances' | 'read-back'): Promise<{ states: GpuMigState[]; devices: GpuReport }> => {
    const list = parseSmiList((await run(phase === 'read-back' ? 'read-back' : 'read-devices', 'nvidia-smi.list', {}, undefined, [0], (r) => parseSmiList(r.stdout).gpus.map((g) => ({ index: g.index, product: g.product, uuid: g.uuid, migDevices: g.migDevices?.length ?? 0 })))).stdout);
    const modes = parseMigModeCsv((await run(phase === 'read-back' ? 'read-back' : 'read-mig-mode', 'nvidia-smi.mig-mode-query', {}, undefined, [0], (r) => parseMigModeCsv(r.stdout))).stdout);
    const states: GpuMigState[] = [];
    for (const index of plan.gpus) {
      const gpu = list.gpus.find((g) => g.index === index);
      const mode = modes.find((m) => m.index === index);
      if (!gpu) continue;
      const model = migModelFor(gpu.product ?? undefined);
      const state: GpuMigState = {
        index,
        uuid: gpu.uuid,
        product: gpu.product,
        model: model?.key ?? null,
        mode: { current: mode?.current ?? null, pending: mode?.pending ?? null },
        instances: [],
        migDevices: gpu.migDevices?.length ?? 0,
      };
      if (state.mode.current === 'Enabled') state.instances = await readInstances(phase, index);
      states.push(state);
    }
    return { states, devices: list };
  };

  const readInstances = async (name: 'read-instances' | 'read-back', gpu: number): Promise<InstanceOnGpu[]> => {
    // Exit 6 with "No GPU instances found" is the empty answer, not a failure.
    const r = await run(name, 'nvidia-smi.mig-lgi', { gpu: String(gpu) }, gpu, [0, 6], (x) => instancesOf(x.stdout, gpu));
    return instancesOf(r.stdout, gpu);
  };

  // 2. Read the host.
  let before: GpuMigState[];
  let processes: GpuProcess[];
  let devices: GpuReport;
  try {
    ({ states: before, devices } = await readState('read-instances'));
    processes = parseComputeApps((await run('read-processes', 'nvidia-smi.compute-apps', {}, undefined, [0], (r) => parseComputeApps(r.stdout))).stdout);
  } catch (err) {
    if (err instanceof Aborted) return result({ ok: false, aborted: true });
    if (err instanceof StepFailed) return refuse('read-failed', [err.step.message ?? 'reading the GPUs failed'], { failed: failure(err.step) });
    throw err;
  }

  // 3. Check the plan against what the host has.
  const problems: string[] = [];
  for (const index of plan.gpus) {
    const g = before.find((s) => s.index === index);
    if (!g) problems.push(`GPU ${index}: the host has no such GPU (it has ${devices.gpus.map((d) => d.index).join(', ') || 'none'}).`);
  }
  if (problems.length) return refuse('unknown-gpu', problems, { before });
  for (const g of before) {
    if (!g.model) problems.push(`GPU ${g.index} (${g.product ?? 'unknown product'}) does not support MIG.`);
  }
  if (problems.length) return refuse('not-mig-capable', problems, { before });
  if (plan.model !== undefined) {
    const want = modelByName(plan.model)!;
    for (const g of before) if (g.model !== want.key) problems.push(`GPU ${g.index} is ${g.product} (${g.model}), but the plan was made for ${want.label}.`);
    if (problems.length) return refuse('model-mismatch', problems, { before });
  }
  for (const g of before) {
    const v = validateLayout(modelByName(g.model!)!, plan.layout);
    problems.push(...v.problems.map((p) => `GPU ${g.index}: ${p.message}`));
  }
  if (problems.length) return refuse('invalid-plan', problems, { before });
  const migUuidsOf = (index: number): string[] => devices.gpus.find((d) => d.index === index)?.migDevices?.map((m) => m.uuid ?? '').filter(Boolean) ?? [];
  const onTargets = processes.filter((p) => before.some((g) => g.uuid === p.gpuUuid || migUuidsOf(g.index).includes(p.gpuUuid)));
  if (onTargets.length && !opts.force) {
    const gpuOf = (p: GpuProcess) => before.find((g) => g.uuid === p.gpuUuid || migUuidsOf(g.index).includes(p.gpuUuid))?.index;
    const r = refuse(
      'processes-running',
      onTargets.map((p) => `process ${p.pid} uses GPU ${gpuOf(p)}${p.usedMiB !== null ? ` (${p.usedMiB} MiB)` : ''}; stop it first, or force the apply.`),
      { before },
    );
    r.refused!.processes = onTargets;
    return r;
  }

  const done = (g: GpuMigState): boolean => g.mode.current === 'Enabled' && g.mode.pending === 'Enabled' && sameLayout(g.instances, plan.layout) && g.migDevices === plan.layout.length;
  const work = before.filter((g) => !done(g));
  const audit = { action: 'mig.ssh.apply', targets: [{ kind: 'SshHost', name: label }, ...plan.gpus.map((g) => ({ kind: 'GPU', name: `${label}#${g}` }))], params: { gpus: plan.gpus, layout: formatLayout(plan.layout), force: !!opts.force } };
  const layoutsOf = (states: readonly GpuMigState[] | null) => states?.map((g) => ({ gpu: g.index, mig: g.mode.current, layout: formatLayout(g.instances) })) ?? null;
  if (work.length === 0) {
    await opts.record?.({ ...audit, outcome: 'succeeded', before: layoutsOf(before), after: layoutsOf(before), params: { ...audit.params, unchanged: true } });
    return result({ ok: true, unchanged: true, before, after: before, diff: before.map((g) => ({ gpu: g.index, diff: diffLayouts(g.instances, plan.layout) })) });
  }

  // 4. Change the GPUs, one at a time, stopping at the first failure.
  const correlationId = `mig-ssh-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const t0 = performance.now();
  await opts.record?.({ ...audit, outcome: 'started', correlationId, before: layoutsOf(before) });
  let failedStep: MigSshStep | null = null;
  let aborted = false;
  try {
    for (const g of work) await applyOne(g);
  } catch (err) {
    if (err instanceof Aborted) aborted = true;
    else if (err instanceof StepFailed) failedStep = err.step;
    else throw err;
  }

  // 5. Read back (also after a failure: the caller must see where the GPUs stand). Not after an abort: the user asked to stop.
  let after: GpuMigState[] | null = null;
  if (!aborted) {
    try {
      after = (await readState('read-back')).states;
    } catch (err) {
      if (!(err instanceof StepFailed || err instanceof Aborted)) throw err;
      failedStep ??= err instanceof StepFailed ? err.step : null;
    }
  }
  const diff = (after ?? []).map((g) => ({ gpu: g.index, diff: diffLayouts(g.instances, plan.layout) }));
  const matches = after !== null && after.length === plan.gpus.length && after.every(done);
  const ok = !aborted && !failedStep && matches;
  const out = result({ ok, before, after, diff, ...(aborted ? { aborted } : {}) });
  if (failedStep) out.failed = failure(failedStep);
  else if (!ok && !aborted) {
    const why = (after ?? []).filter((g) => !done(g)).map((g) => {
      const d = diffLayouts(g.instances, plan.layout);
      if (g.mode.current !== 'Enabled') return `GPU ${g.index}: MIG mode is ${g.mode.current ?? 'unknown'}`;
      if (d.added.length || d.removed.length) return `GPU ${g.index}: missing ${formatLayout(d.added)}, unexpected ${formatLayout(d.removed)}`;
      return `GPU ${g.index}: ${g.migDevices} of ${g.instances.length} GPU instances have a compute instance`;
    });
    out.failed = { step: 'read-back', message: `what was read back differs from the plan: ${why.join('; ') || 'a GPU is missing from the read-back'}`, output: '' };
  }
  await opts.record?.({
    ...audit,
    outcome: aborted ? 'cancelled' : ok ? 'succeeded' : 'failed',
    correlationId,
    durationMs: Math.round(performance.now() - t0),
    before: layoutsOf(before),
    after: layoutsOf(after),
    ...(out.failed ? { error: { code: 'COMMAND_FAILED', message: `${out.failed.step}: ${out.failed.message}` } } : {}),
  });
  return out;

  async function applyOne(g: GpuMigState): Promise<void> {
    const gpu = String(g.index);
    const model = modelByName(g.model!)!;
    if (g.mode.current !== 'Enabled') {
      if (g.mode.pending !== 'Enabled') await run('enable-mig', 'nvidia-smi.mig-mode', { gpu, mode: '1' }, g.index, [0]);
      const mode = await readMode(g.index);
      if (mode?.current !== 'Enabled') {
        // The mode is pending: the GPU must be reset (nvidia-smi refuses while processes hold it).
        await run('reset-gpu', 'nvidia-smi.gpu-reset', { gpu }, g.index, [0]);
        await readMode(g.index, (m) =>
          m?.current === 'Enabled' ? null : `MIG mode on GPU ${g.index} is still ${m?.current ?? 'unknown'} (pending ${m?.pending ?? 'unknown'}) after a GPU reset: the host needs a reboot.`,
        );
      }
    }
    // Profile IDs are per device: take them from the driver, which also says which profiles it offers at all.
    const idsOf = (text: string): Map<string, number> => {
      const ids = new Map<string, number>();
      for (const p of parseMigLgip(text).gpus.find((x) => x.index === g.index)?.profiles ?? []) if (p.name && p.id !== null) ids.set(p.name, p.id);
      return ids;
    };
    const lgip = await run(
      'read-profiles',
      'nvidia-smi.mig-lgip',
      { gpu },
      g.index,
      [0],
      (r) => Object.fromEntries(idsOf(r.stdout)),
      (r) => {
        const ids = idsOf(r.stdout);
        const missing = [...new Set(plan.layout.filter((i) => !ids.has(i.profile)).map((i) => i.profile))];
        return missing.length ? `the driver on GPU ${g.index} does not offer ${missing.join(', ')} (it offers ${[...ids.keys()].join(', ') || 'none'}).` : null;
      },
    );
    const ids = idsOf(lgip.stdout);
    if (g.instances.length > 0 && g.mode.current === 'Enabled') {
      // Exit 6 ("No compute instances found") only means there was nothing to destroy.
      await run('destroy-compute-instances', 'nvidia-smi.mig-dci', { gpu }, g.index, [0, 6]);
      await run('destroy-gpu-instances', 'nvidia-smi.mig-dgi', { gpu }, g.index, [0, 6]);
    }
    if (plan.layout.length === 0) return;
    const placements = cgiPlacements(model, plan.layout, ids);
    await run(
      'create-gpu-instances',
      'nvidia-smi.mig-cgi',
      { gpu, placements },
      g.index,
      [0],
      (r) => parseCgiOutput(r.stdout).created,
      (r) => {
        const created = parseCgiOutput(r.stdout).created.filter((c) => c.gpu === g.index);
        const noCi = created.some((c) => c.computeInstanceId === undefined);
        return created.length !== plan.layout.length || noCi
          ? `nvidia-smi reported ${created.length} of ${plan.layout.length} GPU instances created on GPU ${g.index}${noCi ? ', some without a compute instance' : ''}.`
          : null;
      },
    );
  }

  async function readMode(index: number, check?: (m: MigModeRow | undefined) => string | null): Promise<MigModeRow | undefined> {
    const find = (text: string) => parseMigModeCsv(text).find((m) => m.index === index);
    const r = await run('read-mig-mode', 'nvidia-smi.mig-mode-query', {}, index, [0], (x) => find(x.stdout), check ? (x) => check(find(x.stdout)) : undefined);
    return find(r.stdout);
  }
}

function instancesOf(lgiText: string, gpu: number): InstanceOnGpu[] {
  const g = parseMigLgi(lgiText).gpus.find((x) => x.index === gpu);
  return (g?.migDevices ?? [])
    .filter((d) => d.profile !== null && d.placement !== null)
    .map((d) => ({ profile: d.profile!, start: d.placement!.start, size: d.placement!.size, profileId: d.profileId, gpuInstanceId: d.gpuInstanceId }))
    .sort((a, b) => a.start - b.start);
}

function failure(step: MigSshStep): NonNullable<MigSshResult['failed']> {
  return { step: step.name, ...(step.gpu !== undefined ? { gpu: step.gpu } : {}), message: step.message ?? `${step.operation} failed`, output: step.output };
}

/**
 * Plans that put the GPUs back as they were before an apply (grouped by
 * identical layout). A GPU whose MIG mode was off comes back with MIG on and
 * no instances: turning MIG mode off is not part of this sequence.
 */
export function previousPlans(r: Pick<MigSshResult, 'before'>): MigSshPlan[] {
  const groups = new Map<string, MigSshPlan>();
  for (const g of r.before) {
    const layout = g.instances.map((i) => ({ profile: i.profile, start: i.start }));
    const key = `${g.model}|${formatLayout(layout)}`;
    const plan = groups.get(key) ?? { gpus: [], layout, ...(g.model ? { model: g.model } : {}) };
    plan.gpus.push(g.index);
    groups.set(key, plan);
  }
  return [...groups.values()];
}
