// What the KServe simulator says about itself (<state>/kserve.json), for `status`.
import path from 'node:path';
import { isAlive } from '../processes.ts';
import { readJson } from '../state.ts';

export interface KserveSimStatus {
  pid: number;
  startedAt: string;
  /** Rewritten about every 3 s while the process runs. */
  heartbeat: string;
  intervalMs: number;
  inferenceServices: number;
  revisions: number;
  /** Data-plane ports open (one per InferenceService and one per revision). */
  listening: number;
  lastError?: string;
}

export const kserveStatusFile = (stateDir: string) => path.join(stateDir, 'kserve.json');

/** The simulator's report, with `alive`: its process runs and its heartbeat is under 15 s old. */
export function kserveSimStatus(stateDir: string): (KserveSimStatus & { alive: boolean }) | undefined {
  const s = readJson<KserveSimStatus>(kserveStatusFile(stateDir));
  if (!s) return undefined;
  return { ...s, alive: isAlive(s.pid) && Date.now() - Date.parse(s.heartbeat) < 15_000 };
}
