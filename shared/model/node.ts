/** A pod holding a GPU or MIG instance, with the workload that owns it. */
export interface PodRef {
  namespace: string;
  name: string;
  /** `Kind/name` of the owning workload (a ReplicaSet is shown as its Deployment). */
  workload?: string;
}

export interface MigSlot {
  profile: string;
  /** Placement on the memory-slice axis. */
  start: number;
  size: number;
  holder?: PodRef;
}

/** One physical GPU: whole (holder) or split into MIG instances (slots). */
export interface GpuDevice {
  index: number;
  mig: boolean;
  slots: MigSlot[];
  holder?: PodRef;
}

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
  /** Memory slices per GPU on the MIG axis (8, or 4 on A30-class cards); absent for GPUs without MIG. */
  memorySlices?: number;
  devices: GpuDevice[];
  /** The layout or which GPU a pod holds was inferred from counts, not reported by the node. */
  inferred: boolean;
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
