// Where a test bed keeps its files and how its description is persisted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HeartbeatPlan } from './fleet/rates.ts';

/** The public description of a running test bed (printed by `up`, stored as state.json). */
export interface TestbedInfo {
  stateDir: string;
  server: string;
  caFile: string;
  kubeconfigs: { admin: string; viewer: string; cert: string; exec: string; teamA: string };
  nodes: number;
  /** Where the nodes' InternalIPs live (their dcgm-exporters listen there on :9400), e.g. 127.10.0.0/16. */
  nodeNetwork: string;
  processes: Record<string, number>;
}

/** How to restart a process exactly as it was started (used by apiserver-restart). */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  log: string;
  cwd?: string;
  env?: Record<string, string>;
}

/** Private bookkeeping next to state.json; not part of the public contract. */
export interface RuntimeState {
  specs: Record<string, ProcessSpec>;
  ports: Record<string, number>;
  tokens: Record<string, string>;
  binDir: string;
  startedAt: string;
}

/** What the fleet simulator reports about itself in fleet.json. */
export interface FleetStatus {
  pid: number;
  phase: 'registering' | 'running' | 'failed';
  nodes: number;
  registration?: { nodesMs: number; leasesMs: number };
  plan: HeartbeatPlan;
  kubelets?: Record<string, number>;
  pods?: number;
  /** dcgm-exporter endpoints listening, exporter pods expected (one per GPU node) and Running. */
  exporters?: { listening: number; expected: number; running: number };
  /** Allocatable GPU/MIG devices in the fleet and how many pods hold. */
  devices?: { total: number; held: number };
  memoryMiB?: { rss: number; heapUsed: number };
  /** GPU Operator nodes per nvidia.com/gpu-driver-upgrade-state value ('unknown' for none). */
  driverUpgrades?: Record<string, number>;
  error?: string;
  updatedAt: string;
}

export const defaultStateDir = (): string =>
  process.env.TESSERA_TESTBED_DIR || path.join(os.tmpdir(), 'tessera-testbed');

export const statePaths = (stateDir: string) => ({
  info: path.join(stateDir, 'state.json'),
  runtime: path.join(stateDir, 'runtime.json'),
  faults: path.join(stateDir, 'faults.json'),
  fleet: path.join(stateDir, 'fleet.json'),
  lock: path.join(stateDir, '.lock'),
  pki: path.join(stateDir, 'pki'),
  logs: path.join(stateDir, 'logs'),
  kubeconfigs: path.join(stateDir, 'kubeconfigs'),
});

/** Write-then-rename so concurrent readers never see half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export const readInfo = (stateDir: string) => readJson<TestbedInfo>(statePaths(stateDir).info);
export const readRuntime = (stateDir: string) => readJson<RuntimeState>(statePaths(stateDir).runtime);

/**
 * Serialises `up`/`down`/faults on one state dir across processes (parallel test
 * files may all ask for the shared test bed at once). mkdir is atomic.
 */
export async function withLock<T>(stateDir: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  fs.mkdirSync(stateDir, { recursive: true });
  const lock = statePaths(stateDir).lock;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // `down` removed the whole state dir while we waited.
        fs.mkdirSync(stateDir, { recursive: true });
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8').trim() || 0);
      } catch {
        // The holder has made the directory but not yet written its pid.
      }
      if (holder && !pidAlive(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lock} (held by pid ${holder})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
