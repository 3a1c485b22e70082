// Pod status as a kubelet (containerd runtime) reports it, for the phases the
// simulator moves pods through.
import crypto from 'node:crypto';
import { rfc3339 } from '../kube.ts';
import type { Pod } from './pod-informer.ts';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

const condition = (type: string, status: 'True' | 'False', now: string, reason?: string) => ({
  type,
  status,
  lastProbeTime: null,
  lastTransitionTime: now,
  ...(reason ? { reason } : {}),
});

/** containerd reports fully qualified references: nginx:1.25 → docker.io/library/nginx:1.25. */
function normalizeImage(image: string): { ref: string; repo: string } {
  let ref = image.includes('@') || /:[^/]+$/.test(image) ? image : `${image}:latest`;
  const first = ref.split('/')[0] ?? '';
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  const repo = ref.split('@')[0]!.replace(/:[^/]+$/, '');
  return { ref, repo };
}

function containerIds(pod: Pod, name: string, image: string) {
  const { ref, repo } = normalizeImage(image);
  return {
    containerID: `containerd://${sha(`${pod.metadata.uid}/${name}`)}`,
    image: ref,
    imageID: `${repo}@sha256:${sha(ref)}`,
  };
}

/** The scheduler wrote PodScheduled; a kubelet status update carries it over unchanged. */
function scheduledCondition(pod: Pod, now: string) {
  return (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled') ?? condition('PodScheduled', 'True', now);
}

export function runningStatus(pod: Pod, hostIP: string, podIP: string) {
  const now = rfc3339();
  return {
    phase: 'Running',
    conditions: [
      condition('Initialized', 'True', now),
      condition('Ready', 'True', now),
      condition('ContainersReady', 'True', now),
      scheduledCondition(pod, now),
    ],
    hostIP,
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: now,
    initContainerStatuses: (pod.spec.initContainers ?? []).map((c) => ({
      name: c.name,
      ...containerIds(pod, c.name, c.image),
      ready: true,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now, containerID: containerIds(pod, c.name, c.image).containerID } },
      lastState: {},
    })),
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      ...containerIds(pod, c.name, c.image),
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
      lastState: {},
    })),
  };
}

export function terminatedStatus(pod: Pod, hostIP: string, podIP: string, t: { exitCode: number; reason: string; message?: string }) {
  const now = rfc3339();
  const succeeded = t.exitCode === 0;
  const started = (pod.status as { startTime?: string } | undefined)?.startTime ?? now;
  return {
    phase: succeeded ? 'Succeeded' : 'Failed',
    conditions: [
      condition('Initialized', 'True', now),
      condition('Ready', 'False', now, 'PodCompleted'),
      condition('ContainersReady', 'False', now, 'PodCompleted'),
      scheduledCondition(pod, now),
    ],
    hostIP,
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: started,
    containerStatuses: pod.spec.containers.map((c, i) => {
      const ids = containerIds(pod, c.name, c.image);
      return {
        name: c.name,
        ...ids,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            // The first container carries the failure; a real pod fails when any container does.
            exitCode: i === 0 ? t.exitCode : 0,
            reason: i === 0 ? t.reason : 'Completed',
            ...(i === 0 && t.message ? { message: t.message } : {}),
            startedAt: started,
            finishedAt: now,
            containerID: ids.containerID,
          },
        },
        lastState: {},
      };
    }),
  };
}

/** A pod the kubelet refused at admission: it never started a container. */
export function rejectedStatus(reason: string, message: string) {
  return { phase: 'Failed', reason, message, startTime: rfc3339() };
}
