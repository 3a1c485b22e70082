// `tessera ws ...`: GPU workstations from scripts. Every request goes through
// the contract's validators and core's handlers, as the UI's do.
import { parseArgs } from 'node:util';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { Workstation, WorkstationSnapshot } from '../../shared/model/workstation.ts';
import type { Core } from '../core/core.ts';
import { age, table } from './format.ts';
import { waitForState } from './wait-state.ts';
import { call } from './core-call.ts';
import { gpuFlags } from './gpu-flags.ts';

export class WsUsageError extends Error {}

export const WS_HELP = `  tessera ws list [--json] | ws snapshots [-n NS] [--json]
  tessera ws create NAME -n NS (--image IMG | --template T) [--gpu N | --mig PROFILE[:N]] [--cpu 2] [--memory 8Gi]
        [--volume 20Gi] [--storage-class C] [--env K=V ...] [--pool GPU-PRODUCT] [--port 8888] [--wait]
  tessera ws start|stop NAME -n NS [--wait] | ws snapshot NAME -n NS [--snapshot S] [--class C] [--wait]
  tessera ws clone SNAPSHOT -n NS --to NS2/NAME [--to-context CTX] [--wait] | ws restore NAME -n NS --snapshot S [--wait]
        (--to-context: another kubeconfig context whose cluster has a snapshot class of the same CSI driver)
  tessera ws open NAME -n NS [--json]   IDE port-forward on 127.0.0.1 (token URL printed), held until Ctrl-C
                                         or until the workstation stops; --json prints one line with the URL
  tessera ws clone WORKSTATION -n NS --to NS/NAME --pvc-clone   (CSI volume clone, same namespace: no snapshot API needed)
  tessera ws delete NAME -n NS [--delete-volume]          (all take [--kubeconfig F] [--context C] [--json])
      GPU workstations: quota and RBAC checked before submit, every change audited; the volume is
      deleted only with --delete-volume.`;

export interface WsCliDeps {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => Promise<T>;
  /** Resolves when the user interrupts (Ctrl-C); `ws open` holds its forward until then. */
  interrupted?: () => Promise<string>;
}

/** SIGINT or SIGTERM, whichever comes first. */
function interruptedBySignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      resolve(sig);
    };
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
  });
}

/** Validated like a UI request, then handled by core. */
export function workstationsTable(list: Workstation[]): string {
  if (list.length === 0) return 'no workstations';
  return table(
    ['NAMESPACE', 'NAME', 'STATE', 'GPU', 'NODE', 'AGE', 'GPU-HOURS', 'IDLE', 'VOLUME', 'REASON'],
    list.map((w) => [
      w.namespace,
      w.name,
      w.state,
      w.gpuLabel,
      w.node ?? '',
      age(w.ageSeconds),
      w.gpuHours.toFixed(2),
      w.idle ? `${w.idle.flagged ? 'IDLE ' : ''}${age(w.idle.seconds)}` : '',
      w.volume ? `${w.volume.claim}${w.volume.size ? ` (${w.volume.size})` : ''}` : '',
      w.reason ?? w.stoppedReason ?? '',
    ]),
  );
}

export function snapshotsTable(list: WorkstationSnapshot[]): string {
  if (list.length === 0) return 'no snapshots';
  return table(
    ['NAMESPACE', 'NAME', 'WORKSTATION', 'CLASS', 'READY', 'SIZE', 'CREATED'],
    list.map((s) => [s.namespace, s.name, s.workstation ?? '', s.className ?? '', s.readyToUse ? 'yes' : s.error ? `no: ${s.error}` : 'no', s.restoreSize ?? '', s.createdAt ?? '']),
  );
}

const gpuOf = (values: Record<string, unknown>) => gpuFlags(values, (m) => new WsUsageError(m));

function envOf(list: string[] | undefined): { name: string; value: string }[] | undefined {
  if (!list?.length) return undefined;
  return list.map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new WsUsageError(`--env takes NAME=VALUE, got "${kv}"`);
    return { name: kv.slice(0, i), value: kv.slice(i + 1) };
  });
}

function waitFor(core: Core, id: string, ns: string, name: string, done: (w: Workstation) => boolean, log: (s: string) => void): Promise<Workstation> {
  return waitForState(`workstation ${ns}/${name}`, () => call(core, 'ws.get', { id, namespace: ns, name }), done, log);
}

