// The test bed as a library for tests. See cli.ts for the same as commands.
import fs from 'node:fs';
import path from 'node:path';
import { injectFault as inject, listFaults, registerFault, type Fault, type FaultContext } from './faults.ts';
import { kubeFromKubeconfig } from './kubeconfig.ts';
import { isUp, testbedStatus, type TestbedStatus } from './status.ts';
import { stopTestbed, stopTestbedSync } from './supervise.ts';
import { ensureTestbed, type StartOptions } from './up.ts';
import { defaultStateDir, readInfo, type TestbedInfo } from './state.ts';
import type { Kube } from './kube.ts';

export type { Fault, FaultContext, StartOptions, TestbedInfo, TestbedStatus };
export { Kube, KubeError, type WatchEvent } from './kube.ts';
export { SIM_ANNOTATIONS } from './fleet/pod-lifecycle.ts';
export { fleetSpec, type NodeSpec } from './fleet/catalog.ts';
export { defaultStateDir, isUp, listFaults, registerFault, stopTestbed, testbedStatus };

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
 * if it is up, otherwise started here (TESSERA_TESTBED_NODES nodes, default 24)
 * and stopped when this process exits.
 */
export function sharedTestbed(opts: Omit<StartOptions, 'stateDir'> = {}): Promise<TestbedInfo> {
  shared ??= (async () => {
    const stateDir = path.resolve(process.env.TESSERA_TESTBED_STATE || defaultStateDir());
    if (await isUp(stateDir)) return readInfo(stateDir)!;
    const envNodes = process.env.TESSERA_TESTBED_NODES ? Number(process.env.TESSERA_TESTBED_NODES) : undefined;
    const { info, started } = await ensureTestbed({ nodes: envNodes, ...opts, stateDir });
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
