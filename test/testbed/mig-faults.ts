// MIG manager faults. The simulator's mig-manager reads them from the
// fault-state file when it applies a config, so they take effect on the next
// change of nvidia.com/mig.config; nothing to wait for here.
import { parseArgs } from 'node:util';
import { fleetSpec, type NodeSpec } from './fleet/catalog.ts';
import { updateFaults } from './fleet/fault-state.ts';
import { FLEET_DEVICE_IDS, migFaults } from './fleet/mig-manager.ts';
import { registerFault, type FaultContext } from './faults.ts';
import { nodeNetOf } from './node-network.ts';

function migNode(ctx: FaultContext, name: string | undefined): NodeSpec {
  if (!name) throw new Error('no node given');
  const spec = fleetSpec(ctx.info.nodes, { net: nodeNetOf(ctx.info) }).find((s) => s.name === name);
  if (!spec) throw new Error(`not a simulated node: ${name}`);
  if (!spec.gpu || !FLEET_DEVICE_IDS[spec.gpu.model]) throw new Error(`${name} has no MIG-capable GPUs`);
  return spec;
}

registerFault({
  name: 'mig-fail',
  description: "the node's MIG manager fails every apply (nvidia.com/mig.config.state=failed, old layout kept) until mig-clear",
  usage: 'mig-fail <node> [--message TEXT]',
  async apply(ctx, args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { message: { type: 'string' } } });
    if (positionals.length > 1) throw new Error(`one node at a time, got ${positionals.join(' ')}`);
    const message = values.message;
    const spec = migNode(ctx, positionals[0]);
    updateFaults(ctx.stateDir, (f) => {
      f.mig = { ...migFaults(f), [spec.name]: { since: new Date().toISOString(), ...(message ? { message } : {}) } };
    });
    return `MIG applies on ${spec.name} fail`;
  },
});

registerFault({
  name: 'mig-clear',
  description: "recover: the node's MIG manager applies configs again",
  usage: 'mig-clear <node>',
  async apply(ctx, [node]) {
    const spec = migNode(ctx, node);
    updateFaults(ctx.stateDir, (f) => {
      const mig = migFaults(f);
      delete mig[spec.name];
      f.mig = mig;
    });
    return `MIG applies on ${spec.name} work again`;
  },
});
