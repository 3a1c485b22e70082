// Bringing a test bed up: binaries, PKI, credentials, control plane, RBAC, fleet.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlPlaneSpecs, ensureBinaries, waitForApiserver, waitForEtcd } from './controlplane.ts';
import { writeKubeconfigs, writeTokenFile } from './credentials.ts';
import { fleetSpec } from './fleet/catalog.ts';
import { DRIVER_VERSION_RE } from './fleet/gpus.ts';
import { heartbeatPlan } from './fleet/rates.ts';
import { Kube } from './kube.ts';
import { generatePki } from './pki.ts';
import { freePorts } from './ports.ts';
import { claimNodeNetwork, nodeNetworkCidr } from './node-network.ts';
import { isAlive, sleep, startDetached } from './processes.ts';
import { applyRbac } from './rbac.ts';
import { defaultStateDir, readInfo, readJson, statePaths, withLock, writeJsonAtomic, type FleetStatus, type ProcessSpec, type RuntimeState, type TestbedInfo } from './state.ts';
import { isUp } from './status.ts';
import { clearStateDir, stderrLog, stopRecorded, stopRecordedSync } from './supervise.ts';
import { seedWorkloads } from './workloads/seed.ts';
import { installWorkstationApis } from './workstations/apis.ts';
import { installKserveCrds, installKserveObjects } from './kserve/apis.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_NODES = 24;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface StartOptions {
  nodes?: number;
  stateDir?: string;
  /** Start the GPU workloads (workloads/seed.ts); default true. */
  workloads?: boolean;
  /** Every GPU node starts on this driver version (e.g. 550.127.05); default: the catalog's mix of branches. */
  driverVersion?: string;
  /** The simulated driver pod restart of a driver upgrade, per node, in ms (default TESSERA_SIM_DRIVER_UPGRADE_MS or 3000). */
  upgradeMs?: number;
  log?: (message: string) => void;
}

/** Starts a test bed, or returns the one already running in the state dir (`started` tells which). */
export async function ensureTestbed(opts: StartOptions = {}): Promise<{ info: TestbedInfo; started: boolean }> {
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir());
  const log = opts.log ?? stderrLog;
  if (opts.driverVersion !== undefined && !DRIVER_VERSION_RE.test(opts.driverVersion)) {
    throw new Error(`driver version must look like 550.127.05, got ${JSON.stringify(opts.driverVersion)}`);
  }
  if (opts.upgradeMs !== undefined && !(Number.isInteger(opts.upgradeMs) && opts.upgradeMs >= 0)) throw new Error(`upgrade time must be a whole number of ms, got ${opts.upgradeMs}`);
  return withLock(stateDir, async () => {
    if (await isUp(stateDir)) {
      const info = readInfo(stateDir)!;
      log(`test bed already running in ${stateDir}`);
      if (opts.nodes !== undefined && opts.nodes !== info.nodes) log(`note: it has ${info.nodes} nodes, not the ${opts.nodes} asked for; run down first to resize`);
      return { info, started: false };
    }
    // A half-dead test bed (say the machine slept) is replaced, never patched up.
    await stopRecorded(stateDir, log);
    clearStateDir(stateDir);
    // Interrupted half-way (Ctrl-C, killed test runner): leave no orphaned control plane behind.
    const abort = () => stopRecordedSync(stateDir);
    const onSignal = (sig: NodeJS.Signals) => {
      abort();
      process.kill(process.pid, sig);
    };
    process.once('exit', abort);
    for (const sig of SIGNALS) process.once(sig, onSignal);
    try {
      return { info: await bringUp(stateDir, opts.nodes ?? DEFAULT_NODES, opts.workloads ?? true, log, opts), started: true };
    } catch (err) {
      log(`start failed; stopping what was started (logs kept in ${statePaths(stateDir).logs})`);
      await stopRecorded(stateDir, log);
      throw err;
    } finally {
      process.off('exit', abort);
      for (const sig of SIGNALS) process.off(sig, onSignal);
    }
  });
}

