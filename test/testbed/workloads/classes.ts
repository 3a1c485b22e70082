// What a GPU pod can ask for in this fleet: a device resource, and for
// nvidia.com/gpu the product it is pinned to with a nodeSelector (a full H100
// and a MIG slice advertised as nvidia.com/gpu are not interchangeable).
import type { NodeSpec } from '../fleet/catalog.ts';
import { gfdLabels, gpuResources } from '../fleet/labels.ts';

export const PRODUCT_LABEL = 'nvidia.com/gpu.product';

export interface DeviceClass {
  resource: string;
  /** nodeSelector value for nvidia.com/gpu.product; only for nvidia.com/gpu. */
  product?: string;
  /** Devices per node of this class, and schedulable nodes offering it. */
  perNode: number;
  nodes: number;
  total: number;
  /** gpu: whole GPUs; mig-single: MIG devices advertised as nvidia.com/gpu; mig: nvidia.com/mig-<profile>. */
  kind: 'gpu' | 'mig-single' | 'mig';
}

export const classKey = (c: { resource: string; product?: string }) => `${c.resource}|${c.product ?? ''}`;

/** Device classes of the fleet, from the same catalog the simulator uses (cordoned nodes left out). */
export function deviceClasses(specs: NodeSpec[]): DeviceClass[] {
  const out = new Map<string, DeviceClass>();
  for (const spec of specs) {
    if (!spec.gpu || spec.unschedulable) continue;
    const product = gfdLabels(spec)[PRODUCT_LABEL];
    for (const [resource, v] of Object.entries(gpuResources(spec))) {
      const perNode = Number(v);
      if (perNode <= 0) continue;
      const isGpu = resource === 'nvidia.com/gpu';
      const c = { resource, product: isGpu ? product : undefined };
      const key = classKey(c);
      const cur = out.get(key) ?? { ...c, perNode, nodes: 0, total: 0, kind: !isGpu ? 'mig' : spec.gpu.mig ? 'mig-single' : 'gpu' };
      cur.nodes++;
      cur.total += perNode;
      out.set(key, cur);
    }
  }
  return [...out.values()].sort((a, b) => classKey(a).localeCompare(classKey(b)));
}

/** A DNS label from a profile or product: 1g.10gb → 1g-10gb. */
export const dnsLabel = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
