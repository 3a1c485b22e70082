// `tessera quotas ...`: team GPU quotas from scripts. The same quotas.list and
// quotas.update the Quotas page calls (validated by the contract, RBAC-checked
// and audited by core); the CLI only chooses the quota, shows the change and
// asks for --yes before making it.
import { parseArgs } from 'node:util';
import { TesseraError } from '../../shared/contract/errors.ts';
import { GPU_QUOTA_KEY, type NamespaceQuota, type QuotaObject } from '../../shared/contract/quotas.ts';
import type { Core } from '../core/core.ts';
import { applyHardChanges } from '../core/quotas/quota-usage.ts';
import { table } from './format.ts';
import { call } from './core-call.ts';

export class QuotasUsageError extends Error {}

export const QUOTAS_HELP = `  tessera quotas list [-n NS] [--json]
      Per namespace and team: GPU and MIG requests of Running/Pending pods against ResourceQuota used/hard,
      pods refused by a quota, and whether you may edit it.
  tessera quotas set NS RESOURCE=COUNT|RESOURCE- ... [--quota NAME] [--resource-version RV] [--yes] [--json]
      Set (or with a trailing "-" remove) GPU keys of the namespace's ResourceQuota, e.g. requests.nvidia.com/gpu=4
      or nvidia.com/mig-1g.10gb=8 (requests. is assumed). Without --yes it prints before/after and changes nothing.
      --resource-version: the one you read (quotas list --json); refused if the quota changed since.
      (both take [--kubeconfig F] [--context C]; RBAC checked first, every change audited)`;

export interface QuotasCliDeps {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => Promise<T>;
}

/** The quota name `quotas set` creates when a namespace has none. */
export const DEFAULT_QUOTA_NAME = 'gpu-quota';

/** Validated like a UI request, then handled by core. */
/** `requests.nvidia.com/gpu=4`, `nvidia.com/mig-1g.10gb=8` (requests. assumed), or `KEY-` to remove. */
export function parseQuotaChanges(args: readonly string[]): { resource: string; value?: number }[] {
  if (args.length === 0) throw new QuotasUsageError('quotas set needs at least one RESOURCE=COUNT, e.g. requests.nvidia.com/gpu=4');
  const seen = new Set<string>();
  return args.map((arg) => {
    const m = /^([^=]+?)(?:=(.*)|-)$/.exec(arg);
    if (!m) throw new QuotasUsageError(`"${arg}" is not RESOURCE=COUNT or RESOURCE- (e.g. requests.nvidia.com/gpu=4)`);
    const key = /^(requests|limits)\./.test(m[1]!) ? m[1]! : `requests.${m[1]}`;
    if (!GPU_QUOTA_KEY.test(key)) throw new QuotasUsageError(`"${m[1]}" is not a GPU quota key: use requests.nvidia.com/gpu or requests.nvidia.com/mig-<profile> such as mig-1g.10gb`);
    if (seen.has(key)) throw new QuotasUsageError(`${key} is named twice`);
    seen.add(key);
    if (m[2] === undefined) return { resource: key };
    if (!/^\d+$/.test(m[2]) || Number(m[2]) > 100_000) throw new QuotasUsageError(`${key} takes a whole number of devices (0 to 100000), got "${m[2]}"`);
    return { resource: key, value: Number(m[2]) };
  });
}

function quotaCell(l: NamespaceQuota['lines'][number]): string {
  return l.quota ? `${l.quota.used}/${l.quota.hard} (${l.quota.name})` : 'no quota';
}

export function quotasTable(rows: NamespaceQuota[]): string {
  if (rows.length === 0) return 'no namespaces with GPU requests or GPU quotas';
  const lines = table(
    ['NAMESPACE', 'TEAM', 'RESOURCE', 'RUNNING', 'PENDING', 'QUOTA USED/HARD', 'EDIT'],
    rows.flatMap((r) => {
      const edit = r.canEdit.allowed ? 'yes' : 'no';
      if (r.lines.length === 0) return [[r.namespace, r.team ?? '', '-', '0', '0', r.quotas.length ? 'no GPU keys' : 'no quota', edit]];
      return r.lines.map((l) => [r.namespace, r.team ?? '', l.resource, String(l.running), String(l.pending), quotaCell(l), edit]);
    }),
  );
  const extra: string[] = [];
  for (const r of rows) {
    for (const f of r.refusals) extra.push(`${r.namespace}: ${f.owner} refused ${f.count}× by quota${f.lastSeen ? ` (last ${f.lastSeen})` : ''}: ${f.message}`);
    for (const p of r.pendingPods) extra.push(`${r.namespace}: pod ${p.name} pending: ${p.reason}`);
  }
  return extra.length ? `${lines}\n\n${extra.join('\n')}` : lines;
}

function diffLines(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((k) => before[k] !== after[k]).map((k) => `  ${k}: ${before[k] ?? '(unset)'} -> ${after[k] ?? '(removed)'}`);
}