async function bringUp(stateDir: string, nodes: number, workloads: boolean, log: (m: string) => void, opts: Pick<StartOptions, 'driverVersion' | 'upgradeMs'> = {}): Promise<TestbedInfo> {
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
  const paths = statePaths(stateDir);
  fs.mkdirSync(paths.logs, { recursive: true });
  const binDir = ensureBinaries(log);

  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, podNetwork] = (await freePorts(6)) as [number, number, number, number, number, number];
  const ports = { etcdClient, etcdPeer, apiserver, controllerManager, scheduler, podNetwork };
  const net = claimNodeNetwork(stateDir);
  const server = `https://127.0.0.1:${apiserver}`;

  log('generating PKI and credentials');
  const pki = generatePki(paths.pki);
  const tokenFile = path.join(paths.pki, 'tokens.csv');
  const tokens = writeTokenFile(tokenFile);
  const kubeconfigs = writeKubeconfigs(stateDir, server, pki, tokens);

  const plan = heartbeatPlan(nodes);
  const specs: ProcessSpec[] = controlPlaneSpecs({
    stateDir,
    binDir,
    ports,
    pki,
    tokenFile,
    internalKubeconfig: kubeconfigs.admin,
    nodeMonitorGracePeriodSeconds: plan.nodeMonitorGracePeriodS,
    podNetworkPort: podNetwork,
  });
  specs.push({
    name: 'fleet',
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), path.join(HERE, 'fleet', 'main.ts'), '--state', stateDir, '--nodes', String(nodes), '--server', server, '--ca', pki.caCert, '--net', String(net), '--pod-network-port', String(podNetwork), ...(opts.driverVersion ? ['--driver-version', opts.driverVersion] : []), ...(opts.upgradeMs !== undefined ? ['--upgrade-ms', String(opts.upgradeMs)] : [])],
    env: { TESSERA_FLEET_TOKEN: tokens.admin },
    log: path.join(paths.logs, 'fleet.log'),
  });
  // CSI provisioner + snapshotter and the notebook controller (workstations/).
  specs.push({
    name: 'workstations',
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), path.join(HERE, 'workstations', 'main.ts'), '--server', server, '--ca', pki.caCert],
    env: { TESSERA_FLEET_TOKEN: tokens.admin },
    log: path.join(paths.logs, 'workstations.log'),
  });
  // The simulated KServe controller and its loopback data plane (kserve/).
  specs.push({
    name: 'kserve',
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), path.join(HERE, 'kserve', 'main.ts'), '--state', stateDir, '--server', server, '--ca', pki.caCert],
    env: { TESSERA_FLEET_TOKEN: tokens.admin },
    log: path.join(paths.logs, 'kserve.log'),
  });

  const runtime: RuntimeState = { specs: {}, ports, tokens, binDir, startedAt: new Date().toISOString() };
  const info: TestbedInfo = { stateDir, server, caFile: pki.caCert, kubeconfigs, nodes, nodeNetwork: nodeNetworkCidr(net), processes: {} };
  const start = (name: string) => {
    const spec = specs.find((s) => s.name === name)!;
    runtime.specs[name] = spec;
    info.processes[name] = startDetached(spec);
    // Recorded at once so that a failed or interrupted start can still be cleaned up.
    writeJsonAtomic(paths.runtime, runtime);
    writeJsonAtomic(paths.info, info);
  };

  log(`starting etcd on 127.0.0.1:${etcdClient}`);
  start('etcd');
  await waitForEtcd(etcdClient);

  log(`starting kube-apiserver on ${server}`);
  start('kube-apiserver');
  const kube = new Kube({ server, ca: fs.readFileSync(pki.caCert), token: tokens.admin });
  try {
    await waitForApiserver(kube, () => isAlive(info.processes['kube-apiserver']!));
    log(`kube-apiserver ready after ${secs()} s`);
    log(`starting kube-controller-manager (node-monitor-grace-period ${plan.nodeMonitorGracePeriodS}s) and kube-scheduler`);
    start('kube-controller-manager');
    start('kube-scheduler');
    await applyRbac(kube);
    log(`starting fleet simulator (${nodes} nodes)`);
    start('fleet');
    const fleet = await waitForFleet(stateDir, nodes, () => isAlive(info.processes.fleet!));
    const reg = fleet.registration!;
    log(`fleet: ${nodes} nodes registered in ${(reg.nodesMs / 1000).toFixed(2)} s, leases in ${(reg.leasesMs / 1000).toFixed(2)} s`);
    await waitSchedulable(kube, nodes, log);
    await waitExporters(stateDir, log);
    await installWorkstationApis(kube, { log });
    start('workstations');
    // The KServe CRDs take the API server ~10 s to establish: let that overlap the workloads settling.
    const kserveCrds = installKserveCrds(kube, { log });
    kserveCrds.catch(() => {});
    if (workloads) {
      const { ms } = await seedWorkloads(kube, fleetSpec(nodes, { net }), log);
      log(`workloads settled after ${(ms / 1000).toFixed(1)} s`);
    }
    await kserveCrds;
    await installKserveObjects(kube);
    start('kserve');
    for (const name of ['kube-controller-manager', 'kube-scheduler']) {
      if (!isAlive(info.processes[name]!)) throw new Error(`${name} exited; see ${runtime.specs[name]!.log}`);
    }
  } finally {
    kube.close();
  }
  log(`test bed up in ${secs()} s (state: ${stateDir})`);
  return info;
}

