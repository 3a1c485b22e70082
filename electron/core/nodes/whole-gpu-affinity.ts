/**
 * Where the MIG strategy is `single`, the device plugin advertises MIG slices as
 * `nvidia.com/gpu`, so a pod asking for "one GPU" could get a 1g slice. GPU feature
 * discovery sets `nvidia.com/gpu.slices.gi` only on such nodes (gpu.md §3), which
 * makes its absence the requirement for a whole GPU. A request pinned to a
 * product (gpu.product, which names the slice on such nodes: …-MIG-1g.10gb) has
 * chosen already, and gets no affinity.
 */
export const SINGLE_STRATEGY_MIG_LABEL = 'nvidia.com/gpu.slices.gi';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

export function wholeGpuAffinity(): Record<string, unknown> {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: SINGLE_STRATEGY_MIG_LABEL, operator: 'DoesNotExist' }] }],
      },
    },
  };
}

/** True when an affinity is exactly the one Tessera adds, so an edit may replace it without touching a user's own. */
export function isWholeGpuAffinity(affinity: unknown): boolean {
  return JSON.stringify(affinity) === JSON.stringify(wholeGpuAffinity());
}
