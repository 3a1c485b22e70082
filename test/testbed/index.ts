// The test bed as a library for tests. See cli.ts for the same as commands.
import fs from 'node:fs';
import path from 'node:path';
import { injectFault as inject, listFaults, registerFault, type Fault, type FaultContext } from './faults.ts';
import './gpu-faults.ts';
import './mig-faults.ts';
import './rollout-faults.ts';
import './ssh-faults.ts';
import './kserve/faults.ts';
import { fleetSpec, type NodeSpec } from './fleet/catalog.ts';
import { readFleetTruth, type FleetTruth } from './fleet/truth.ts';
import { nodeNetOf } from './node-network.ts';
import { churnPods as churn, createGpuPods as createPods, type ChurnResult, type GpuPodOptions, type GpuPodsResult } from './workloads/bench.ts';
import { kubeFromKubeconfig } from './kubeconfig.ts';
import { isUp, testbedStatus, type TestbedStatus } from './status.ts';
import { stopTestbed, stopTestbedSync } from './supervise.ts';
import { ensureTestbed, type StartOptions } from './up.ts';
import { defaultStateDir, readInfo, type TestbedInfo } from './state.ts';
import type { Kube } from './kube.ts';

export type { ChurnResult, Fault, FaultContext, FleetTruth, GpuPodOptions, GpuPodsResult, NodeSpec, StartOptions, TestbedInfo, TestbedStatus };
export type { GpuTruth, HolderTruth, MigDeviceTruth, NodeTruth } from './fleet/truth.ts';
export { Kube, KubeError, type WatchEvent } from './kube.ts';
export { SIM_ANNOTATIONS } from './fleet/pod-lifecycle.ts';
export { DCGM_PORT } from './fleet/dcgm/exporters.ts';
export { DCGM_APP, GPU_OPERATOR_NAMESPACE, dcgmPodName } from './fleet/gpu-operator.ts';
export { MIG_CONFIG_LABEL, MIG_PAUSED, MIG_PAUSED_OPERANDS, MIG_STATE_LABEL } from './fleet/mig-manager.ts';
export { CLUSTER_POLICY_NAME, clusterPolicyPath, DEFAULT_MIG_CONFIG, MIG_CONFIG_KEY } from './fleet/operator-crds.ts';
export { scrapeNode } from './gpu-faults.ts';
export { DEFAULT_UPGRADE_MS, INITIAL_UNSCHEDULABLE, UPGRADE_MS_ANNOTATION, UPGRADE_SKIP_LABEL, UPGRADE_STATE_LABEL, type UpgradeState } from './fleet/driver-upgrade.ts';
export { PDB_BLOCK_NAMESPACE } from './rollout-faults.ts';
export { ISVC_LABEL, REVISION_LABEL } from './kserve/controller.ts';
export { CONFIG_MAP as KSERVE_CONFIG_MAP, KSERVE_NAMESPACE, MODELS_PVC, MODEL_NAMESPACES } from './kserve/apis.ts';
export { kserveSimStatus } from './kserve/status.ts';
export { ensureSshHosts, readSshBed, sshBedStatus, sshPaths, type SshBedRecord, type SshBedStatus, type SshHostRecord } from './ssh-hosts.ts';
export { planWorkloads, WORKLOAD_NAMESPACES, type Workload } from './workloads/seed.ts';
export { defaultStateDir, fleetSpec, isUp, listFaults, registerFault, stopTestbed, testbedStatus };

/** The fleet of a running test bed, node IPs included (they depend on the test bed's node network). */
export function testbedFleet(info: TestbedInfo): NodeSpec[] {
  return fleetSpec(info.nodes, { net: nodeNetOf(info) });
}

/**
 * The simulator's ground truth: per node, its GPUs with UUIDs, PCI bus ids, MIG
 * instances (GI id, profile, placement, MIG-<uuid>) and which pod holds what.
 * Rewritten by the simulator within ~0.3 s of a change; undefined before it starts.
 */
export function fleetTruth(stateDir: string = defaultStateDir()): FleetTruth | undefined {
  return readFleetTruth(path.resolve(stateDir));
}

/** `count` GPU pods in `namespaces` (default bench-a..d), owned by PyTorchJobs, with bounded concurrency. */
export async function createGpuPods(info: TestbedInfo, opts: GpuPodOptions): Promise<GpuPodsResult> {
  const kube = testbedClient(info);
  try {
    return await createPods(kube, opts);
  } finally {
    kube.close();
  }
}

/** Deletes n benchmark pods and creates n replacements at once. */
export async function churnPods(info: TestbedInfo, n: number, opts: Partial<Omit<GpuPodOptions, 'count'>> = {}): Promise<ChurnResult> {
  const kube = testbedClient(info);
  try {
    return await churn(kube, n, opts);
  } finally {
    kube.close();
  }
}

/** Starts a test bed (or returns the one already running in opts.stateDir). */
export async function startTestbed(opts: StartOptions = {}): Promise<TestbedInfo> {
  return (await ensureTestbed(opts)).info;
}

export function readTestbed(stateDir: string = defaultStateDir()): TestbedInfo | undefined {
  return readInfo(path.resolve(stateDir));
}

export function injectFault(stateDir: string, name: string, targets: string[] = []): Promise<string> {
  return inject(path.resolve(stateDir), name, targets);
}

export type KubeconfigName = keyof TestbedInfo['kubeconfigs'];

/** A REST client authenticated as one of the test bed's users (exec plugins are run). */
export function testbedClient(info: TestbedInfo, who: KubeconfigName = 'admin'): Kube & { namespace?: string } {
  return kubeFromKubeconfig(info.kubeconfigs[who], { userAgent: `tessera-test/${who}` });
}

let shared: Promise<TestbedInfo> | undefined;

/**
 * The test bed named by TESSERA_TESTBED_STATE (else the default state dir): reused
 * if it is up, otherwise started here (TESSERA_TESTBED_NODES nodes, default 24;
 * TESSERA_TESTBED_WORKLOADS=0 for no GPU workloads) and stopped when this process exits.
 */
export function sharedTestbed(opts: Omit<StartOptions, 'stateDir'> = {}): Promise<TestbedInfo> {
  shared ??= (async () => {
    const stateDir = path.resolve(process.env.TESSERA_TESTBED_STATE || defaultStateDir());
    if (await isUp(stateDir)) return readInfo(stateDir)!;
    const envNodes = process.env.TESSERA_TESTBED_NODES ? Number(process.env.TESSERA_TESTBED_NODES) : undefined;
    const envWorkloads = process.env.TESSERA_TESTBED_WORKLOADS === '0' ? false : undefined;
    const { info, started } = await ensureTestbed({ nodes: envNodes, workloads: envWorkloads, ...opts, stateDir });
    if (started) stopAtExit(stateDir);
    return info;
  })();
  return shared;
}

function stopAtExit(stateDir: string): void {
  let done = false;
  const stop = () => {
    if (done || !fs.existsSync(stateDir)) return;
    done = true;
    stopTestbedSync(stateDir);
  };
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stop();
      // Our listener replaced the default action; re-raise it now that we are gone.
      process.kill(process.pid, sig);
    });
  }
}