/** The quota to edit: --quota, else the namespace's only quota, else a new one named gpu-quota. */
function chooseQuota(row: NamespaceQuota, name: string | undefined): QuotaObject | { name: string; created: true } {
  if (name) return row.quotas.find((q) => q.name === name) ?? { name, created: true };
  if (row.quotas.length === 0) return { name: DEFAULT_QUOTA_NAME, created: true };
  // Prefer the one quota already holding GPU keys; with several, the user must say which.
  const gpu = row.quotas.filter((q) => Object.keys(q.hard).length > 0);
  const pick = gpu.length === 1 ? gpu : row.quotas.length === 1 ? row.quotas : [];
  if (pick.length === 1) return pick[0]!;
  throw new QuotasUsageError(`namespace ${row.namespace} has ${row.quotas.length} ResourceQuotas (${row.quotas.map((q) => q.name).join(', ')}); choose one with --quota NAME`);
}

export async function quotasCommand(args: string[], deps: QuotasCliDeps): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      quota: { type: 'string' },
      'resource-version': { type: 'string' },
      yes: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
  });
  const print = (value: unknown, text: string) => deps.out.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  const run = <T>(fn: (core: Core, id: string) => Promise<T>) => deps.withTarget(values.kubeconfig, values.context, fn);

  switch (sub) {
    case 'list': {
      if (positionals.length) throw new QuotasUsageError(`quotas list takes no arguments (got "${positionals.join(' ')}"); use -n NAMESPACE`);
      const list = await run((core, id) => call(core, 'quotas.list', { id }));
      const rows = values.namespace ? list.namespaces.filter((n) => n.namespace === values.namespace) : list.namespaces;
      if (values.namespace && rows.length === 0) throw new TesseraError('NOT_FOUND', `namespace ${values.namespace} is not among the namespaces you can see${list.notes.length ? ` (${list.notes.join('; ')})` : ''}`);
      for (const n of list.notes) deps.err.write(`note: ${n}\n`);
      print({ ...list, namespaces: rows }, quotasTable(rows));
      return 0;
    }
    case 'set': {
      if (values.namespace) throw new QuotasUsageError('quotas set takes the namespace as its first argument: quotas set NS RESOURCE=COUNT ...');
      const [namespace, ...kv] = positionals;
      if (!namespace) throw new QuotasUsageError('quotas set needs a namespace: quotas set NS RESOURCE=COUNT ...');
      const changes = parseQuotaChanges(kv);
      const rvFlag = values['resource-version'];
      if (rvFlag !== undefined && !/^\d+$/.test(rvFlag)) throw new QuotasUsageError(`--resource-version takes a resourceVersion (digits), got "${rvFlag}"`);
      return run(async (core, id) => {
        const list = await call(core, 'quotas.list', { id });
        const row = list.namespaces.find((n) => n.namespace === namespace);
        if (!row) throw new TesseraError('NOT_FOUND', `namespace ${namespace} is not among the namespaces you can see${list.notes.length ? ` (${list.notes.join('; ')})` : ''}`);
        const q = chooseQuota(row, values.quota);
        const created = 'created' in q;
        if (created && rvFlag) throw new TesseraError('NOT_FOUND', `ResourceQuota ${namespace}/${q.name} does not exist, so --resource-version ${rvFlag} cannot match it`);
        const before = created ? {} : q.hard;
        const after = applyHardChanges(before, changes);
        const diff = diffLines(before, after);
        const plan = { namespace, name: q.name, create: created, ...(created ? {} : { resourceVersion: rvFlag ?? q.resourceVersion }), before, after, canEdit: row.canEdit };
        // RBAC first: a user who may not edit the quota learns which permission is missing before anything else.
        const verb = created ? 'create' : 'update';
        if (!row.canEdit.allowed && !values.yes) throw new TesseraError('FORBIDDEN', `Cannot ${verb} ResourceQuota ${namespace}/${q.name}: ${row.canEdit.reason} (needs ${verb} on resourcequotas in ${namespace})`, { permission: `${verb} resourcequotas`, namespace });
        if (diff.length === 0) {
          print({ ...plan, changed: false }, `ResourceQuota ${namespace}/${q.name} already has ${changes.map((c) => `${c.resource}=${c.value ?? '(unset)'}`).join(', ')}; nothing to change`);
          return 0;
        }
        const what = `${created ? 'create' : 'change'} ResourceQuota ${namespace}/${q.name}`;
        if (!values.yes) {
          print({ ...plan, dryRun: true, changed: false }, [`would ${what}:`, ...diff, 'nothing changed; run again with --yes to apply'].join('\n'));
          return 0;
        }
        deps.err.write(`${what}...\n`);
        // core re-checks access, sends the resourceVersion (stale → CONFLICT), and records the audit entry, refused or not.
        const res = await call(core, 'quotas.update', { id, namespace, name: q.name, ...(created ? {} : rvFlag ? { resourceVersion: rvFlag } : { resourceVersion: (q as QuotaObject).resourceVersion, seen: Object.entries((q as QuotaObject).hard).map(([resource, value]) => ({ resource, value })) }), changes });
        print({ ...res, changed: true }, [`${res.created ? 'created' : 'changed'} ResourceQuota ${res.namespace}/${res.name} (resourceVersion ${res.resourceVersion}):`, ...diffLines(res.before, res.after)].join('\n'));
        return 0;
      });
    }
    default:
      throw new QuotasUsageError(`unknown quotas command "${sub ?? ''}" (try: tessera quotas list | quotas set NS RESOURCE=COUNT)`);
  }
}
