import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toErrorShape, TesseraError } from '../../shared/contract/errors.ts';
import { createCore, type Core } from '../core/core.ts';
import { defaultDataDir } from '../core/data-dir.ts';
import { startHeadless } from '../host/http.ts';
import { auditCommand } from './audit-command.ts';
import { MIG_HELP, MigUsageError, migCommand } from './mig-command.ts';
import { ROLLOUT_HELP, RolloutUsageError, rolloutCommand } from './rollout-command.ts';
import { contextsTable, inventoryText, nodesTable } from './format.ts';
import { GpuParseUsageError, gpuParseCommand } from './gpu-parse-command.ts';
import { GpuSshUsageError, gpuSshCommand } from './gpu-ssh-command.ts';
import { SshUsageError, sshCommand } from './ssh-command.ts';
import { call } from './core-call.ts';
import { WS_HELP, WsUsageError, wsCommand } from './ws-command.ts';
import { ENDPOINTS_HELP, EndpointsUsageError, endpointsCommand } from './endpoints-command.ts';
import { QUOTAS_HELP, QuotasUsageError, quotasCommand } from './quotas-command.ts';
import { SHOWBACK_HELP, ShowbackUsageError, showbackCommand } from './showback-command.ts';
import { summarizeFleet } from '../../shared/gpu/fleet-summary.ts';
import { inventoryCsv } from '../../shared/gpu/inventory-export.ts';
import type { ClusterSummary } from '../../shared/model/cluster.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const VERSION = readVersion();

const HELP = `tessera ${VERSION} — desktop control plane for on-prem GPU clusters

Usage:
  tessera contexts [--kubeconfig FILE] [--json]
      List the contexts of the kubeconfig ($KUBECONFIG or ~/.kube/config unless --kubeconfig).
  tessera nodes [--kubeconfig FILE] [--context NAME] [--json]
      Connect to a context (default: current-context) and list its nodes with their GPUs.
  tessera inventory [--kubeconfig FILE] [--context NAME] [--json | --csv]
      Totals, per-model and per-node GPU summary of one context, with the time it took.
  tessera gpu parse FILE [--format FORMAT] [--csv-fields a,b,c]
      Parse nvidia-smi (-q -x, -q, --query-gpu CSV, -L, mig -lgip/-lgipp/-lgi) or dcgm-exporter output
      into one JSON shape (see README, "tessera gpu parse").
  tessera gpu ssh USER@HOST[:PORT] [--identity FILE] [--jump USER@HOST[:PORT]] [--trust SHA256:...]
      Run nvidia-smi on a host outside Kubernetes over SSH and print the same JSON shape.
  tessera ssh hosts [--json] | ssh import-config [FILE] | ssh test HOST [--trust SHA256:...]
  tessera ssh import-nodes --user USER [--identity FILE] [--group G] [--jump USER@HOST,...] [--context C] [--kubeconfig K] [--json]
  tessera ssh exec --hosts A,B [--concurrency N] [--sudo] [--json] -- OPERATION [NAME=VALUE ...] | ssh exec --list
  tessera ssh bundle HOST -o FILE.tar.gz | ssh gpus HOST [--json]
      The console's SSH hosts: list, import, test, run a named operation on many, gather a support bundle, read a host's GPUs.
  tessera audit verify [FILE-OR-DIR] | audit export [DIR] [--since 24h] [--format jsonl|csv]
      Check the audit trail's hash chain, or export it.
MIG_HELP_PLACEHOLDER
ROLLOUT_HELP_PLACEHOLDER
WS_HELP_PLACEHOLDER
ENDPOINTS_HELP_PLACEHOLDER
QUOTAS_HELP_PLACEHOLDER
SHOWBACK_HELP_PLACEHOLDER
  tessera serve [--kubeconfig FILE] [--port PORT]
      Start the headless console on 127.0.0.1; the first line printed is the URL to open.
  tessera --help | --version

Errors are one line on stderr and a non-zero exit status.`.replace('MIG_HELP_PLACEHOLDER', MIG_HELP).replace('ROLLOUT_HELP_PLACEHOLDER', ROLLOUT_HELP).replace('WS_HELP_PLACEHOLDER', WS_HELP).replace('ENDPOINTS_HELP_PLACEHOLDER', ENDPOINTS_HELP).replace('QUOTAS_HELP_PLACEHOLDER', QUOTAS_HELP).replace('SHOWBACK_HELP_PLACEHOLDER', SHOWBACK_HELP);