async function waitForFleet(stateDir: string, nodes: number, alive: () => boolean): Promise<FleetStatus> {
  const deadline = Date.now() + 60_000 + nodes * 50;
  for (;;) {
    const s = readJson<FleetStatus>(statePaths(stateDir).fleet);
    if (s?.phase === 'running') return s;
    if (s?.phase === 'failed') throw new Error(`fleet simulator failed: ${s.error}`);
    if (!alive()) throw new Error(`fleet simulator exited; see ${path.join(statePaths(stateDir).logs, 'fleet.log')}`);
    if (Date.now() > deadline) throw new Error('fleet simulator did not finish registering nodes in time');
    await sleep(100);
  }
}

/** One Running dcgm-exporter pod per GPU node, so scrapes through the API server work once `up` returns. */
async function waitExporters(stateDir: string, log: (m: string) => void): Promise<void> {
  const t0 = performance.now();
  let e: FleetStatus['exporters'];
  const deadline = Date.now() + 120_000;
  for (;;) {
    e = readJson<FleetStatus>(statePaths(stateDir).fleet)?.exporters;
    if (e && e.running >= e.expected) break;
    if (Date.now() > deadline) throw new Error(`dcgm-exporter pods: ${e?.running ?? 0} of ${e?.expected ?? '?'} Running`);
    await sleep(250);
  }
  log(`dcgm-exporter: ${e.listening} endpoints, ${e.running} pods Running after ${((performance.now() - t0) / 1000).toFixed(1)} s more`);
}

/** The node lifecycle controller must have lifted the not-ready taint before pods can land. */
async function waitSchedulable(kube: Kube, nodes: number, log: (m: string) => void): Promise<void> {
  const t0 = performance.now();
  const deadline = Date.now() + 60_000 + nodes * 50;
  for (;;) {
    const { items } = await kube.get<{ items: any[] }>('/api/v1/nodes');
    const tainted = items.filter((n) => (n.spec.taints ?? []).some((t: { key: string }) => t.key === 'node.kubernetes.io/not-ready'));
    if (items.length >= nodes && tainted.length === 0) {
      log(`all ${nodes} nodes Ready and untainted after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${tainted.length} nodes still carry node.kubernetes.io/not-ready`);
    // A full node LIST is ~2 KB per node; polling must not compete with the controllers.
    await sleep(Math.max(500, nodes * 2));
  }
}
