// Entry point of the simulated fleet (kubelets + GFD + device plugin), run by
// `up` as a detached process: node main.ts --state DIR --nodes N --server URL --ca FILE
// (admin token in TESSERA_FLEET_TOKEN, kept out of the process list).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Kube } from '../kube.ts';
import { statePaths, writeJsonAtomic, type FleetStatus } from '../state.ts';
import { fleetSpec } from './catalog.ts';
import { FaultWatcher } from './fault-state.ts';
import { Kubelets } from './kubelets.ts';
import { PodInformer } from './pod-informer.ts';
import { PodLifecycle } from './pod-lifecycle.ts';
import { heartbeatPlan } from './rates.ts';

const { values } = parseArgs({
  options: {
    state: { type: 'string' },
    nodes: { type: 'string' },
    server: { type: 'string' },
    ca: { type: 'string' },
  },
});
const stateDir = values.state ?? '';
const n = Number(values.nodes);
const token = process.env.TESSERA_FLEET_TOKEN;
if (!stateDir || !Number.isInteger(n) || n < 0 || !values.server || !values.ca || !token) {
  console.error('usage: main.ts --state DIR --nodes N --server URL --ca FILE (token in TESSERA_FLEET_TOKEN)');
  process.exit(2);
}

const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
const kube = new Kube({ server: values.server, ca: fs.readFileSync(values.ca), token }, { maxSockets: 48, userAgent: 'tessera-fleet-sim/kubelet' });
const plan = heartbeatPlan(n);
const specs = fleetSpec(n);
const kubelets = new Kubelets(kube, specs, plan, log);
const faults = new FaultWatcher(stateDir);

const status: FleetStatus = { pid: process.pid, phase: 'registering', nodes: n, plan, updatedAt: new Date().toISOString() };
const publish = (patch: Partial<FleetStatus>) => {
  Object.assign(status, patch, { updatedAt: new Date().toISOString() });
  writeJsonAtomic(statePaths(stateDir).fleet, status);
};

let informer: PodInformer | undefined;
const lifecycle = new PodLifecycle(kube, kubelets, () => informer?.pods ?? new Map(), log);
informer = new PodInformer(kube, (pod, deleted) => lifecycle.onPodChange(pod, deleted), log);
kubelets.onReady = (node) => lifecycle.onNodeReady(node);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    log(`${sig}: exiting`);
    informer?.stop();
    process.exit(0);
  });
}

async function main(): Promise<void> {
  publish({});
  log(`registering ${n} nodes (lease every ${plan.leaseIntervalS}s, status every ${plan.statusIntervalS}s)`);
  const registration = await kubelets.registerAll();
  log(`registered ${n} nodes in ${registration.nodesMs.toFixed(0)} ms, leases in ${registration.leasesMs.toFixed(0)} ms`);
  lifecycle.setFaults(faults.get());
  void informer!.run();
  publish({ phase: 'running', registration });

  let busy = false;
  let lastPublish = 0;
  setInterval(async () => {
    if (busy) return; // a slow tick (API server down) must not pile up
    busy = true;
    try {
      const f = faults.get();
      lifecycle.setFaults(f);
      await kubelets.tick(Math.floor(Date.now() / 1000), f);
      if (Date.now() - lastPublish > 5000) {
        lastPublish = Date.now();
        publish({ kubelets: kubelets.summary(), pods: informer!.pods.size });
      }
    } catch (err) {
      log(`tick failed: ${err instanceof Error ? err.stack : String(err)}`);
    } finally {
      busy = false;
    }
  }, 1000);
}

main().catch((err) => {
  log(`fatal: ${err instanceof Error ? err.stack : String(err)}`);
  publish({ phase: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
