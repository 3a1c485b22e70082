// The contract between fault injection (CLI/library) and the running simulator:
// a JSON file in the state dir that the simulator re-reads every tick. Sections
// are open-ended so later faults (MIG, driver upgrades) add their own keys.
import fs from 'node:fs';
import { readJson, statePaths, writeJsonAtomic } from '../state.ts';

export interface NodeFault {
  /** Unknown: the kubelet stopped (no heartbeats). False: kubelet alive but reporting NotReady. */
  ready: 'Unknown' | 'False';
  message?: string;
  since: string;
}

export interface PodFault {
  uid: string;
  exitCode: number;
  reason: string;
  message?: string;
  since: string;
}

/** What DCGM sees on one GPU. An XID stays the "last XID" until cleared (driver reload, reboot). */
export interface GpuFault {
  xid?: number;
  hot?: boolean;
  since: string;
}

export interface ExporterFault {
  /** 503: the exporter answers Service Unavailable; close: it drops the connection. */
  mode: '503' | 'close';
  since: string;
}

export interface FleetFaults {
  nodes: Record<string, NodeFault>;
  /** Nodes whose Node object was deleted; their kubelet stays silent until node-ready. */
  deletedNodes: Record<string, string>;
  /** "namespace/name" → the pod (by uid) to fail. */
  failPods: Record<string, PodFault>;
  /** node → GPU index → fault. */
  gpus?: Record<string, Record<string, GpuFault>>;
  /** node → its dcgm-exporter is down. */
  exporters?: Record<string, ExporterFault>;
  [section: string]: unknown;
}

export const emptyFaults = (): FleetFaults => ({ nodes: {}, deletedNodes: {}, failPods: {} });

export function readFaults(stateDir: string): FleetFaults {
  return { ...emptyFaults(), ...readJson<FleetFaults>(statePaths(stateDir).faults) };
}

export function updateFaults(stateDir: string, fn: (f: FleetFaults) => void): FleetFaults {
  const faults = readFaults(stateDir);
  fn(faults);
  writeJsonAtomic(statePaths(stateDir).faults, faults);
  return faults;
}

/** Re-reads the file only when it changed, so a 2000-node tick stays cheap. */
export class FaultWatcher {
  private stamp = '';
  private current: FleetFaults = emptyFaults();
  constructor(private readonly stateDir: string) {}
  get(): FleetFaults {
    try {
      // Writers rename a new file into place, so the inode changes even within one mtime tick.
      const st = fs.statSync(statePaths(this.stateDir).faults);
      const stamp = `${st.ino}:${st.mtimeMs}`;
      if (stamp !== this.stamp) {
        this.current = readFaults(this.stateDir);
        this.stamp = stamp;
      }
    } catch {
      this.current = emptyFaults();
      this.stamp = '';
    }
    return this.current;
  }
}
