import type { NodeGpu } from '../model/node.ts';
import { parseCount } from '../quantity.ts';
import { gpuResourceKeys, readGpuLabels, type Labels } from './labels.ts';
import { migModelFor } from './mig-geometry.ts';
import { deriveNodeDevices, type PodDevices } from './node-devices.ts';

type Resources = Readonly<Record<string, string>> | undefined;

/**
 * The GPU side of a node from its labels, resources and pods. Allocatable is
 * the truth for what can be scheduled: capacity may keep stale
 * nvidia.com/mig-* keys after a MIG reconfiguration, so it is only used to
 * tell that a node has GPUs at all.
 */
export function deriveNodeGpu(labels: Labels | undefined, allocatable: Resources, capacity: Resources, pods: PodDevices[]): NodeGpu | null {
  const facts = readGpuLabels(labels);
  const keys = gpuResourceKeys(allocatable);
  if (!facts.present && keys.length === 0 && gpuResourceKeys(capacity).length === 0) return null;
  const alloc: Record<string, number> = {};
  for (const k of keys) alloc[k] = parseCount(allocatable?.[k]);
  const devices = Object.values(alloc).reduce((a, b) => a + b, 0);
  let allocated = 0;
  for (const p of pods) for (const [k, v] of Object.entries(p.resources)) if (k in alloc || k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')) allocated += v;
  const derived = deriveNodeDevices(facts, alloc, pods);
  const model = migModelFor(facts.product);
  const gpu: NodeGpu = {
    product: facts.product ?? 'unknown',
    model: facts.model ?? 'unknown',
    count: derived.physical,
    allocatable: devices,
    allocated,
    migInvalid: facts.migInvalid,
    labelGeneration: facts.labelGeneration,
    devices: derived.devices,
    inferred: derived.inferred,
  };
  if (model) gpu.memorySlices = model.memorySlices;
  if (facts.memoryMiB !== undefined) gpu.memoryMiB = facts.memoryMiB;
  if (facts.migStrategy) gpu.migStrategy = facts.migStrategy;
  if (facts.migConfig) gpu.migConfig = facts.migConfig;
  if (facts.migConfigState) gpu.migConfigState = facts.migConfigState;
  if (facts.migProfile) gpu.migProfile = facts.migProfile;
  if (facts.driverVersion) gpu.driverVersion = facts.driverVersion;
  if (facts.cudaVersion) gpu.cudaVersion = facts.cudaVersion;
  return gpu;
}

type Container = { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } };

/** GPU resources a pod holds, by name: limits first (extended resources require them), summed over containers. */
export function podGpuResources(containers: readonly Container[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of containers ?? []) {
    const res = { ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) };
    for (const k of gpuResourceKeys(res)) out[k] = (out[k] ?? 0) + parseCount(res[k]);
  }
  return out;
}

export function podGpuDevices(containers: readonly Container[] | undefined): number {
  return Object.values(podGpuResources(containers)).reduce((a, b) => a + b, 0);
}