function readVersion(): string {
  for (const p of [path.join(here, '..', '..', 'package.json'), path.join(here, '..', '..', '..', 'package.json')]) {
    try {
      return (JSON.parse(fs.readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      /* try the next location: bundled and source layouts differ */
    }
  }
  return '0.0.0';
}

function rendererDir(): string {
  const candidates = [path.join(here, '..', 'renderer'), path.join(here, '..', '..', 'dist', 'renderer')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[0]!;
}

class UsageError extends Error {}

/** The context named by --context, else the current one; connected, or a specific error. */
async function connectTarget(core: Core, context: string | undefined): Promise<ClusterSummary> {
  core.clusters.assertLoaded();
  const list = core.clusters.list();
  const target = context ? list.find((c) => c.context === context) : (list.find((c) => c.isCurrent) ?? list[0]);
  if (!target) {
    if (context) throw new TesseraError('CONTEXT_NOT_FOUND', `context "${context}" is not in the kubeconfig (known: ${list.map((c) => c.context).join(', ') || 'none'})`);
    throw new TesseraError('KUBECONFIG_INVALID', 'the kubeconfig defines no contexts');
  }
  return core.clusters.connect(target.id);
}

async function withCore<T>(kubeconfig: string | undefined, host: 'headless', fn: (core: Core) => Promise<T>): Promise<T> {
  const core = await createCore({ host, version: VERSION, kubeconfigFiles: kubeconfig ? [path.resolve(kubeconfig)] : undefined, dataDir: dataDir() });
  try {
    return await fn(core);
  } finally {
    // A change's Kubernetes Event (audit mirror) needs the connection the dispose would close.
    await core.audit?.mirrorsIdle();
    await core.dispose();
  }
}

const dataDir = () => defaultDataDir();

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'audit') return auditCommand(rest, { stdout: process.stdout, stderr: process.stderr });
  if (command === 'mig') {
    return migCommand(rest, {
      out: process.stdout,
      err: process.stderr,
      withCore: (fn) => withCore(undefined, 'headless', fn),
      withTarget: (kubeconfig, context, fn) => withCore(kubeconfig, 'headless', async (core) => fn(core, (await connectTarget(core, context)).id)),
    });
  }
  if (command === 'rollout') {
    return rolloutCommand(rest, {
      out: process.stdout,
      err: process.stderr,
      withTarget: (kubeconfig, context, fn) => withCore(kubeconfig, 'headless', async (core) => fn(core, (await connectTarget(core, context)).id)),
    });
  }
  if (command === 'ws') {
    return wsCommand(rest, {
      out: process.stdout,
      err: process.stderr,
      withTarget: (kubeconfig, context, fn) => withCore(kubeconfig, 'headless', async (core) => fn(core, (await connectTarget(core, context)).id)),
    });
  }
  if (command === 'quotas' || command === 'showback') {
    const deps = {
      out: process.stdout,
      err: process.stderr,
      withTarget: <T>(kubeconfig: string | undefined, context: string | undefined, fn: (core: Core, id: string) => Promise<T>) => withCore(kubeconfig, 'headless', async (core) => fn(core, (await connectTarget(core, context)).id)),
    };
    return command === 'quotas' ? quotasCommand(rest, deps) : showbackCommand(rest, deps);
  }
  if (command === 'endpoints') {
    return endpointsCommand(rest, {
      out: process.stdout,
      err: process.stderr,
      withTarget: (kubeconfig, context, fn) => withCore(kubeconfig, 'headless', async (core) => fn(core, (await connectTarget(core, context)).id)),
    });
  }
  if (command === 'ssh' && rest[0] === 'import-nodes') return importNodesCommand(rest.slice(1));
  if (command === 'ssh') return sshCommand(rest, { stdout: process.stdout, stderr: process.stderr }, dataDir(), VERSION);
  if (command === 'gpu') {
    if (rest[0] === 'parse') return gpuParseCommand(rest.slice(1), process.stdout);
    if (rest[0] === 'ssh') return gpuSshCommand(rest.slice(1), process.stdout, dataDir());
    throw new UsageError('usage: tessera gpu parse <file> | tessera gpu ssh USER@HOST[:PORT] --identity FILE');
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }

  switch (command) {
    case 'contexts':
      return withCore(values.kubeconfig, 'headless', async (core) => {
        core.clusters.assertLoaded();
        const list = core.clusters.list();
        if (list.length === 0) throw new TesseraError('KUBECONFIG_INVALID', 'the kubeconfig defines no contexts');
        print(values.json, list, contextsTable(list));
        return 0;
      });
    case 'nodes':
      return withCore(values.kubeconfig, 'headless', async (core) => {
        const target = await connectTarget(core, values.context);
        const nodes = await core.nodes.list(target.id);
        print(values.json, nodes, nodesTable(nodes));
        return 0;
      });
    case 'inventory':
      return withCore(values.kubeconfig, 'headless', async (core) => {
        const started = performance.now();
        const target = await connectTarget(core, values.context);
        const nodes = await core.nodes.list(target.id);
        const elapsedMs = Math.round(performance.now() - started);
        if (values.csv) {
          process.stdout.write(inventoryCsv([[target.id, nodes]]));
          return 0;
        }
        const summary = summarizeFleet([[target.id, nodes]]);
        const report = { cluster: target.id, server: target.server, elapsedMs, summary, nodes };
        print(values.json, report, inventoryText(summary, elapsedMs));
        return 0;
      });
    case 'serve': {
      const port = values.port === undefined ? 0 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got "${values.port}"`);
      const staticDir = rendererDir();
      if (!fs.existsSync(path.join(staticDir, 'index.html'))) throw new TesseraError('INTERNAL', `the console is not built (no ${staticDir}/index.html); run: npm run build`);
      // The console runs the workstation idle policy while it is up (one-shot commands do not).
      const core = await createCore({ host: 'headless', version: VERSION, kubeconfigFiles: values.kubeconfig ? [path.resolve(values.kubeconfig)] : undefined, dataDir: dataDir(), workstations: { idle: {} } });
      const server = await startHeadless({ core, staticDir, port });
      process.stdout.write(`${server.url}\n`);
      process.stderr.write(`Tessera console listening on ${server.origin} (loopback only). Open the URL above; press Ctrl+C to stop.\n`);
      for (const src of core.clusters.listSources()) if (src.error) process.stderr.write(`warning: ${src.error.message}\n`);
      const stop = () => {
        void Promise.all([core.dispose(), server.close()]).then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return new Promise<number>(() => {});
    }
    default:
      throw new UsageError(`unknown command "${command}" (try: tessera --help)`);
  }
}

/** Exit only once stdout and stderr are flushed: on a pipe, process.exit would cut a large --json answer short. */
async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof MigUsageError || err instanceof RolloutUsageError || err instanceof WsUsageError || err instanceof EndpointsUsageError || err instanceof QuotasUsageError || err instanceof ShowbackUsageError || err instanceof GpuParseUsageError || err instanceof GpuSshUsageError || err instanceof SshUsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`tessera: ${(err as Error).message}\n`);
      return exitAfterFlush(2);
    }
    const shape = toErrorShape(err);
    process.stderr.write(`tessera: ${shape.message.split('\n')[0]}\n`);
    return exitAfterFlush(1);
  },
);

/** `tessera ssh import-nodes`: the cluster's nodes as SSH hosts (InternalIP), as the Hosts page imports them; SSH rollouts find their hosts so. */
async function importNodesCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { user: { type: 'string' }, identity: { type: 'string' }, group: { type: 'string' }, jump: { type: 'string' }, context: { type: 'string' }, kubeconfig: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.user) throw new UsageError('usage: tessera ssh import-nodes --user USER [--identity FILE] [--group G] [--jump USER@HOST,...] [--context C] [--kubeconfig K] [--json]');
  return withCore(values.kubeconfig, 'headless', async (core) => {
    const target = await connectTarget(core, values.context);
    const r = await call(core, 'hosts.importNodes', {
      id: target.id,
      user: values.user!,
      ...(values.identity ? { identityFile: path.resolve(values.identity) } : {}),
      ...(values.group ? { group: values.group } : {}),
      ...(values.jump ? { proxyJump: values.jump.split(',').filter(Boolean) } : {}),
    });
    if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      process.stdout.write(`${target.context}: added ${r.added.length}, updated ${r.updated.length}, skipped ${r.skipped.length}\n`);
      for (const x of r.skipped) process.stderr.write(`skipped ${x.name}: ${x.reason}\n`);
    }
    return 0;
  });
}
