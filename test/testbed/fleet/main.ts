// Entry point of the simulated fleet (kubelets + GFD + device plugin + the GPU
// Operator's dcgm-exporter + the pod network), run by `up` as a detached process:
// node main.ts --state DIR --nodes N --server URL --ca FILE --net K --pod-network-port P
// (admin token in TESSERA_FLEET_TOKEN, kept out of the process list).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kube } from '../kube.ts';
import { statePaths, writeJsonAtomic, type FleetStatus } from '../state.ts';
import { DeviceAllocator } from './allocator.ts';
import { DEFAULT_NODE_NET, fleetSpec } from './catalog.ts';
import { DCGM_PORT, DcgmExporters } from './dcgm/exporters.ts';
import { FaultWatcher } from './fault-state.ts';
import { DCGM_APP, GpuOperator } from './gpu-operator.ts';
import { Kubelets } from './kubelets.ts';
import { KUBELET_PORT, KubeletExec } from './kubelet-exec.ts';
import { DEFAULT_UPGRADE_MS, DriverUpgradeController } from './driver-upgrade.ts';
import { MigManager } from './mig-manager.ts';
import { PodInformer } from './pod-informer.ts';
import { PodLifecycle } from './pod-lifecycle.ts';
import { PodIde } from './pod-ide.ts';
import { PodNetwork } from './pod-network.ts';
import { heartbeatPlan } from './rates.ts';
import { readFleetTruth, TruthWriter } from './truth.ts';

const { values } = parseArgs({
  options: {
    state: { type: 'string' },
    nodes: { type: 'string' },
    server: { type: 'string' },
    ca: { type: 'string' },
    net: { type: 'string' },
    'pod-network-port': { type: 'string' },
    'driver-version': { type: 'string' },
    'upgrade-ms': { type: 'string' },
  },
});
const stateDir = values.state ?? '';
const n = Number(values.nodes);
const net = Number(values.net ?? DEFAULT_NODE_NET);
const podNetworkPort = Number(values['pod-network-port'] ?? 0);
const token = process.env.TESSERA_FLEET_TOKEN;
if (!stateDir || !Number.isInteger(n) || n < 0 || !values.server || !values.ca || !token || !Number.isInteger(net)) {
  console.error('usage: main.ts --state DIR --nodes N --server URL --ca FILE [--net K] [--pod-network-port P] (token in TESSERA_FLEET_TOKEN)');
  process.exit(2);
}

const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
const kube = new Kube({ server: values.server, ca: fs.readFileSync(values.ca), token }, { maxSockets: 48, userAgent: 'tessera-fleet-sim/kubelet' });
const plan = heartbeatPlan(n);
const specs = fleetSpec(n, { net, driverVersion: values['driver-version'] || undefined });
const kubelets = new Kubelets(kube, specs, plan, log);
const faults = new FaultWatcher(stateDir);
const previousTruth = readFleetTruth(stateDir);
const devices = new DeviceAllocator(specs, previousTruth);
// At 2,000 nodes the file is ~5 MB: rewrite it at most once a second there, every 0.3 s on small fleets.
const truth = new TruthWriter(stateDir, devices, Math.max(300, n / 2));
const exporters = new DcgmExporters(specs, devices, () => faults.get(), log);
// Workstation pods serve an IDE stand-in on their declared ports (pod-ide.ts).
const ide = new PodIde(log);
let informer: PodInformer | undefined;
const kubeletExec = new KubeletExec(stateDir, log, (ns, name, port) => {
  const pod = informer?.pods.get(`${ns}/${name}`);
  return pod ? ide.endpoint(ns, name, port, pod) : undefined;
}, (ns, name) => informer?.pods.get(`${ns}/${name}`));
const exporterAt = new Map(exporters.nodes.map((s) => [s.name, { host: s.ip, port: DCGM_PORT }]));
// Pod CIDRs are 10.128.0.0/24 upwards (catalog.ts); exporter pods and workstation pods serve something.
const isPodIp = (ip: string) => ip.startsWith('10.') && Number(ip.split('.')[1]) >= 128;
const network = new PodNetwork(
  (pod, port) => (pod.metadata.labels?.app === DCGM_APP && port === DCGM_PORT ? exporterAt.get(pod.spec.nodeName ?? '') : ide.endpoint(pod.metadata.namespace, pod.metadata.name, port, pod)),
  isPodIp,
  log,
);

const status: FleetStatus = { pid: process.pid, phase: 'registering', nodes: n, plan, updatedAt: new Date().toISOString() };
const publish = (patch: Partial<FleetStatus>) => {
  Object.assign(status, patch, { updatedAt: new Date().toISOString() });
  writeJsonAtomic(statePaths(stateDir).fleet, status);
};

