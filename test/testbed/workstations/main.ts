// Entry point of the workstation simulators (CSI driver + notebook
// controller), run by `up` as a detached process:
// node main.ts --server URL --ca FILE (admin token in TESSERA_FLEET_TOKEN).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Kube } from '../kube.ts';
import { NotebookSim } from './notebook-sim.ts';
import { StorageSim } from './storage-sim.ts';

const { values } = parseArgs({ options: { server: { type: 'string' }, ca: { type: 'string' }, 'interval-ms': { type: 'string' } } });
const token = process.env.TESSERA_FLEET_TOKEN;
if (!values.server || !values.ca || !token) {
  console.error('usage: main.ts --server URL --ca FILE [--interval-ms N] (token in TESSERA_FLEET_TOKEN)');
  process.exit(2);
}
const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
const kube = new Kube({ server: values.server, ca: fs.readFileSync(values.ca), token }, { maxSockets: 8, userAgent: 'tessera-fleet-sim/workstations' });
const storage = new StorageSim(kube, log);
const notebooks = new NotebookSim(kube, log);
const interval = Number(values['interval-ms'] ?? 500);

let busy = false;
setInterval(async () => {
  if (busy) return;
  busy = true;
  try {
    await storage.tick();
    await notebooks.tick();
  } catch (err) {
    log(`tick failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    busy = false;
  }
}, interval);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
log(`workstation simulators running (every ${interval} ms)`);
