// `tessera endpoints ...`: KServe inference endpoints from scripts. Every
// request goes through the contract's validators and core's handlers, as the
// UI's do; progress goes to stderr so --json output stays one document.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParamsOf } from '../../shared/contract/index.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import { TEST_PROTOCOLS, type Endpoint, type EndpointDetail, type LoadTestResult, type TestProtocol } from '../../shared/model/endpoints.ts';
import type { Core } from '../core/core.ts';
import { age, table } from './format.ts';
import { waitForState } from './wait-state.ts';
import { call } from './core-call.ts';
import { gpuFlags } from './gpu-flags.ts';

export class EndpointsUsageError extends Error {}

export const ENDPOINTS_HELP = `  tessera endpoints list [--json] | endpoints get NAME -n NS [--json]
  tessera endpoints create NAME -n NS --format FORMAT --storage URI [--runtime R] [--protocol v1|v2]
        [--gpu N | --mig PROFILE[:N]] [--cpu 1] [--memory 4Gi] [--min N] [--max N] [--scale-target N]
        [--scale-metric concurrency|rps|cpu|memory] [--mode Serverless|RawDeployment] [--service-account SA]
        [--node-selector K=V ...] [--toleration KEY[=VALUE]:EFFECT ...] [--dry-run] [--wait]
  tessera endpoints create -f ISVC.yaml [--dry-run] [--wait]     (expert YAML: one InferenceService)
  tessera endpoints canary NAME -n NS --percent P [--storage URI] [--runtime R] [--format F] [--gpu N | --mig P]
  tessera endpoints promote|rollback NAME -n NS       (Serverless only)
  tessera endpoints update NAME -n NS [--storage URI] [--runtime R] [--gpu N | --mig P] [--wait] [--timeout S]
        (RawDeployment's way to change a model: applied, then gated on the new pods being Ready)
  tessera endpoints test NAME -n NS [--protocol v1|v2|openai-completions|openai-chat] [--body JSON | --body-file F]
        [--target latest|prev|REVISION] [--probe] [--requests N --concurrency C]   (N ≤ 10000, C ≤ 64)
  tessera endpoints delete NAME -n NS --yes           (all take [--kubeconfig F] [--context C] [--json])
      KServe InferenceServices: RBAC, validation and the server's dry run before any change; every change
      audited; delete says what goes and keeps the model storage.`;

export interface EndpointsCliDeps {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => Promise<T>;
}

/** Validated like a UI request, then handled by core. */
const traffic = (e: Endpoint) => (e.traffic.length ? e.traffic.map((t) => `${t.revision.replace(`${e.name}-predictor-`, '')}:${t.percent}%`).join(' ') : e.mode === 'RawDeployment' ? '(raw)' : '');

export function endpointsTable(list: Endpoint[]): string {
  if (list.length === 0) return 'no endpoints';
  return table(
    ['NAMESPACE', 'NAME', 'MODE', 'STATE', 'READY', 'URL', 'RUNTIME', 'MODEL', 'GPU', 'HELD', 'REPLICAS', 'TRAFFIC', 'AGE', 'REASON'],
    list.map((e) => [
      e.namespace,
      e.name,
      e.mode,
      e.state,
      e.ready,
      e.url ?? '',
      e.runtime ?? '',
      `${e.modelFormat ?? ''} ${e.storageUri ?? ''}`.trim(),
      e.gpuLabel,
      e.gpusHeld.map((g) => `${g.count}× ${g.resource.replace('nvidia.com/', '')}`).join(', '),
      `${e.replicas.ready}/${e.replicas.total}`,
      traffic(e),
      age(e.ageSeconds),
      [e.reason, e.message].filter(Boolean).join(': '),
    ]),
  );
}

export function detailText(d: EndpointDetail): string {
  const lines = [
    endpointsTable([d]),
    '',
    table(['CONDITION', 'STATUS', 'REASON', 'MESSAGE'], d.conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? ''])),
  ];
  if (d.revisions.length) lines.push('', table(['REVISION', 'TRAFFIC', 'READY', 'PODS', 'GPU UTIL', 'REASON'], d.revisions.map((r) => [r.name + (r.tag ? ` (${r.tag})` : ''), `${r.percent}%`, r.ready, `${r.readyPods}/${r.pods}`, r.gpuUtilPct !== undefined ? `${r.gpuUtilPct}%` : '', [r.reason, r.message].filter(Boolean).join(': ')])));
  if (d.pods.length) lines.push('', table(['POD', 'PHASE', 'READY', 'NODE', 'GPUS', 'GPU UTIL', 'REASON'], d.pods.map((p) => [p.name, p.phase, p.ready ? 'yes' : 'no', p.node ?? '', p.gpus.map((g) => `${g.count}× ${g.resource.replace('nvidia.com/', '')}`).join(', '), p.gpuUtilPct !== undefined ? `${p.gpuUtilPct}%` : '', p.reason ?? ''])));
  if (d.metricsNote) lines.push(`(${d.metricsNote})`);
  if (d.events.length) lines.push('', table(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], d.events.slice(0, 15).map((e) => [e.lastSeen ?? '', e.type, e.reason, e.object, e.message])));
  return lines.join('\n');
}

