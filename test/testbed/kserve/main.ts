// Entry point of the simulated KServe controller and its data plane, run by
// `up` as a detached process:
// node main.ts --state DIR --server URL --ca FILE [--interval-ms N] (admin token in TESSERA_FLEET_TOKEN).
// It writes <state>/kserve.json (pid, heartbeat, counts) for `status`, and
// keeps its revisions and ports in <state>/kserve-sim.json so a restart keeps
// every InferenceService's URL.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FaultWatcher } from '../fleet/fault-state.ts';
import { Kube } from '../kube.ts';
import { writeJsonAtomic } from '../state.ts';
import { KserveController, kserveFaults } from './controller.ts';
import { DataPlane } from './dataplane.ts';
import { ModelServerLogs } from './model-server-logs.ts';
import { kserveStatusFile, type KserveSimStatus } from './status.ts';

const { values } = parseArgs({ options: { state: { type: 'string' }, server: { type: 'string' }, ca: { type: 'string' }, 'interval-ms': { type: 'string' } } });
const token = process.env.TESSERA_FLEET_TOKEN;
if (!values.state || !values.server || !values.ca || !token) {
  console.error('usage: main.ts --state DIR --server URL --ca FILE [--interval-ms N] (token in TESSERA_FLEET_TOKEN)');
  process.exit(2);
}
const stateDir = values.state;
const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
const kube = new Kube({ server: values.server, ca: fs.readFileSync(values.ca), token }, { maxSockets: 8, userAgent: 'tessera-fleet-sim/kserve' });
const faults = new FaultWatcher(stateDir);
const plane = new DataPlane(log);
const controller = new KserveController(kube, plane, path.join(stateDir, 'kserve-sim.json'), () => kserveFaults(faults.get()), log, new ModelServerLogs(stateDir));
const interval = Number(values['interval-ms'] ?? 300);
const startedAt = new Date().toISOString();
let lastError: string | undefined;

const publish = () => {
  const status: KserveSimStatus = { pid: process.pid, startedAt, heartbeat: new Date().toISOString(), intervalMs: interval, ...controller.summary(), ...(lastError ? { lastError } : {}) };
  writeJsonAtomic(kserveStatusFile(stateDir), status);
};

let busy = false;
let ticks = 0;
setInterval(async () => {
  if (busy) return;
  busy = true;
  try {
    await controller.tick();
    lastError = undefined;
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err);
    log(`tick failed: ${lastError}`);
  } finally {
    busy = false;
    // The heartbeat every ~3 s is enough for `status`; no need to write a file every tick.
    if (ticks++ % 10 === 0) publish();
  }
}, interval);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    plane.closeAll();
    process.exit(0);
  });
}
publish();
log(`kserve simulator running (every ${interval} ms)`);
