// KServe faults: the simulator reads them from the fault-state file (section
// `kserve`). isvc-fail takes effect for the next revision (Serverless) or the
// next changed spec (Raw) created while it is set; isvc-slow at once, on the
// next request.
import { updateFaults } from '../fleet/fault-state.ts';
import { KubeError } from '../kube.ts';
import { registerFault, type FaultContext } from '../faults.ts';
import { kserveFaults } from './controller.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

async function target(ctx: FaultContext, arg: string | undefined): Promise<{ key: string; exists: boolean }> {
  if (!arg) throw new Error('no InferenceService given (namespace/name)');
  const [ns, name, extra] = arg.split('/');
  if (!ns || !name || extra !== undefined || !DNS_LABEL.test(ns) || !DNS_LABEL.test(name)) throw new Error(`expected namespace/name of an InferenceService, got ${JSON.stringify(arg)}`);
  try {
    await ctx.kube.get(`/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices/${name}`);
    return { key: `${ns}/${name}`, exists: true };
  } catch (err) {
    // Allowed on purpose: set before the create, the first revision fails.
    if (err instanceof KubeError && err.status === 404) return { key: `${ns}/${name}`, exists: false };
    throw err;
  }
}

registerFault({
  name: 'isvc-fail',
  description: 'revisions (Raw: specs) of the InferenceService created from now on fail to load their model (ModelLoadFailed), until isvc-clear',
  usage: 'isvc-fail <namespace/name> [--message TEXT]',
  async apply(ctx, args) {
    const m = args.indexOf('--message');
    const message = m >= 0 ? args[m + 1] : undefined;
    if (m >= 0 && !message) throw new Error('--message needs a text');
    const rest = m >= 0 ? [...args.slice(0, m), ...args.slice(m + 2)] : args;
    if (rest.length > 1) throw new Error(`one InferenceService at a time, got ${rest.join(' ')}`);
    const t = await target(ctx, rest[0]);
    updateFaults(ctx.stateDir, (f) => {
      const k = kserveFaults(f);
      f.kserve = { ...k, fail: { ...k.fail, [t.key]: { since: new Date().toISOString(), ...(message ? { message } : {}) } } };
    });
    return `the next revision of ${t.key} fails to load its model${t.exists ? '' : ' (it does not exist yet: its first one will)'}`;
  },
});

registerFault({
  name: 'isvc-slow',
  description: "every answer of the InferenceService's data plane takes MS ms longer, until isvc-clear",
  usage: 'isvc-slow <namespace/name> <ms>',
  async apply(ctx, args) {
    if (args.length !== 2) throw new Error('usage: isvc-slow <namespace/name> <ms>');
    const ms = Number(args[1]);
    if (!/^\d+$/.test(args[1]!) || ms > 60_000) throw new Error(`ms must be a whole number from 0 to 60000, got ${JSON.stringify(args[1])}`);
    const t = await target(ctx, args[0]);
    updateFaults(ctx.stateDir, (f) => {
      const k = kserveFaults(f);
      f.kserve = { ...k, slow: { ...k.slow, [t.key]: { ms, since: new Date().toISOString() } } };
    });
    return `${t.key} answers ${ms} ms slower`;
  },
});

registerFault({
  name: 'isvc-clear',
  description: 'recover: new revisions of the InferenceService load again and its answers are fast again (failed revisions stay failed)',
  usage: 'isvc-clear <namespace/name>',
  async apply(ctx, args) {
    if (args.length !== 1) throw new Error('usage: isvc-clear <namespace/name>');
    const t = await target(ctx, args[0]);
    updateFaults(ctx.stateDir, (f) => {
      const k = kserveFaults(f);
      const fail = { ...k.fail };
      const slow = { ...k.slow };
      delete fail[t.key];
      delete slow[t.key];
      f.kserve = { ...k, fail, slow };
    });
    return `${t.key}: KServe faults cleared`;
  },
});
