// etcd + kube-apiserver + kube-controller-manager + kube-scheduler 1.20, all on
// loopback. Flags follow reference/testbed.md; deviations are commented.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kube } from './kube.ts';
import type { Pki } from './pki.ts';
import { sleep } from './processes.ts';
import type { ProcessSpec } from './state.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Runs (or short-circuits via its cache) the build script; its last stdout line is the bin dir. */
export function ensureBinaries(log: (m: string) => void): string {
  const script = path.join(HERE, 'build-control-plane.sh');
  log('ensuring control-plane binaries (first build takes ~9 min)');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = out.trim().split('\n').pop()?.trim();
  if (!bin || !fs.existsSync(path.join(bin, 'kube-apiserver'))) throw new Error(`build-control-plane.sh gave no usable bin dir: ${out}`);
  return bin;
}

export interface ControlPlanePorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
}

export interface ControlPlaneConfig {
  stateDir: string;
  binDir: string;
  ports: ControlPlanePorts;
  pki: Pki;
  tokenFile: string;
  internalKubeconfig: string;
  /** Scaled with fleet size so the simulator's lease renewals stay cheap. */
  nodeMonitorGracePeriodSeconds: number;
  /** The fleet's SOCKS5 pod network (fleet/pod-network.ts), through which the API server reaches pod IPs. */
  podNetworkPort: number;
}

export function controlPlaneSpecs(c: ControlPlaneConfig): ProcessSpec[] {
  const logs = path.join(c.stateDir, 'logs');
  const etcdUrl = `http://127.0.0.1:${c.ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${c.ports.etcdPeer}`;
  const bin = (n: string) => path.join(c.binDir, n);
  return [
    {
      name: 'etcd',
      command: '/usr/bin/etcd',
      args: [
        '--name=testbed',
        `--data-dir=${path.join(c.stateDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=testbed=${peerUrl}`,
        '--logger=zap',
        '--log-level=warn',
      ],
      log: path.join(logs, 'etcd.log'),
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${c.ports.apiserver}`,
        '--insecure-port=0',
        `--cert-dir=${path.join(c.stateDir, 'apiserver-certs')}`,
        `--tls-cert-file=${c.pki.serverCert}`,
        `--tls-private-key-file=${c.pki.serverKey}`,
        `--client-ca-file=${c.pki.caCert}`,
        `--token-auth-file=${c.tokenFile}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${c.pki.saPub}`,
        `--service-account-signing-key-file=${c.pki.saKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--profiling=false',
        // The fleet writes with ~32 requests in flight plus heartbeats; leave headroom.
        '--max-requests-inflight=800',
        '--max-mutating-requests-inflight=400',
        // Pod exec dials the node's kubelet; nodes also list their name as Hostname, which no DNS here resolves.
        '--kubelet-preferred-address-types=InternalIP',
      ],
      log: path.join(logs, 'kube-apiserver.log'),
      // The pod/service proxy dials pod IPs with a transport that honours HTTP_PROXY
      // (socks5:// included); loopback never goes through it, so etcd and webhooks
      // on 127.0.0.1 are untouched. NO_PROXY is pinned so a user's setting cannot bypass it.
      env: { HTTP_PROXY: `socks5://127.0.0.1:${c.podNetworkPort}`, NO_PROXY: 'localhost', no_proxy: 'localhost' },
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${c.internalKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${c.ports.controllerManager}`,
        '--port=0',
        `--service-account-private-key-file=${c.pki.saKey}`,
        `--root-ca-file=${c.pki.caCert}`,
        `--cluster-signing-cert-file=${c.pki.caCert}`,
        `--cluster-signing-key-file=${c.pki.caKey}`,
        '--use-service-account-credentials=false',
        '--leader-elect=false',
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route",
        `--node-monitor-grace-period=${c.nodeMonitorGracePeriodSeconds}s`,
        '--node-monitor-period=2s',
        // Default QPS 20 would take minutes to untaint 2000 freshly Ready nodes.
        '--kube-api-qps=200',
        '--kube-api-burst=400',
      ],
      log: path.join(logs, 'kube-controller-manager.log'),
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      // Flags, not --config: with a config file 1.20 ignores --port=0 and binds 0.0.0.0:10251, so two test beds collide.
      args: [`--kubeconfig=${c.internalKubeconfig}`, '--leader-elect=false', '--kube-api-qps=200', '--kube-api-burst=400', '--bind-address=127.0.0.1', `--secure-port=${c.ports.scheduler}`, '--port=0'],
      log: path.join(logs, 'kube-scheduler.log'),
    },
  ];
}

export async function waitForEtcd(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`etcd on port ${port} not healthy after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export async function apiserverReady(kube: Kube): Promise<boolean> {
  try {
    const { status } = await kube.raw('GET', '/readyz', undefined, { timeoutMs: 2000 });
    return status === 200;
  } catch {
    return false;
  }
}

export async function waitForApiserver(kube: Kube, isRunning: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await apiserverReady(kube))) {
    if (!isRunning()) throw new Error('kube-apiserver exited while starting; see its log in the state dir');
    if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after ${timeoutMs} ms`);
    await sleep(250);
  }
}
