// Node labels as kubelet, NFD, GPU Feature Discovery and the GPU Operator write
// them, and the extended resources the device plugin advertises.
import type { NodeSpec } from './catalog.ts';
import { GPU_MODELS, installedDriver, type GpuModelKey, type MigProfile } from './gpus.ts';
import { fleetMigProfile } from './mig-profiles.ts';

const OPERAND_DEPLOY_LABELS = [
  'driver',
  'gpu-feature-discovery',
  'container-toolkit',
  'device-plugin',
  'dcgm',
  'dcgm-exporter',
  'node-status-exporter',
  'operator-validator',
  'mig-manager',
  'nvsm',
];

export function kubeletLabels(spec: NodeSpec): Record<string, string> {
  return {
    'kubernetes.io/hostname': spec.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
    'topology.kubernetes.io/zone': spec.zone,
    [spec.gpu ? 'node-role.kubernetes.io/gpu-worker' : 'node-role.kubernetes.io/worker']: '',
    'tessera.dev/pool': spec.pool,
  };
}

function nfdLabels(spec: NodeSpec): Record<string, string> {
  const [major = '', minor = ''] = spec.os.kernel.split('.');
  return {
    'feature.node.kubernetes.io/kernel-version.full': spec.os.kernel,
    'feature.node.kubernetes.io/kernel-version.major': major,
    'feature.node.kubernetes.io/kernel-version.minor': minor,
    'feature.node.kubernetes.io/system-os_release.ID': 'ubuntu',
    'feature.node.kubernetes.io/system-os_release.VERSION_ID': spec.os.versionId,
    ...(spec.gpu ? { 'feature.node.kubernetes.io/pci-10de.present': 'true' } : {}),
  };
}

const migLabels = (prefix: string, p: MigProfile, count: number): Record<string, string> => ({
  [`${prefix}.count`]: String(count),
  [`${prefix}.memory`]: String(p.memoryMiB),
  [`${prefix}.multiprocessors`]: String(p.multiprocessors),
  [`${prefix}.slices.gi`]: String(p.slicesGi),
  [`${prefix}.slices.ci`]: String(p.slicesCi),
  [`${prefix}.engines.copy`]: String(p.engines.copy),
  [`${prefix}.engines.decoder`]: String(p.engines.decoder),
  [`${prefix}.engines.encoder`]: String(p.engines.encoder),
  [`${prefix}.engines.jpeg`]: String(p.engines.jpeg),
  [`${prefix}.engines.ofa`]: String(p.engines.ofa),
});

/** Any profile of the model, not only the catalog's (the MIG manager can create them all). */
function profileNamed(key: GpuModelKey, name: string): MigProfile {
  const p = fleetMigProfile(key, name);
  if (!p) throw new Error(`${GPU_MODELS[key].product} has no MIG profile ${name}`);
  return p;
}

