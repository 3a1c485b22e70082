// Is a test bed up, and what does it look like right now.
import fs from 'node:fs';
import path from 'node:path';
import { apiserverReady } from './controlplane.ts';
import { Kube } from './kube.ts';
import { isAlive } from './processes.ts';
import { defaultStateDir, readInfo, readJson, readRuntime, statePaths, type FleetStatus } from './state.ts';
import { kserveSimStatus, type KserveSimStatus } from './kserve/status.ts';

export function adminKube(stateDir: string): Kube {
  const info = readInfo(stateDir);
  const runtime = readRuntime(stateDir);
  if (!info || !runtime) throw new Error(`no test bed in ${stateDir}`);
  return new Kube({ server: info.server, ca: fs.readFileSync(info.caFile), token: runtime.tokens.admin });
}

/** Up = every recorded process alive and the API server answering /readyz. */
export async function isUp(stateDir: string): Promise<boolean> {
  const info = readInfo(stateDir);
  if (!info || !readRuntime(stateDir)) return false;
  if (!Object.values(info.processes).every(isAlive)) return false;
  const kube = adminKube(stateDir);
  try {
    return await apiserverReady(kube);
  } finally {
    kube.close();
  }
}

export interface TestbedStatus {
  stateDir: string;
  running: boolean;
  server?: string;
  apiserverReady: boolean;
  processes: Record<string, { pid: number; alive: boolean }>;
  /** tainted: nodes carrying node.kubernetes.io/not-ready or /unreachable. */
  nodes?: { total: number; ready: number; tainted: number; unschedulable: number };
  fleet?: FleetStatus;
  /** The KServe simulator's own report (kserve/main.ts); alive = process up and heartbeat fresh. */
  kserve?: KserveSimStatus & { alive: boolean };
}

const hasCondition = (n: any, type: string, status: string) => (n.status?.conditions ?? []).some((c: any) => c.type === type && c.status === status);
const UNHEALTHY_TAINTS = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

export async function testbedStatus(stateDir: string = defaultStateDir()): Promise<TestbedStatus> {
  const dir = path.resolve(stateDir);
  const info = readInfo(dir);
  const status: TestbedStatus = { stateDir: dir, running: false, apiserverReady: false, processes: {} };
  if (!info || !readRuntime(dir)) return status;
  status.server = info.server;
  for (const [name, pid] of Object.entries(info.processes)) status.processes[name] = { pid, alive: isAlive(pid) };
  status.fleet = readJson<FleetStatus>(statePaths(dir).fleet);
  status.kserve = kserveSimStatus(dir);
  const kube = adminKube(dir);
  try {
    status.apiserverReady = await apiserverReady(kube);
    if (status.apiserverReady) {
      const { items } = await kube.get<{ items: any[] }>('/api/v1/nodes');
      status.nodes = {
        total: items.length,
        ready: items.filter((n) => hasCondition(n, 'Ready', 'True')).length,
        tainted: items.filter((n) => (n.spec.taints ?? []).some((t: any) => UNHEALTHY_TAINTS.has(t.key))).length,
        unschedulable: items.filter((n) => n.spec.unschedulable).length,
      };
    }
  } finally {
    kube.close();
  }
  status.running = status.apiserverReady && Object.values(status.processes).every((p) => p.alive);
  return status;
}