export async function wsCommand(args: string[], deps: WsCliDeps): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      image: { type: 'string' },
      template: { type: 'string' },
      gpu: { type: 'string' },
      mig: { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      volume: { type: 'string' },
      'storage-class': { type: 'string' },
      env: { type: 'string', multiple: true },
      pool: { type: 'string' },
      port: { type: 'string' },
      snapshot: { type: 'string' },
      class: { type: 'string' },
      to: { type: 'string' },
      'to-context': { type: 'string' },
      'delete-volume': { type: 'boolean', default: false },
      'pvc-clone': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
  });
  const json = values.json;
  const print = (value: unknown, text: string) => deps.out.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  // Progress goes to stderr, so --json output on stdout stays one document.
  const log = (s: string) => deps.err.write(s);
  const ns = () => {
    if (!values.namespace) throw new WsUsageError(`ws ${sub} needs -n NAMESPACE`);
    return values.namespace;
  };
  const one = (what: string) => {
    if (positionals.length !== 1) throw new WsUsageError(`ws ${sub} takes one ${what}`);
    return positionals[0]!;
  };
  const run = <T>(fn: (core: Core, id: string) => Promise<T>) => deps.withTarget(values.kubeconfig, values.context, fn);
  const running = (w: Workstation) => w.state === 'running';

  switch (sub) {
    case 'list': {
      const list = await run((core, id) => call(core, 'ws.list', { id }));
      print(list, workstationsTable(list));
      return 0;
    }
    case 'snapshots': {
      const list = await run((core, id) => call(core, 'ws.snapshots', { id, ...(values.namespace ? { namespace: values.namespace } : {}) }));
      print(list, snapshotsTable(list));
      return 0;
    }
    case 'create': {
      const name = one('workstation name');
      const namespace = ns();
      const w = await run(async (core, id) => {
        const t = values.template ? (await call(core, 'ws.templates', {})).find((x) => x.name === values.template) : undefined;
        if (values.template && !t) throw new TesseraError('NOT_FOUND', `no workstation template named "${values.template}"`);
        const image = values.image ?? t?.image;
        if (!image) throw new WsUsageError('ws create needs --image IMAGE or --template NAME');
        const gpu = gpuOf(values) ?? (t ? { kind: t.gpu.kind, ...('count' in t.gpu ? { count: t.gpu.count } : {}), ...('profile' in t.gpu ? { profile: t.gpu.profile } : {}) } : { kind: 'none' as const });
        const env = envOf(values.env) ?? t?.env;
        const pool = values.pool ?? t?.nodePool;
        const storageClass = values['storage-class'] ?? t?.storageClass;
        const port = values.port !== undefined ? Number(values.port) : t?.port;
        const spec = { name, namespace, image, gpu, cpu: values.cpu ?? t?.cpu ?? '2', memory: values.memory ?? t?.memory ?? '8Gi', volumeSize: values.volume ?? t?.volumeSize ?? '20Gi', ...(storageClass ? { storageClass } : {}), ...(env ? { env } : {}), ...(pool ? { nodePool: pool } : {}), ...(port !== undefined ? { port } : {}) };
        const created = await call(core, 'ws.create', { id, spec });
        return values.wait ? waitFor(core, id, namespace, name, running, log) : created;
      });
      print(w, workstationsTable([w]));
      return 0;
    }
    case 'start':
    case 'stop': {
      const name = one('workstation name');
      const namespace = ns();
      const w = await run(async (core, id) => {
        const r = await call(core, sub === 'start' ? 'ws.start' : 'ws.stop', { id, namespace, name });
        return values.wait ? waitFor(core, id, namespace, name, sub === 'start' ? running : (x) => x.state === 'stopped', log) : r;
      });
      print(w, workstationsTable([w]));
      return 0;
    }
    case 'snapshot': {
      const name = one('workstation name');
      const namespace = ns();
      const s = await run(async (core, id) => {
        let snap = await call(core, 'ws.snapshot', { id, namespace, name, ...(values.snapshot ? { snapshot: values.snapshot } : {}), ...(values.class ? { className: values.class } : {}) });
        const deadline = Date.now() + 300_000;
        while (values.wait && !snap.readyToUse) {
          if (Date.now() > deadline) throw new TesseraError('TIMEOUT', `snapshot ${namespace}/${snap.name} is not ready after 300 s${snap.error ? ` (${snap.error})` : ''}`);
          await new Promise((r) => setTimeout(r, 1000));
          snap = (await call(core, 'ws.snapshots', { id, namespace })).find((x) => x.name === snap.name) ?? snap;
        }
        return snap;
      });
      print(s, snapshotsTable([s]));
      return 0;
    }
    case 'clone': {
      const snapshot = one(values['pvc-clone'] ? 'workstation name' : 'snapshot name');
      const namespace = ns();
      const m = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(values.to ?? '');
      if (!m) throw new WsUsageError('ws clone needs --to NAMESPACE/NAME');
      if (values['to-context'] && values['pvc-clone']) throw new WsUsageError('--pvc-clone stays in its namespace and cluster; --to-context needs a snapshot');
      const w = await run(async (core, id) => {
        const target = { namespace: m[1]!, name: m[2]! };
        let targetCluster: string | undefined;
        if (values['to-context']) {
          const ctx = core.clusters.list().find((c) => c.context === values['to-context']);
          if (!ctx) throw new TesseraError('CONTEXT_NOT_FOUND', `context "${values['to-context']}" is not in the kubeconfig (known: ${core.clusters.list().map((c) => c.context).join(', ')})`);
          targetCluster = (await core.clusters.connect(ctx.id)).id;
        }
        const r = values['pvc-clone'] ? await call(core, 'ws.cloneVolume', { id, namespace, source: snapshot, target }) : await call(core, 'ws.clone', { id, namespace, snapshot, target, ...(targetCluster ? { targetCluster } : {}) });
        return values.wait ? waitFor(core, targetCluster ?? id, m[1]!, m[2]!, running, log) : r;
      });
      print(w, workstationsTable([w]));
      return 0;
    }
    case 'restore': {
      const name = one('workstation name');
      const namespace = ns();
      if (!values.snapshot) throw new WsUsageError('ws restore needs --snapshot NAME');
      const w = await run(async (core, id) => {
        const r = await call(core, 'ws.restore', { id, namespace, name, snapshot: values.snapshot! });
        return values.wait && r.state !== 'stopped' ? waitFor(core, id, namespace, name, running, log) : r;
      });
      print(w, workstationsTable([w]));
      return 0;
    }
    case 'open': {
      const name = one('workstation name');
      const namespace = ns();
      const code = await run(async (core, id) => {
        const f = await call(core, 'ws.open', { id, namespace, name });
        deps.out.write(json ? `${JSON.stringify(f)}\n` : `${f.url}\n`);
        log(`IDE of ${namespace}/${name} (pod ${f.pod}, port ${f.remotePort}) forwarded to 127.0.0.1:${f.localPort}. Open the URL above in your browser; Ctrl-C closes the forward.\n`);
        // Held until interrupted, or until the forward closes itself (the workstation stopped).
        let gone: ReturnType<typeof setInterval> | undefined;
        const closedItself = new Promise<string>((resolve) => {
          gone = setInterval(async () => {
            if (!(await call(core, 'ws.forwards', {})).some((x) => x.id === f.id)) resolve('the workstation stopped');
          }, 1000);
        });
        const why = await Promise.race([(deps.interrupted ?? interruptedBySignal)(), closedItself]);
        clearInterval(gone);
        await call(core, 'ws.closeForward', { forwardId: f.id });
        log(`forward closed (${why})\n`);
        return why === 'the workstation stopped' ? 1 : 0;
      });
      return code;
    }
    case 'delete': {
      const name = one('workstation name');
      const namespace = ns();
      const r = await run((core, id) => call(core, 'ws.delete', { id, namespace, name, deleteVolume: values['delete-volume'] }));
      print(r, [...r.deleted.map((d) => `deleted ${d.kind} ${d.namespace}/${d.name}`), ...r.kept.map((k) => `kept ${k.kind} ${k.namespace}/${k.name} (use --delete-volume to remove it)`)].join('\n'));
      return 0;
    }
    default:
      throw new WsUsageError(`unknown ws command "${sub ?? ''}" (try: tessera --help)`);
  }
}