const pods = () => informer?.pods ?? new Map();
const lifecycle = new PodLifecycle(kube, kubelets, devices, pods, log);
const operator = new GpuOperator(kube, specs, pods, (node) => kubelets.isGone(node), log);
// Simulated driver pod restart per node: --upgrade-ms, else TESSERA_SIM_DRIVER_UPGRADE_MS, else 3 s.
const upgradeMs = Number(values['upgrade-ms'] || process.env.TESSERA_SIM_DRIVER_UPGRADE_MS || DEFAULT_UPGRADE_MS);
const upgrades = new DriverUpgradeController(kube, specs, kubelets, () => faults.get(), () => devices.touch(), log, {
  upgradeMs: Number.isFinite(upgradeMs) && upgradeMs >= 0 ? upgradeMs : DEFAULT_UPGRADE_MS,
  revisionsFile: path.join(stateDir, 'driver-revisions.json'),
});
const migManager = new MigManager(kube, specs, devices, pods, () => faults.get(), (node) => kubelets.isReady(node), log);
operator.paused = (node) => migManager.isPaused(node);
migManager.onOperandsBack = () => {
  operator.reconcile().catch((err) => log(`gpu-operator: ${err instanceof Error ? err.message : String(err)}`));
};
informer = new PodInformer(
  kube,
  (pod, deleted) => {
    network.onPodChange(pod, deleted);
    lifecycle.onPodChange(pod, deleted);
    ide.onPodChange(pod, deleted);
  },
  log,
);
kubelets.onReady = (node) => lifecycle.onNodeReady(node);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    log(`${sig}: exiting`);
    informer?.stop();
    upgrades.stop();
    migManager.stop();
    try {
      truth.flush();
    } catch {}
    exporters.close();
    kubeletExec.close();
    ide.close();
    network.close();
    process.exit(0);
  });
}

const exporterStatus = (listening: number) => ({ listening, expected: operator.expected, running: operator.running() });

async function main(): Promise<void> {
  publish({});
  const t0 = performance.now();
  // First, so a node network or port that is taken fails the start at once.
  const listening = await exporters.listenAll();
  if (podNetworkPort) await network.listen(podNetworkPort);
  const execListening = await kubeletExec.listenAll(specs.map((s) => s.ip));
  log(`${execListening} kubelet exec endpoints on 127.${net}.x.y:${KUBELET_PORT}`);
  log(`${listening} dcgm-exporter endpoints on 127.${net}.x.y:${DCGM_PORT} in ${(performance.now() - t0).toFixed(0)} ms; pod network on 127.0.0.1:${podNetworkPort}`);
  truth.flush();
  log(`registering ${n} nodes (lease every ${plan.leaseIntervalS}s, status every ${plan.statusIntervalS}s)`);
  const registration = await kubelets.registerAll();
  log(`registered ${n} nodes in ${registration.nodesMs.toFixed(0)} ms, leases in ${registration.leasesMs.toFixed(0)} ms`);
  lifecycle.setFaults(faults.get());
  // Layouts applied before a restart come back before any pod is given devices.
  await migManager.restore(previousTruth).catch((err) => log(`mig-manager: restore: ${err instanceof Error ? err.message : String(err)}`));
  void informer!.run();
  await informer!.synced;
  await operator.ensureBase();
  await upgrades.start();
  log(`driver upgrade controller started (pod restart ${upgradeMs} ms)`);
  void migManager.run();
  log(`mig-manager on ${migManager.managed} nodes`);
  publish({ phase: 'running', registration, exporters: exporterStatus(listening), devices: devices.counts() });

  let busy = false;
  let lastPublish = 0;
  let lastReconcile = 0;
  let reconciling = false;
  setInterval(async () => {
    if (busy) return; // a slow tick (API server down) must not pile up
    busy = true;
    try {
      const f = faults.get();
      lifecycle.setFaults(f);
      await kubelets.tick(Math.floor(Date.now() / 1000), f);
      if (!reconciling && Date.now() - lastReconcile > 10_000) {
        // Off the heartbeat path: 2,000 creates take seconds.
        reconciling = true;
        lastReconcile = Date.now();
        void operator
          .reconcile()
          .then((created) => created && log(`gpu-operator: created ${created} dcgm-exporter pods`))
          .catch((err) => log(`gpu-operator: ${err instanceof Error ? err.message : String(err)}`))
          .finally(() => (reconciling = false));
      }
      const exp = exporterStatus(listening);
      // At once when the exporter count moves (`up` waits on it), else every 5 s.
      if (exp.running !== status.exporters?.running || Date.now() - lastPublish > 5000) {
        lastPublish = Date.now();
        const mem = process.memoryUsage();
        publish({ kubelets: kubelets.summary(), pods: informer!.pods.size, exporters: exp, devices: devices.counts(), driverUpgrades: upgrades.summary(), memoryMiB: { rss: Math.round(mem.rss / 2 ** 20), heapUsed: Math.round(mem.heapUsed / 2 ** 20) } });
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
