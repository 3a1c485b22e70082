// The fleet's ground truth for tests: which GPUs and MIG devices each node
// really has and which pod holds which, as the simulator sees them. Written by
// the simulator to <stateDir>/fleet-truth.json (throttled), read by tests.
import fs from 'node:fs';
import path from 'node:path';

export interface HolderTruth {
  namespace: string;
  pod: string;
  container: string;
  uid: string;
}

export interface MigDeviceTruth {
  giId: number;
  ciId: number;
  profile: string;
  placement: { start: number; size: number };
  uuid: string;
  memoryMiB: number;
  holder?: HolderTruth;
}

export interface GpuTruth {
  index: number;
  uuid: string;
  pciBusId: string;
  memoryMiB: number;
  mig: boolean;
  holder?: HolderTruth;
  migDevices: MigDeviceTruth[];
}

export interface NodeTruth {
  /** nvidia.com/gpu.product without MIG suffixes, e.g. NVIDIA-A30. */
  product: string;
  migStrategy?: 'single' | 'mixed';
  /** The driver version the node's GPUs run (changes only when a driver upgrade succeeds). */
  driverVersion?: string;
  /** What the device plugin would advertise for these devices, counted from them. */
  resources: Record<string, number>;
  gpus: GpuTruth[];
}

export interface FleetTruth {
  updatedAt: string;
  /** Bumped on every change of holders; lets a test wait for "newer than". */
  version: number;
  nodes: Record<string, NodeTruth>;
}

export const truthFile = (stateDir: string) => path.join(stateDir, 'fleet-truth.json');

export function readFleetTruth(stateDir: string): FleetTruth | undefined {
  try {
    return JSON.parse(fs.readFileSync(truthFile(stateDir), 'utf8')) as FleetTruth;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Rewrites the file at most every `intervalMs` while something changed. */
export class TruthWriter {
  private written = -1;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly stateDir: string,
    private readonly source: { version: number; snapshot(): FleetTruth },
    intervalMs = 300,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  flush(): void {
    if (this.source.version === this.written) return;
    const snap = this.source.snapshot();
    const file = truthFile(this.stateDir);
    const tmp = `${file}.${process.pid}.tmp`;
    // Compact: at 2,000 nodes this is a few MB, rewritten while pods churn.
    fs.writeFileSync(tmp, JSON.stringify(snap));
    fs.renameSync(tmp, file);
    this.written = snap.version;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
