// What the simulated model servers write to stdout: the start-up of each
// predictor pod (model registered, loaded from its storage URI, server
// listening) or its load failure, and an access-log line for every request the
// data plane served, on a ready pod of the revision that answered. The lines go
// to the per-container log files the simulated kubelets serve as pods/log
// (fleet/container-logs.ts), so `kubectl logs` of a predictor shows them.
import fs from 'node:fs';
import { appendPodLog, podLogFile, rotatePodLog } from '../fleet/container-logs.ts';

export const MODEL_CONTAINER = 'kserve-container';

export interface ModelInfo {
  /** The model name (the InferenceService's). */
  name: string;
  storageUri?: string;
  runtime?: string;
  format?: string;
}

interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

const reasonPhrase: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 422: 'Unprocessable Entity', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export function startupLines(m: ModelInfo, pod: string): string[] {
  return [
    `INFO:root:Starting model server for ${m.name} (runtime ${m.runtime ?? 'custom'}, format ${m.format ?? 'custom'}) in pod ${pod}`,
    `INFO:kserve.storage:Copying contents of ${m.storageUri ?? '(none)'} to local /mnt/models`,
    `INFO:kserve:Registering model: ${m.name}`,
  ];
}

export const loadedLines = (m: ModelInfo): string[] => [
  `INFO:kserve:Model ${m.name} loaded successfully`,
  'INFO:kserve:Setting max asyncio worker threads as 12',
  'INFO:uvicorn.error:Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)',
];

export const failedLines = (m: ModelInfo, message: string): string[] => [`ERROR:kserve:Failed to load model ${m.name}: ${message}`, 'ERROR:root:Model server exited with code 1'];

export const accessLine = (method: string, path: string, status: number, ms: number): string =>
  `INFO:     10.128.0.1:0 - "${method} ${path} HTTP/1.1" ${status} ${reasonPhrase[status] ?? ''} (${ms} ms)`.trimEnd();

export class ModelServerLogs {
  /** Pod uids whose start-up is written (a restarted simulator finds it in the file instead). */
  private readonly started = new Set<string>();
  /** Ready pods per data-plane key (uid/revision, or uid in Raw mode), refreshed every tick. */
  private ready = new Map<string, PodRef[]>();
  private next = new Map<string, number>();

  constructor(private readonly stateDir: string) {}

  /** A predictor pod is Running: writes its start-up once, with the load failure when its model does not load. */
  podRunning(pod: PodRef, model: ModelInfo, failure: string | undefined): void {
    if (this.started.has(pod.uid)) return;
    this.started.add(pod.uid);
    if (fs.existsSync(podLogFile(this.stateDir, pod.namespace, pod.name, pod.uid, MODEL_CONTAINER))) return;
    const write = (lines: string[]) => appendPodLog(this.stateDir, pod.namespace, pod.name, pod.uid, MODEL_CONTAINER, lines);
    write(startupLines(model, pod.name));
    if (failure === undefined) {
      write(loadedLines(model));
      return;
    }
    // The failed attempt becomes the previous container; the restarted one fails the same way.
    write(failedLines(model, failure));
    rotatePodLog(this.stateDir, pod.namespace, pod.name, pod.uid, MODEL_CONTAINER);
    write([...startupLines(model, pod.name), ...failedLines(model, failure)]);
  }

  podGone(uid: string): void {
    this.started.delete(uid);
  }

  /** Call at the start of a tick, then setReady for each key. */
  resetReady(): void {
    this.ready = new Map();
  }

  setReady(key: string, pods: PodRef[]): void {
    this.ready.set(key, pods);
  }

  /** The data plane answered a request on `key`: one access-log line on the next ready pod (round-robin, as a Service spreads them). */
  served(key: string, method: string, path: string, status: number, ms: number): void {
    const pods = this.ready.get(key) ?? [];
    if (pods.length === 0) return;
    const i = (this.next.get(key) ?? 0) % pods.length;
    this.next.set(key, i + 1);
    const p = pods[i]!;
    appendPodLog(this.stateDir, p.namespace, p.name, p.uid, MODEL_CONTAINER, [accessLine(method, path, status, ms)]);
  }
}
