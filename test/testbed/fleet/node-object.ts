// The Node object a kubelet registers, and the condition sets it reports later.
import crypto from 'node:crypto';
import { rfc3339 } from '../kube.ts';
import type { NodeSpec } from './catalog.ts';
import { gpuResources, nodeLabels } from './labels.ts';

export const KUBELET_VERSION = 'v1.20.2';

const hex = (s: string, len: number) => crypto.createHash('sha256').update(s).digest('hex').slice(0, len);
const uuid = (s: string) => {
  const h = hex(s, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export type ReadyStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ReadyStatus;
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

/** The kubelet's four node conditions for a given Ready state. */
export function kubeletConditions(ready: ReadyStatus, now = rfc3339(), notReadyMessage?: string): Condition[] {
  const c = (type: string, status: ReadyStatus, reason: string, message: string): Condition => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  if (ready === 'Unknown') {
    // What the node lifecycle controller writes once a kubelet stops posting status.
    return ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((t) =>
      c(t, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
    );
  }
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready === 'True'
      ? c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
      : c('Ready', 'False', 'KubeletNotReady', notReadyMessage ?? 'container runtime is down'),
  ];
}

function resources(spec: NodeSpec): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const { cpu, memoryGi, diskGi } = spec.machine;
  const memKi = memoryGi * 1024 * 1024 - 3 * 1024 * 1024; // firmware/kernel reservations
  const diskKi = diskGi * 1024 * 1024;
  const gpu = gpuResources(spec);
  return {
    capacity: {
      cpu: String(cpu),
      memory: `${memKi}Ki`,
      pods: '110',
      'ephemeral-storage': `${diskKi}Ki`,
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      ...gpu,
    },
    // kubeReserved/systemReserved of 1 CPU + 2 GiB, plus the default eviction thresholds.
    allocatable: {
      cpu: `${cpu * 1000 - 1000}m`,
      memory: `${memKi - 2 * 1024 * 1024 - 100 * 1024}Ki`,
      pods: '110',
      'ephemeral-storage': String(Math.floor(diskKi * 1024 * 0.9)),
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      ...gpu,
    },
  };
}

export function nodeObject(spec: NodeSpec, now = rfc3339()): Record<string, unknown> {
  const annotations: Record<string, string> = { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' };
  if (spec.gpu && spec.gpu.labels === 'both') annotations['nvidia.com/gpu-driver-upgrade-enabled'] = 'true';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, labels: nodeLabels(spec), annotations },
    spec: {
      podCIDR: spec.podCIDR,
      podCIDRs: [spec.podCIDR],
      ...(spec.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      ...resources(spec),
      conditions: kubeletConditions('True', now),
      addresses: [
        { type: 'InternalIP', address: spec.ip },
        { type: 'Hostname', address: spec.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(`machine-${spec.name}`, 32),
        systemUUID: uuid(`system-${spec.name}`),
        bootID: uuid(`boot-${spec.name}`),
        kernelVersion: spec.os.kernel,
        osImage: spec.os.image,
        containerRuntimeVersion: spec.os.runtime,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: KUBELET_VERSION,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

export function leaseObject(nodeName: string, nodeUid: string | undefined, leaseDurationSeconds: number, renewTime: string) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: 'kube-node-lease',
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds, renewTime },
  };
}