function loadText(r: LoadTestResult): string {
  const l = r.latencyMs;
  return [
    `${r.completed}/${r.requests} requests at concurrency ${r.concurrency} in ${r.durationMs} ms (${r.requestsPerSecond}/s): ${r.succeeded} ok, ${r.completed - r.succeeded} failed`,
    `latency ms: p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}  (min ${l.min}, mean ${l.mean})`,
    ...(r.errors.length ? [`errors: ${r.errors.map((e) => `${e.kind} ×${e.count}`).join(', ')}`] : []),
    ...(r.perRevision.length ? ['', table(['REVISION', 'RESPONSES', 'SHARE'], r.perRevision.map((p) => [p.revision, `${p.count}`, `${p.percent}%`]))] : []),
  ].join('\n');
}

const gpuOf = (values: Record<string, unknown>) => gpuFlags(values, (m) => new EndpointsUsageError(m));

function intOf(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new EndpointsUsageError(`${flag} takes a whole number, got "${v}"`);
  return Number(v);
}

function nodeSelectorOf(list: string[] | undefined): { key: string; value: string }[] | undefined {
  if (!list?.length) return undefined;
  return list.map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new EndpointsUsageError(`--node-selector takes KEY=VALUE, got "${kv}"`);
    return { key: kv.slice(0, i), value: kv.slice(i + 1) };
  });
}

/** KEY[=VALUE]:EFFECT, or KEY:EFFECT for "Exists". */
function tolerationsOf(list: string[] | undefined): { key?: string; operator?: 'Exists' | 'Equal'; value?: string; effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[] | undefined {
  if (!list?.length) return undefined;
  return list.map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?(?::(NoSchedule|PreferNoSchedule|NoExecute))?$/.exec(t);
    if (!m) throw new EndpointsUsageError(`--toleration takes KEY[=VALUE][:EFFECT], got "${t}"`);
    return { key: m[1]!, ...(m[2] !== undefined ? { operator: 'Equal' as const, value: m[2] } : { operator: 'Exists' as const }), ...(m[3] ? { effect: m[3] as 'NoSchedule' } : {}) };
  });
}

function waitReady(core: Core, id: string, ns: string, name: string, log: (s: string) => void): Promise<Endpoint> {
  return waitForState(
    `endpoint ${ns}/${name}`,
    async () => {
      const e = (await call(core, 'endpoints.list', { id })).find((x) => x.namespace === ns && x.name === name);
      if (!e) throw new TesseraError('NOT_FOUND', `endpoint ${ns}/${name} is gone`);
      return e;
    },
    (e) => e.state === 'ready' || e.state === 'canary',
    log,
  );
}

