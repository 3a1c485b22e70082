export interface NodeGpu {
  /** gpu.product as GFD reports it (may carry -MIG-<profile> or -SHARED). */
  product: string;
  /** The physical model with MIG/sharing suffixes removed. */
  model: string;
  /** Physical GPUs where known, else the advertised device count. */
  count: number;
  /** Devices the scheduler can hand out, summed over nvidia.com/gpu and nvidia.com/mig-*. */
  allocatable: number;
  allocated: number;
  memoryMiB?: number;
  migStrategy?: string;
  migConfig?: string;
  migConfigState?: string;
  migProfile?: string;
  migInvalid: boolean;
  driverVersion?: string;
  cudaVersion?: string;
  labelGeneration: 'current' | 'deprecated' | 'both' | 'none';
}

export interface NodeRow {
  name: string;
  ready: 'True' | 'False' | 'Unknown';
  unschedulable: boolean;
  roles: string[];
  pool?: string;
  internalIP?: string;
  kubeletVersion?: string;
  taints: number;
  createdAt?: string;
  gpu: NodeGpu | null;
}

/** Node stream event: a reset replaces everything, otherwise upserts and removals by name. */
export interface NodesDelta {
  reset?: NodeRow[];
  upsert: NodeRow[];
  remove: string[];
  status: 'syncing' | 'live' | 'reconnecting';
  error?: { code: string; message: string };
}
