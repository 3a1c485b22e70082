import type { NodeGpu } from '../model/node.ts';
import { parseCount } from '../quantity.ts';
import { gpuResourceKeys, readGpuLabels, type Labels } from './labels.ts';

type Resources = Readonly<Record<string, string>> | undefined;

/**
 * The GPU side of a node from its labels and resources. Allocatable is the
 * truth for what can be scheduled: capacity may keep stale nvidia.com/mig-*
 * keys after a MIG reconfiguration, so it is only a fallback for the count.
 */
export function deriveNodeGpu(labels: Labels | undefined, allocatable: Resources, capacity: Resources, allocated: number): NodeGpu | null {
  const facts = readGpuLabels(labels);
  const keys = gpuResourceKeys(allocatable);
  const devices = keys.reduce((sum, k) => sum + parseCount(allocatable?.[k]), 0);
  if (!facts.present && keys.length === 0 && gpuResourceKeys(capacity).length === 0) return null;
  const mixedPhysical = facts.migStrategy === 'mixed' ? facts.count : undefined;
  const gpu: NodeGpu = {
    product: facts.product ?? 'unknown',
    model: facts.model ?? 'unknown',
    count: mixedPhysical ?? facts.count ?? devices,
    allocatable: devices,
    allocated,
    migInvalid: facts.migInvalid,
    labelGeneration: facts.labelGeneration,
  };
  if (facts.memoryMiB !== undefined) gpu.memoryMiB = facts.memoryMiB;
  if (facts.migStrategy) gpu.migStrategy = facts.migStrategy;
  if (facts.migConfig) gpu.migConfig = facts.migConfig;
  if (facts.migConfigState) gpu.migConfigState = facts.migConfigState;
  if (facts.migProfile) gpu.migProfile = facts.migProfile;
  if (facts.driverVersion) gpu.driverVersion = facts.driverVersion;
  if (facts.cudaVersion) gpu.cudaVersion = facts.cudaVersion;
  return gpu;
}

/** GPU devices a pod holds: nvidia.com/gpu plus every MIG resource, limits first (extended resources require them). */
export function podGpuDevices(containers: readonly { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[] | undefined): number {
  let total = 0;
  for (const c of containers ?? []) {
    const res = { ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) };
    for (const k of gpuResourceKeys(res)) total += parseCount(res[k]);
  }
  return total;
}
