/**
 * `tessera mig validate|plan|apply|status`. validate and plan are pure
 * geometry (no cluster); apply and status go through the same MigService the
 * console uses.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { TesseraError } from '../../shared/contract/errors.ts';
import { migModelFor, type MigModel } from '../../shared/gpu/mig-geometry.ts';
import { autoPlace, validateLayout, type LayoutItem } from '../../shared/gpu/mig-layout.ts';
import { fromMigParted } from '../../shared/gpu/mig-parted.ts';
import type { MigApplyJob } from '../../shared/model/mig.ts';
import type { Core } from '../core/core.ts';

export class MigUsageError extends Error {}

export const MIG_HELP = `  tessera mig validate --gpu PRODUCT --layout "3g.40gb@0,2g.20gb@4,1g.10gb@6" [--json]
      Check a layout against the GPU's MIG geometry; exit 0 when valid, 1 with the reasons.
  tessera mig plan --gpu PRODUCT PROFILE... [--json]
      Place the profiles on one GPU, or say why they do not fit.
  tessera mig apply [--kubeconfig F] [--context C] --nodes a,b --config NAME|FILE [--max-parallel N]
                    [--drain] [--point-policy] [--timeout S] [--yes] [--json]
      Apply a MIG manager config (or a mig-parted file, saved into Tessera's ConfigMap) to nodes.
  tessera mig apply-ssh --host HOST-ID --gpus 0,1 --layout "3g.40gb@0,2g.20gb@4" [--force] [--json]
      Apply a layout over SSH to a host of the Hosts list (nvidia-smi), then read it back.
  tessera mig status [--kubeconfig F] [--context C] [--json]
      mig.config and mig.config.state of every MIG-capable node.`;

export interface MigCliDeps {
  withCore<T>(fn: (core: Core) => Promise<T>): Promise<T>;
  withTarget<T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, clusterId: string) => Promise<T>): Promise<T>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

function modelOf(gpu: string | undefined): MigModel {
  if (!gpu) throw new MigUsageError('--gpu PRODUCT is required (for example --gpu "NVIDIA A100-SXM4-80GB")');
  const model = migModelFor(gpu);
  if (!model) throw new TesseraError('INVALID_REQUEST', `"${gpu}" is not a MIG-capable GPU Tessera knows (A100 40/80GB, H100, H100 NVL, H200, A30)`);
  return model;
}

export function parseLayout(text: string): LayoutItem[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^([^@\s]+)@(\d+)$/.exec(part);
      if (!m) throw new MigUsageError(`"${part}" is not PROFILE@START (for example 3g.40gb@0)`);
      return { profile: m[1]!, start: Number(m[2]) };
    });
}

const write = (s: NodeJS.WritableStream, json: boolean, value: unknown, text: string) => s.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);

export async function migCommand(argv: string[], deps: MigCliDeps): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: sub === 'plan',
    strict: true,
    options: {
      gpu: { type: 'string' },
      layout: { type: 'string' },
      json: { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      nodes: { type: 'string' },
      config: { type: 'string' },
      'max-parallel': { type: 'string', default: '1' },
      drain: { type: 'boolean', default: false },
      'point-policy': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      yes: { type: 'boolean', default: false },
      host: { type: 'string' },
      gpus: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  switch (sub) {
    case 'validate': {
      const model = modelOf(values.gpu);
      if (values.layout === undefined) throw new MigUsageError('--layout "PROFILE@START,..." is required');
      const layout = parseLayout(values.layout);
      const v = validateLayout(model, layout);
      write(deps.out, values.json, { gpu: model.label, layout, valid: v.ok, problems: v.problems }, v.ok ? `valid on ${model.label}` : v.problems.map((p) => `invalid: ${p.message}`).join('\n'));
      return v.ok ? 0 : 1;
    }
    case 'plan': {
      const model = modelOf(values.gpu);
      if (positionals.length === 0) throw new MigUsageError('name at least one profile, e.g. tessera mig plan --gpu "A100 80GB" 3g.40gb 2g.20gb');
      const counts: Record<string, number> = {};
      for (const p of positionals) counts[p] = (counts[p] ?? 0) + 1;
      const r = autoPlace(model, counts);
      const text = r.ok ? r.placements.map((p) => `${p.profile}@${p.start}`).join(',') : `no placement: ${r.reason}`;
      write(deps.out, values.json, r.ok ? { gpu: model.label, ok: true, placements: r.placements } : { gpu: model.label, ok: false, reason: r.reason }, text);
      return r.ok ? 0 : 1;
    }
    case 'status':
      return deps.withTarget(values.kubeconfig, values.context, async (core, id) => {
        const rows = (await core.nodes.list(id)).filter((n) => n.gpu?.memorySlices !== undefined || n.gpu?.migConfig !== undefined);
        const status = rows.map((n) => ({ node: n.name, product: n.gpu!.product, strategy: n.gpu!.migStrategy ?? null, config: n.gpu!.migConfig ?? null, state: n.gpu!.migConfigState ?? null }));
        const text = status.map((s) => `${s.node.padEnd(24)} ${String(s.config ?? '-').padEnd(20)} ${String(s.state ?? '-').padEnd(10)} ${s.product}`).join('\n');
        write(deps.out, values.json, status, `${'NODE'.padEnd(24)} ${'CONFIG'.padEnd(20)} ${'STATE'.padEnd(10)} PRODUCT\n${text}`);
        return 0;
      });
    case 'apply':
      return apply(values, deps);
    case 'apply-ssh': {
      if (!values.host) throw new MigUsageError('--host HOST-ID is required (see tessera ssh hosts)');
      const gpus = (values.gpus ?? '').split(',').filter(Boolean).map(Number);
      if (gpus.length === 0 || gpus.some((g) => !Number.isInteger(g) || g < 0)) throw new MigUsageError('--gpus 0,1,... is required');
      if (values.layout === undefined) throw new MigUsageError('--layout "PROFILE@START,..." is required (an empty string clears the GPUs)');
      const layout = parseLayout(values.layout);
      return deps.withCore(async (core) => {
        const r = await core.methods['mig.sshApply']({ hostId: values.host!, gpus, layout, ...(values.force ? { force: true } : {}) });
        const steps = r.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'} ${s.command} (${s.durationMs} ms)${s.message ? ` ${s.message}` : ''}`).join('\n');
        const verdict = r.refused ? `refused: ${r.refused.problems.join(' ')}` : r.failed ? `failed at ${r.failed.step}: ${r.failed.message}` : r.unchanged ? 'already at this layout' : r.mismatches.length ? `read-back differs: ${JSON.stringify(r.mismatches)}` : 'applied and read back';
        write(deps.out, values.json, r, `${steps}\n${verdict}`);
        return r.ok ? 0 : 1;
      });
    }
    default:
      throw new MigUsageError('usage: tessera mig validate|plan|apply|status (see tessera --help)');
  }
}

interface ApplyArgs {
  kubeconfig?: string;
  context?: string;
  nodes?: string;
  config?: string;
  'max-parallel'?: string;
  drain?: boolean;
  'point-policy'?: boolean;
  timeout?: string;
  yes?: boolean;
  json?: boolean;
}

async function apply(values: ApplyArgs, deps: MigCliDeps): Promise<number> {
  const nodes = (values.nodes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (nodes.length === 0) throw new MigUsageError('--nodes a,b,... is required');
  if (!values.config) throw new MigUsageError('--config NAME (a config of the MIG manager) or --config FILE (a mig-parted file) is required');
  const maxParallel = Number(values['max-parallel']);
  if (!Number.isInteger(maxParallel) || maxParallel < 1) throw new MigUsageError('--max-parallel must be a whole number, 1 or more');
  const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutS !== undefined && (!Number.isInteger(timeoutS) || timeoutS < 10)) throw new MigUsageError('--timeout must be whole seconds, 10 or more');

  return deps.withTarget(values.kubeconfig, values.context, async (core, id) => {
    let config = values.config!;
    if (fs.existsSync(config)) {
      const parsed = fromMigParted(yaml.load(fs.readFileSync(config, 'utf8')));
      if (parsed.problems.length) throw new TesseraError('INVALID_REQUEST', `${config}: ${parsed.problems.join(' ')}`);
      const names = Object.keys(parsed.configs);
      if (names.length !== 1) throw new TesseraError('INVALID_REQUEST', `${config} holds ${names.length} configs (${names.join(', ')}); give a file with exactly one, or name a config the MIG manager has.`);
      config = names[0]!;
      if (values.yes) await core.mig.saveConfig(id, config, parsed.configs[config]!);
      else deps.err.write(`would save "${config}" into Tessera's ConfigMap\n`);
    }
    const check = await core.mig.check(id, nodes, config);
    const blocked = check.nodes.filter((n) => n.problems.length || (n.pods.length && !values.drain));
    for (const n of check.nodes) {
      const pods = n.pods.length ? `; GPU pods: ${n.pods.map((p) => `${p.namespace}/${p.name}`).join(', ')}` : '';
      deps.err.write(`${n.node}: ${n.migConfig ?? '(none)'} -> ${config}${pods}${n.problems.length ? `; ${n.problems.join(' ')}` : ''}\n`);
    }
    for (const p of check.permissions.filter((q) => !q.allowed)) deps.err.write(`missing permission: ${p.reason}\n`);
    if (!values.yes) {
      deps.err.write(`dry run: ${nodes.length} node(s), at most ${maxParallel} at once${check.needsPolicyChange ? ', ClusterPolicy would be pointed at Tessera\'s ConfigMap (--point-policy)' : ''}. Add --yes to apply.\n`);
      write(deps.out, Boolean(values.json), check, blocked.length ? `${blocked.length} node(s) would be refused` : 'ready to apply');
      return blocked.length ? 1 : 0;
    }
    let job = await core.mig.apply({ id, nodes, config, maxParallel, drain: Boolean(values.drain), pointPolicy: Boolean(values['point-policy']), ...(timeoutS ? { timeoutS } : {}) });
    const seen = new Map<string, string>();
    const off = core.mig.watch(id, (jobs) => {
      const j = jobs.find((x) => x.applyId === job.applyId);
      for (const n of j?.nodes ?? []) {
        const line = `${n.node}: ${n.step}${n.message ? ` (${n.message})` : ''}`;
        if (seen.get(n.node) !== line) deps.err.write(`${line}\n`);
        seen.set(n.node, line);
      }
    });
    job = await core.mig.wait(job.applyId);
    off();
    write(deps.out, Boolean(values.json), job, summary(job));
    return job.state === 'succeeded' ? 0 : 1;
  });
}

function summary(job: MigApplyJob): string {
  const lines = job.nodes.map((n) => `${n.node.padEnd(24)} ${n.step.padEnd(12)} ${n.message ?? ''}${n.report?.length ? `\n  ${n.report.join('\n  ')}` : ''}`);
  return `apply ${job.applyId}: ${job.state}\n${lines.join('\n')}`;
}
