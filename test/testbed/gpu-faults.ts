// GPU and dcgm-exporter faults. The simulator reads them from the fault-state
// file; each apply() scrapes the node's exporter directly until the change shows.
import http from 'node:http';
import { DCGM_PORT } from './fleet/dcgm/exporters.ts';
import { fleetSpec, type NodeSpec } from './fleet/catalog.ts';
import { updateFaults } from './fleet/fault-state.ts';
import { registerFault, type FaultContext } from './faults.ts';
import { nodeNetOf } from './node-network.ts';
import { sleep } from './processes.ts';

const now = () => new Date().toISOString();

function gpuNode(ctx: FaultContext, name: string | undefined): NodeSpec {
  if (!name) throw new Error('no node given');
  const spec = fleetSpec(ctx.info.nodes, { net: nodeNetOf(ctx.info) }).find((s) => s.name === name);
  if (!spec) throw new Error(`not a simulated node: ${name}`);
  if (!spec.gpu) throw new Error(`${name} has no GPUs`);
  return spec;
}

function gpuIndex(spec: NodeSpec, raw: string | undefined): number {
  const i = raw === undefined ? 0 : Number(raw);
  if (!Number.isInteger(i) || i < 0 || i >= spec.gpu!.count) throw new Error(`${spec.name} has GPUs 0..${spec.gpu!.count - 1}, not ${raw}`);
  return i;
}

/** One scrape of a node's exporter, straight from its loopback address. */
export function scrapeNode(spec: Pick<NodeSpec, 'ip'>, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: spec.ip, port: DCGM_PORT, path: '/metrics', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const seriesValue = (body: string, metric: string, gpu: number): number | undefined => {
  const m = new RegExp(`^${metric}\\{gpu="${gpu}",[^}]*\\} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
};

registerFault({
  name: 'gpu-xid',
  description: 'a GPU reports an XID error (DCGM_FI_DEV_XID_ERRORS = the XID, temperature up; 48 also counts an ECC DBE, 64 a row-remap failure) until gpu-clear',
  usage: 'gpu-xid <node> [gpuIndex (0)] [xid (79)]',
  async apply(ctx, [node, index, xidArg]) {
    const spec = gpuNode(ctx, node);
    const gpu = gpuIndex(spec, index);
    const xid = xidArg === undefined ? 79 : Number(xidArg);
    if (!Number.isInteger(xid) || xid <= 0) throw new Error(`bad XID ${xidArg}`);
    updateFaults(ctx.stateDir, (f) => {
      const gpus = (f.gpus ??= {});
      gpus[spec.name] = { ...gpus[spec.name], [gpu]: { ...gpus[spec.name]?.[gpu], xid, since: now() } };
    });
    await until(`XID ${xid} on ${spec.name} GPU ${gpu}`, async () => seriesValue((await scrapeNode(spec)).body, 'DCGM_FI_DEV_XID_ERRORS', gpu) === xid);
    return `XID ${xid} on ${spec.name} GPU ${gpu}`;
  },
});

registerFault({
  name: 'gpu-hot',
  description: 'a GPU runs hot (DCGM_FI_DEV_GPU_TEMP above 90 C, power up) until gpu-clear',
  usage: 'gpu-hot <node> [gpuIndex (0)]',
  async apply(ctx, [node, index]) {
    const spec = gpuNode(ctx, node);
    const gpu = gpuIndex(spec, index);
    updateFaults(ctx.stateDir, (f) => {
      const gpus = (f.gpus ??= {});
      gpus[spec.name] = { ...gpus[spec.name], [gpu]: { ...gpus[spec.name]?.[gpu], hot: true, since: now() } };
    });
    await until(`${spec.name} GPU ${gpu} hot`, async () => (seriesValue((await scrapeNode(spec)).body, 'DCGM_FI_DEV_GPU_TEMP', gpu) ?? 0) >= 90);
    return `${spec.name} GPU ${gpu} hot`;
  },
});

registerFault({
  name: 'gpu-clear',
  description: 'recover: clear XID and heat on one GPU, or on all GPUs of the node (as after a driver reload)',
  usage: 'gpu-clear <node> [gpuIndex]',
  async apply(ctx, [node, index]) {
    const spec = gpuNode(ctx, node);
    const gpu = index === undefined ? undefined : gpuIndex(spec, index);
    updateFaults(ctx.stateDir, (f) => {
      if (!f.gpus?.[spec.name]) return;
      if (gpu === undefined) delete f.gpus[spec.name];
      else delete f.gpus[spec.name]![gpu];
    });
    const which = gpu === undefined ? Array.from({ length: spec.gpu!.count }, (_, i) => i) : [gpu];
    await until(`${spec.name} GPUs clear`, async () => {
      const body = (await scrapeNode(spec)).body;
      return which.every((i) => seriesValue(body, 'DCGM_FI_DEV_XID_ERRORS', i) === 0);
    });
    return `${spec.name} ${gpu === undefined ? 'all GPUs' : `GPU ${gpu}`} clear`;
  },
});

registerFault({
  name: 'exporter-down',
  description: "the node's dcgm-exporter answers 503 (or with --close drops connections) until exporter-up",
  usage: 'exporter-down <node> [--close]',
  async apply(ctx, args) {
    const close = args.includes('--close');
    const spec = gpuNode(ctx, args.find((a) => !a.startsWith('--')));
    updateFaults(ctx.stateDir, (f) => {
      f.exporters = { ...f.exporters, [spec.name]: { mode: close ? 'close' : '503', since: now() } };
    });
    await until(`${spec.name} exporter down`, async () => {
      try {
        return (await scrapeNode(spec, 2000)).status === 503 && !close;
      } catch {
        return close;
      }
    });
    return `dcgm-exporter on ${spec.name} ${close ? 'drops connections' : 'answers 503'}`;
  },
});

registerFault({
  name: 'exporter-up',
  description: "recover: the node's dcgm-exporter serves metrics again",
  usage: 'exporter-up <node>',
  async apply(ctx, [node]) {
    const spec = gpuNode(ctx, node);
    updateFaults(ctx.stateDir, (f) => {
      if (f.exporters) delete f.exporters[spec.name];
    });
    await until(`${spec.name} exporter up`, async () => (await scrapeNode(spec)).status === 200);
    return `dcgm-exporter on ${spec.name} up`;
  },
});
