// Readiness gating for an update: after the change is applied, wait until it
// is live (RawDeployment: new pods Ready and the old ones gone; Serverless:
// the new revision ready with all traffic), reporting each new state once. A
// failing revision or the timeout ends it with the reason.
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { Endpoint } from '../../../shared/model/endpoints.ts';
import type { Clock } from '../clock.ts';
import type { KubeObject } from './endpoint-objects.ts';
import { conditionsOf, failureOf, FAILURE_REASONS, livePods, podReady, projectPod } from './endpoint-status.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  namespace: string;
  name: string;
  /** Reads the InferenceService and its predictor pods, fresh each time. */
  read(): Promise<KubeObject>;
  pods(): Promise<KubeObject[]>;
  clock: Clock;
  pollMs: number;
  /** The generation the change made (undefined: do not wait for the controller to observe it). */
  generation?: number;
  mode: Endpoint['mode'];
  /** UIDs of the predictor pods before the change. */
  oldPods: Set<string>;
  timeoutMs: number;
  /** Aborting stops the waiting (the change stays applied). */
  signal?: AbortSignal;
}

/** Waits until a change is live, reporting each new state once; a failing revision or the timeout ends it with the reason. */
export async function waitLive(o: WaitOptions, step: (m: string) => void): Promise<void> {
  const { namespace, name } = o;
  const deadline = o.clock.now() + o.timeoutMs;
  let last = 'waiting for the controller';
  for (;;) {
    if (o.signal?.aborted) {
      step('stopped waiting: the change stays applied and KServe goes on with it');
      return;
    }
    const obj = await o.read();
    const pods = livePods(await o.pods());
    const observed = o.generation === undefined || (obj.status?.observedGeneration ?? 0) >= o.generation;
    const conds = conditionsOf(obj);
    const ready = conds.find((c) => c.type === 'Ready')?.status === 'True';
    const failure = failureOf(obj);
    const pred = obj.status?.components?.predictor ?? {};
    if (!observed) last = `waiting for the controller to see generation ${o.generation}`;
    else if (o.mode === 'RawDeployment') {
      const fresh = pods.filter((p) => !o.oldPods.has(p.metadata.uid));
      const old = pods.filter((p) => o.oldPods.has(p.metadata.uid));
      const freshReady = fresh.filter(podReady).length;
      const want = Math.max(1, obj.spec?.predictor?.minReplicas ?? 1);
      const stuck = fresh.map(projectPod).find((p) => p.reason && /BackOff|Err|Unexpected|Failed|OOM/.test(p.reason));
      if (failure?.reason && FAILURE_REASONS.has(failure.reason) && conds.some((c) => c.status === 'False' && c.reason === failure.reason)) {
        throw new TesseraError('COMMAND_FAILED', `update of ${namespace}/${name} failed: ${failure.reason}${failure.message ? `: ${failure.message}` : ''}`, { reason: failure.reason });
      }
      last = `new pods ${freshReady}/${Math.max(want, fresh.length)} ready, ${old.length} old pod${old.length === 1 ? '' : 's'} still running${stuck ? ` (${stuck.name}: ${stuck.reason})` : ''}`;
      step(last);
      if (ready && freshReady >= want && freshReady === fresh.length && old.length === 0) {
        step('new pods Ready and old pods gone: the update is live');
        return;
      }
    } else {
      const latest = pred.latestCreatedRevision as string | undefined;
      if (latest && latest !== pred.latestReadyRevision && failure?.reason && FAILURE_REASONS.has(failure.reason)) {
        throw new TesseraError('COMMAND_FAILED', `revision ${latest} of ${namespace}/${name} failed: ${failure.reason}${failure.message ? `: ${failure.message}` : ''}; traffic stays on ${pred.latestReadyRevision ?? 'the previous revision'}`, { reason: failure.reason, revision: latest });
      }
      const toLatest = (pred.traffic ?? []).filter((t: KubeObject) => t.latestRevision).reduce((n: number, t: KubeObject) => n + (t.percent ?? 0), 0);
      last = `revision ${latest ?? '?'}: ${latest && latest === pred.latestReadyRevision ? 'ready' : 'not ready yet'}, ${toLatest}% of traffic`;
      step(last);
      if (ready && latest && latest === pred.latestReadyRevision && toLatest === 100) {
        step(`revision ${latest} ready with all traffic: the update is live`);
        return;
      }
    }
    if (o.clock.now() > deadline) throw new TesseraError('TIMEOUT', `update of ${namespace}/${name} not live after ${Math.round(o.timeoutMs / 1000)} s (${last}); the change is applied and KServe keeps working on it`);
    await sleep(o.pollMs);
  }
}