export async function endpointsCommand(args: string[], deps: EndpointsCliDeps): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      file: { type: 'string', short: 'f' },
      format: { type: 'string' },
      'format-version': { type: 'string' },
      storage: { type: 'string' },
      runtime: { type: 'string' },
      protocol: { type: 'string' },
      gpu: { type: 'string' },
      mig: { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      min: { type: 'string' },
      max: { type: 'string' },
      'scale-target': { type: 'string' },
      'scale-metric': { type: 'string' },
      mode: { type: 'string' },
      'service-account': { type: 'string' },
      'node-selector': { type: 'string', multiple: true },
      toleration: { type: 'string', multiple: true },
      percent: { type: 'string' },
      body: { type: 'string' },
      'body-file': { type: 'string' },
      target: { type: 'string' },
      probe: { type: 'boolean', default: false },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
  });
  const json = values.json;
  const print = (value: unknown, text: string) => deps.out.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  const log = (s: string) => deps.err.write(s);
  const ns = () => {
    if (!values.namespace) throw new EndpointsUsageError(`endpoints ${sub} needs -n NAMESPACE`);
    return values.namespace;
  };
  const one = () => {
    if (positionals.length !== 1) throw new EndpointsUsageError(`endpoints ${sub} takes one endpoint name`);
    return positionals[0]!;
  };
  const run = <T>(fn: (core: Core, id: string) => Promise<T>) => deps.withTarget(values.kubeconfig, values.context, fn);
  const change = () => {
    const gpu = gpuOf(values);
    const protocol = values.protocol;
    if (protocol !== undefined && protocol !== 'v1' && protocol !== 'v2') throw new EndpointsUsageError('--protocol here is the model protocol: v1 or v2');
    const c = {
      ...(values.storage ? { storageUri: values.storage } : {}),
      ...(values.runtime ? { runtime: values.runtime } : {}),
      ...(values.format ? { modelFormat: values.format } : {}),
      ...(values['format-version'] ? { modelFormatVersion: values['format-version'] } : {}),
      ...(protocol ? { protocolVersion: protocol as 'v1' | 'v2' } : {}),
      ...(gpu ? { gpu } : {}),
      ...(values.cpu ? { cpu: values.cpu } : {}),
      ...(values.memory ? { memory: values.memory } : {}),
    };
    if (Object.keys(c).length === 0) throw new EndpointsUsageError(`endpoints ${sub} needs a change: --storage, --runtime, --format, --protocol, --gpu/--mig, --cpu or --memory`);
    return c;
  };

  switch (sub) {
    case 'list': {
      const list = await run((core, id) => call(core, 'endpoints.list', { id }));
      print(list, endpointsTable(list));
      return 0;
    }
    case 'get': {
      const name = one();
      const namespace = ns();
      const d = await run((core, id) => call(core, 'endpoints.get', { id, namespace, name }));
      print(d, detailText(d));
      return 0;
    }
    case 'create': {
      let input: { spec?: ParamsOf<'endpoints.create'>['spec']; yaml?: string };
      if (values.file) {
        if (positionals.length) throw new EndpointsUsageError('endpoints create -f FILE takes its name and namespace from the file');
        input = { yaml: fs.readFileSync(values.file, 'utf8') };
      } else {
        const name = one();
        if (!values.format || !values.storage) throw new EndpointsUsageError('endpoints create needs --format FORMAT and --storage URI (or -f ISVC.yaml)');
        const mode = values.mode;
        if (mode !== undefined && mode !== 'Serverless' && mode !== 'RawDeployment') throw new EndpointsUsageError('--mode is Serverless or RawDeployment');
        const metric = values['scale-metric'];
        if (metric !== undefined && !['concurrency', 'rps', 'cpu', 'memory'].includes(metric)) throw new EndpointsUsageError('--scale-metric is concurrency, rps, cpu or memory');
        const protocol = values.protocol;
        if (protocol !== undefined && protocol !== 'v1' && protocol !== 'v2') throw new EndpointsUsageError('--protocol is v1 or v2');
        const min = intOf(values.min, '--min');
        const max = intOf(values.max, '--max');
        const target = intOf(values['scale-target'], '--scale-target');
        const nodeSelector = nodeSelectorOf(values['node-selector']);
        const tolerations = tolerationsOf(values.toleration);
        input = {
          spec: {
            name,
            namespace: ns(),
            modelFormat: values.format,
            storageUri: values.storage,
            gpu: gpuOf(values) ?? { kind: 'none' },
            ...(values['format-version'] ? { modelFormatVersion: values['format-version'] } : {}),
            ...(values.runtime ? { runtime: values.runtime } : {}),
            ...(protocol ? { protocolVersion: protocol as 'v1' | 'v2' } : {}),
            ...(values.cpu ? { cpu: values.cpu } : {}),
            ...(values.memory ? { memory: values.memory } : {}),
            ...(min !== undefined ? { minReplicas: min } : {}),
            ...(max !== undefined ? { maxReplicas: max } : {}),
            ...(target !== undefined ? { scaleTarget: target } : {}),
            ...(metric ? { scaleMetric: metric as 'concurrency' } : {}),
            ...(mode ? { deploymentMode: mode as 'Serverless' } : {}),
            ...(values['service-account'] ? { serviceAccountName: values['service-account'] } : {}),
            ...(nodeSelector ? { nodeSelector } : {}),
            ...(tolerations ? { tolerations } : {}),
          },
        };
      }
      if (values['dry-run']) {
        const p = await run((core, id) => call(core, 'endpoints.preview', { id, ...input }));
        print(p, `${p.yaml}---\n${p.ok ? 'ok: the API server accepts it (dry run)' : `refused:\n${p.problems.map((x) => `  - ${x}`).join('\n')}`}${p.capacity ? `\ncapacity: ${p.capacity.note}` : ''}`);
        return p.ok ? 0 : 1;
      }
      const e = await run(async (core, id) => {
        const created = await call(core, 'endpoints.create', { id, ...input });
        return values.wait ? waitReady(core, id, created.namespace, created.name, log) : created;
      });
      print(e, endpointsTable([e]));
      return 0;
    }
    case 'update': {
      const name = one();
      const namespace = ns();
      const timeoutSeconds = intOf(values.timeout, '--timeout');
      const r = await run((core, id) => call(core, 'endpoints.update', { id, namespace, name, change: change(), wait: values.wait, ...(timeoutSeconds ? { timeoutSeconds } : {}) }));
      if (!json) for (const s of r.steps) log(`${s.at} ${s.message}\n`);
      print(r, endpointsTable([r.endpoint]));
      return 0;
    }
    case 'canary': {
      const name = one();
      const namespace = ns();
      const percent = intOf(values.percent, '--percent');
      if (percent === undefined) throw new EndpointsUsageError('endpoints canary needs --percent P (1-99): the share of traffic for the new revision');
      const e = await run(async (core, id) => {
        const r = await call(core, 'endpoints.canary', { id, namespace, name, change: change(), percent });
        return values.wait ? waitReady(core, id, namespace, name, log) : r;
      });
      print(e, endpointsTable([e]));
      return 0;
    }
    case 'promote':
    case 'rollback': {
      const name = one();
      const namespace = ns();
      const e = await run((core, id) => call(core, sub === 'promote' ? 'endpoints.promote' : 'endpoints.rollback', { id, namespace, name }));
      print(e, endpointsTable([e]));
      return 0;
    }
    case 'test': {
      const name = one();
      const namespace = ns();
      if (values.body !== undefined && values['body-file'] !== undefined) throw new EndpointsUsageError('--body and --body-file are exclusive');
      const body = values['body-file'] !== undefined ? fs.readFileSync(values['body-file'], 'utf8') : values.body;
      const protocol = values.protocol as TestProtocol | undefined;
      if (protocol !== undefined && !TEST_PROTOCOLS.includes(protocol)) throw new EndpointsUsageError(`--protocol is one of ${TEST_PROTOCOLS.join(', ')}`);
      const requests = intOf(values.requests, '--requests');
      const concurrency = intOf(values.concurrency, '--concurrency');
      if (concurrency !== undefined && requests === undefined) throw new EndpointsUsageError('--concurrency goes with --requests N (a load test)');
      return run(async (core, id) => {
        const chosen = protocol ?? (await call(core, 'endpoints.list', { id })).find((e) => e.namespace === namespace && e.name === name)?.protocols[0] ?? 'v1';
        if (values.probe) {
          const probes = await call(core, 'endpoints.probe', { id, namespace, name });
          print(probes, table(['PROBE', 'PATH', 'OK', 'STATUS', 'MS', 'BODY'], probes.map((p) => [p.name, p.path, p.ok ? 'yes' : 'no', p.status !== undefined ? `${p.status}` : (p.error ?? ''), p.latencyMs !== undefined ? `${p.latencyMs}` : '', (p.body ?? '').slice(0, 80)])));
          return probes.every((p) => p.ok) ? 0 : 1;
        }
        if (requests !== undefined) {
          const r = await call(core, 'endpoints.loadTest', { id, namespace, name, protocol: chosen, requests, concurrency: concurrency ?? 1, ...(body !== undefined ? { body } : {}) });
          print(r, loadText(r));
          return r.succeeded === r.completed ? 0 : 1;
        }
        const r = await call(core, 'endpoints.test', { id, namespace, name, protocol: chosen, ...(body !== undefined ? { body } : {}), ...(values.target ? { target: values.target } : {}) });
        print(r, `${r.method} ${r.url} → ${r.status} in ${r.latencyMs} ms${r.revision ? ` (revision ${r.revision})` : ''}\n${r.body}${r.truncated ? '\n(cut at 64 KiB)' : ''}`);
        return r.ok ? 0 : 1;
      });
    }
    case 'delete': {
      const name = one();
      const namespace = ns();
      return run(async (core, id) => {
        if (!values.yes) {
          const plan = await call(core, 'endpoints.deletePlan', { id, namespace, name });
          print(plan, `${plan.summary}\nNothing was deleted: run again with --yes to delete.`);
          return 1;
        }
        const done = await call(core, 'endpoints.delete', { id, namespace, name });
        print(done, `deleted. ${done.summary}`);
        return 0;
      });
    }
    default:
      throw new EndpointsUsageError(`unknown endpoints command "${sub ?? ''}" (list, get, create, update, canary, promote, rollback, test, delete)`);
  }
}
