import type { MigApplyJob, MigCheck, MigConfigSet, MigSshApplyView } from '../model/mig.ts';
import { method, stream } from './define.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

/** mig-parted config names: lowercase words joined by - . _ (as the MIG manager's label values). */
export const migConfigName = s.string({ min: 1, max: 63, pattern: /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/, patternHint: 'must be a label value: lowercase letters, digits, - . _' });

const profileName = s.string({ min: 3, max: 32, pattern: /^(?:\d+c\.)?\d+g\.\d+gb(?:\+me|\+me\.all|\+gfx|-me)?$/, patternHint: 'must be a MIG profile such as 1g.10gb' });

/** One mig-parted entry: GPUs (absent = all), MIG on or off, and instance counts. */
const entry = s.object({
  devices: s.optional(s.array(s.number({ integer: true, min: 0, max: 15 }), { max: 16 })),
  enabled: s.boolean(),
  counts: s.array(s.object({ profile: profileName, count: s.number({ integer: true, min: 1, max: 7 }) }), { max: 16 }),
  deviceFilter: s.optional(s.array(s.string({ min: 6, max: 10, pattern: /^0x[0-9a-fA-F]{4,8}$/, patternHint: 'must be a PCI id such as 0x20B510DE' }), { max: 8 })),
});

const nodeList = s.array(k8sName, { min: 1, max: 5000 });

export const migMethods = {
  'mig.configs': method<MigConfigSet>()(s.object({ id: clusterId }), "The MIG manager's configs: the active ConfigMap and Tessera's own."),
  'mig.check': method<MigCheck>()(
    s.object({ id: clusterId, nodes: nodeList, config: migConfigName }),
    'Preflight for an apply: per node its model, current config and the GPU pods that would lose their device; the permissions needed.',
  ),
  'mig.saveConfig': method<MigConfigSet>()(
    s.object({ id: clusterId, name: migConfigName, entries: s.array(entry, { max: 16 }) }),
    "Save a custom layout into Tessera's mig-parted ConfigMap (the operator's default one is never edited).",
  ),
  'mig.apply': method<MigApplyJob>()(
    s.object({
      id: clusterId,
      nodes: nodeList,
      config: migConfigName,
      maxParallel: s.number({ integer: true, min: 1, max: 100 }),
      drain: s.boolean(),
      /** The user agreed to point the ClusterPolicy's MIG manager at Tessera's ConfigMap. */
      pointPolicy: s.boolean(),
      timeoutS: s.optional(s.number({ integer: true, min: 10, max: 7200 })),
    }),
    'Set nvidia.com/mig.config on the nodes, at most maxParallel at once, and follow mig.config.state.',
  ),
  'mig.cancel': method<MigApplyJob>()(s.object({ applyId: s.string({ min: 1, max: 64 }) }), 'Start no further nodes; nodes already reconfiguring are followed to the end.'),
  'mig.revert': method<MigApplyJob>()(
    s.object({ applyId: s.string({ min: 1, max: 64 }), maxParallel: s.optional(s.number({ integer: true, min: 1, max: 100 })) }),
    'Return the failed and timed-out nodes of an apply to the config they had before it.',
  ),
  'mig.sshApply': method<MigSshApplyView>()(
    s.object({
      hostId: s.string({ min: 1, max: 128 }),
      gpus: s.array(s.number({ integer: true, min: 0, max: 15 }), { min: 1, max: 16 }),
      layout: s.array(s.object({ profile: profileName, start: s.number({ integer: true, min: 0, max: 7 }) }), { max: 7 }),
      model: s.optional(s.string({ min: 1, max: 64 })),
      /** Go ahead although GPU processes run (they lose their device). */
      force: s.optional(s.boolean()),
    }),
    'Apply a layout to GPUs of an SSH host with the nvidia-smi sequence, then read it back and compare it with the plan.',
  ),
  'mig.jobs': method<MigApplyJob[]>()(s.object({ id: s.optional(clusterId) }), 'Apply jobs of this console, newest first.'),
};

export const migStreams = {
  'mig.watch': stream<MigApplyJob[]>()(s.object({ id: clusterId }), "Snapshots of a cluster's MIG apply jobs whenever one moves."),
};
