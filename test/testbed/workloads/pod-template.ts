// The pod spec every simulated GPU workload uses: one container asking for
// devices (limits only: extended resources need requests == limits, which the
// API server defaults), CPU and memory in proportion, pinned to a product when
// it asks for nvidia.com/gpu.
import { SIM_ANNOTATIONS } from '../fleet/pod-lifecycle.ts';
import { PRODUCT_LABEL } from './classes.ts';

export interface GpuAsk {
  resource: string;
  count: number;
  product?: string;
}

export interface TemplateOptions {
  image: string;
  labels: Record<string, string>;
  idle?: boolean;
  runMs?: number;
  restartPolicy?: 'Always' | 'Never' | 'OnFailure';
}

export function gpuPodTemplate(ask: GpuAsk, o: TemplateOptions) {
  const mig = ask.resource.startsWith('nvidia.com/mig-') || (ask.product ?? '').includes('-MIG-');
  const cpu = mig ? 1 : 4 * ask.count;
  const memoryGi = mig ? 4 : 16 * ask.count;
  const annotations: Record<string, string> = {};
  if (o.idle) annotations[SIM_ANNOTATIONS.idle] = 'true';
  if (o.runMs !== undefined) annotations[SIM_ANNOTATIONS.runMs] = String(o.runMs);
  return {
    metadata: { labels: o.labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: {
      restartPolicy: o.restartPolicy ?? 'Always',
      // No token secret needed: pods can be created the moment a namespace exists.
      automountServiceAccountToken: false,
      ...(ask.product ? { nodeSelector: { [PRODUCT_LABEL]: ask.product } } : {}),
      containers: [
        {
          name: 'main',
          image: o.image,
          resources: {
            limits: { [ask.resource]: String(ask.count), cpu: String(cpu), memory: `${memoryGi}Gi` },
            requests: { cpu: String(cpu / 2), memory: `${memoryGi / 2}Gi` },
          },
        },
      ],
    },
  };
}