/** GFD's view of the node. Old GFD releases (labels: 'deprecated') emit only the first label generation. */
export function gfdLabels(spec: NodeSpec): Record<string, string> {
  const g = spec.gpu;
  if (!g) return {};
  const model = GPU_MODELS[g.model];
  const drv = installedDriver(g);
  const migCapable = 'migProfiles' in model;
  const labels: Record<string, string> = {
    'nvidia.com/cuda.driver.major': drv.major,
    'nvidia.com/cuda.driver.minor': drv.minor,
    'nvidia.com/cuda.driver.rev': drv.revision,
    'nvidia.com/cuda.runtime.major': String(drv.cuda[0]),
    'nvidia.com/cuda.runtime.minor': String(drv.cuda[1]),
    'nvidia.com/gfd.timestamp': String(1754000000 + spec.index * 37),
    'nvidia.com/gpu.compute.major': String(model.compute[0]),
    'nvidia.com/gpu.compute.minor': String(model.compute[1]),
    'nvidia.com/gpu.count': String(g.count),
    'nvidia.com/gpu.family': model.family,
    'nvidia.com/gpu.machine': spec.machine.name,
    'nvidia.com/gpu.memory': String(model.memoryMiB),
    'nvidia.com/gpu.product': model.product,
  };
  if (g.labels === 'both') {
    Object.assign(labels, {
      'nvidia.com/cuda.driver-version.major': drv.major,
      'nvidia.com/cuda.driver-version.minor': drv.minor,
      'nvidia.com/cuda.driver-version.revision': drv.revision,
      'nvidia.com/cuda.driver-version.full': drv.full,
      'nvidia.com/cuda.runtime-version.major': String(drv.cuda[0]),
      'nvidia.com/cuda.runtime-version.minor': String(drv.cuda[1]),
      'nvidia.com/cuda.runtime-version.full': `${drv.cuda[0]}.${drv.cuda[1]}`,
      'nvidia.com/gpu.replicas': '1',
      'nvidia.com/gpu.sharing-strategy': 'none',
      'nvidia.com/gpu.mode': 'compute',
      'nvidia.com/mig.capable': String(migCapable),
      'nvidia.com/mps.capable': 'false',
    });
  }
  const mig = g.mig;
  if (mig && migCapable) {
    const profiles = Object.entries(mig.perGpu);
    labels['nvidia.com/mig.strategy'] = mig.strategy;
    if (profiles.length === 0) {
      // newInvalidMigStrategyLabeler: MIG enabled but no instances.
      Object.assign(labels, {
        'nvidia.com/gpu.product': `${model.product}-MIG-INVALID`,
        'nvidia.com/gpu.count': '0',
        'nvidia.com/gpu.replicas': '0',
        'nvidia.com/gpu.memory': '0',
      });
    } else if (mig.strategy === 'single') {
      const [name, perGpu] = profiles[0] as [string, number];
      const p = profileNamed(g.model, name);
      Object.assign(labels, migLabels('nvidia.com/gpu', p, perGpu * g.count), {
        'nvidia.com/gpu.product': `${model.product}-MIG-${name}`,
        'nvidia.com/gpu.replicas': '1',
      });
    } else {
      for (const [name, perGpu] of profiles) {
        const p = profileNamed(g.model, name);
        Object.assign(labels, migLabels(`nvidia.com/mig-${name}`, p, perGpu * g.count));
      }
    }
  }
  return labels;
}

/** Labels owned by the GPU Operator (absent on nodes run by a standalone, old GFD). */
export function operatorLabels(spec: NodeSpec): Record<string, string> {
  const g = spec.gpu;
  if (!g || g.labels === 'deprecated') return {};
  const labels: Record<string, string> = {
    'nvidia.com/gpu.present': 'true',
    'nvidia.com/gpu.workload.config': 'container',
    'nvidia.com/gpu-driver-upgrade-state': 'upgrade-done',
    'nvidia.com/vgpu.present': 'false',
  };
  for (const d of OPERAND_DEPLOY_LABELS) labels[`nvidia.com/gpu.deploy.${d}`] = 'true';
  if ('migProfiles' in GPU_MODELS[g.model]) {
    // migManager.config.default: the operator sets all-disabled when the label is absent.
    labels['nvidia.com/mig.config'] = g.mig?.config ?? 'all-disabled';
    labels['nvidia.com/mig.config.state'] = 'success';
  }
  return labels;
}

export function nodeLabels(spec: NodeSpec): Record<string, string> {
  return { ...kubeletLabels(spec), ...nfdLabels(spec), ...gfdLabels(spec), ...operatorLabels(spec) };
}

/** What the NVIDIA device plugin registers with the kubelet. */
export function gpuResources(spec: NodeSpec): Record<string, string> {
  const g = spec.gpu;
  if (!g) return {};
  const mig = g.mig;
  if (!mig) return { 'nvidia.com/gpu': String(g.count) };
  const profiles = Object.entries(mig.perGpu);
  if (profiles.length === 0) return { 'nvidia.com/gpu': '0' };
  if (mig.strategy === 'single') return { 'nvidia.com/gpu': String((profiles[0]?.[1] ?? 0) * g.count) };
  return Object.fromEntries(profiles.map(([name, perGpu]) => [`nvidia.com/mig-${name}`, String(perGpu * g.count)]));
}
