// KServe inference endpoints (InferenceService, serving.kserve.io/v1beta1) as
// Tessera shows them: the create form's spec, the list row and detail
// projected from the object's status, and the data-plane test results.
// Facts behind these shapes: shared/reference/kserve.md §1–§5.

/** The deployment modes Tessera offers. KServe ≥0.16 calls them Knative/Standard; the old names are still accepted. */
export type DeploymentMode = 'Serverless' | 'RawDeployment';

/** The request protocols the test panel speaks: v1 `:predict`, Open Inference Protocol v2 `infer`, the OpenAI routes. */
export type TestProtocol = 'v1' | 'v2' | 'openai-completions' | 'openai-chat';
export const TEST_PROTOCOLS: readonly TestProtocol[] = ['v1', 'v2', 'openai-completions', 'openai-chat'];

export type EndpointGpu = { kind: 'none' } | { kind: 'full'; count: number } | { kind: 'mig'; profile: string; count: number };

export interface KeyValue {
  key: string;
  value: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** What the create form fills in; `endpointObject` turns it into an InferenceService. */
export interface EndpointSpec {
  name: string;
  namespace: string;
  /** `spec.predictor.model.modelFormat.name`: sklearn, triton, huggingface, vLLM, onnx... */
  modelFormat: string;
  modelFormatVersion?: string;
  /** A (Cluster)ServingRuntime name; absent: KServe picks an autoSelect runtime for the format. */
  runtime?: string;
  /** pvc://<claim>/<path>, s3://, gs://, oci://, hf:// ... */
  storageUri: string;
  protocolVersion?: 'v1' | 'v2';
  gpu: EndpointGpu;
  /** Kubernetes quantities for requests = limits, e.g. "1" and "4Gi". */
  cpu?: string;
  memory?: string;
  minReplicas?: number;
  maxReplicas?: number;
  scaleTarget?: number;
  scaleMetric?: 'concurrency' | 'rps' | 'cpu' | 'memory';
  /** Absent: the cluster's default from inferenceservice-config. */
  deploymentMode?: DeploymentMode;
  serviceAccountName?: string;
  nodeSelector?: KeyValue[];
  tolerations?: Toleration[];
}

/** A change for a canary or an update: only what is given changes. */
export type EndpointChange = Partial<Pick<EndpointSpec, 'modelFormat' | 'modelFormatVersion' | 'runtime' | 'storageUri' | 'protocolVersion' | 'gpu' | 'cpu' | 'memory'>>;

export interface RuntimeFormat {
  name: string;
  version?: string;
  autoSelect: boolean;
  priority?: number;
}

export interface ServingRuntimeInfo {
  name: string;
  kind: 'ClusterServingRuntime' | 'ServingRuntime';
  /** Set for namespaced ServingRuntimes. */
  namespace?: string;
  formats: RuntimeFormat[];
  protocolVersions: string[];
  disabled: boolean;
  multiModel: boolean;
  /** Where its OpenAI-compatible routes live, when it has them (`/openai/v1` Hugging Face, `/v1` vLLM). */
  openaiPrefix?: string;
  /** The test protocols a request to this runtime can use. */
  protocols: TestProtocol[];
}

export interface ModelStorageClaim {
  namespace: string;
  name: string;
  phase?: string;
  size?: string;
  accessModes: string[];
  /** `pvc://<name>/` to start a storageUri with. */
  uri: string;
}

export interface EndpointsDiscovery {
  clusterId: string;
  /** Whether serving.kserve.io serves InferenceServices here. */
  installed: boolean;
  /** serving.kserve.io versions served (v1beta1, v1alpha1). */
  versions: string[];
  /** Whether ServingRuntime/ClusterServingRuntime (v1alpha1) exist: old KServe picks runtimes by framework block only. */
  runtimeApi: boolean;
  runtimes: ServingRuntimeInfo[];
  /** Whether Knative Serving (serving.knative.dev) is served: Serverless needs it. */
  knative: boolean;
  modes: DeploymentMode[];
  defaultMode: DeploymentMode;
  /** Where defaultMode came from. */
  defaultModeSource: 'inferenceservice-config' | 'fallback';
  /** PVCs in the namespace asked for (or every readable one), usable as pvc:// model storage. */
  storage: ModelStorageClaim[];
  namespaces: string[];
  /** Why something is missing, in words (KServe absent, no runtimes readable...). */
  notes: string[];
}

export interface EndpointCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  severity?: string;
  lastTransitionTime?: string;
}

export interface TrafficTarget {
  revision: string;
  percent: number;
  latest: boolean;
  tag?: string;
  url?: string;
}

export type EndpointState = 'ready' | 'progressing' | 'canary' | 'failed' | 'stopped' | 'unknown';

export interface GpuHeld {
  /** nvidia.com/gpu or nvidia.com/mig-<profile>. */
  resource: string;
  count: number;
}

/** One row of the endpoints list. */
export interface Endpoint {
  clusterId: string;
  namespace: string;
  name: string;
  createdAt?: string;
  ageSeconds: number;
  mode: DeploymentMode | 'ModelMesh' | 'unknown';
  state: EndpointState;
  /** The Ready condition's status (the single source of truth). */
  ready: 'True' | 'False' | 'Unknown';
  /** The first not-True condition's reason and message, or a model load failure. */
  reason?: string;
  message?: string;
  conditions: EndpointCondition[];
  url?: string;
  runtime?: string;
  modelFormat?: string;
  storageUri?: string;
  protocolVersion?: string;
  /** What the predictor spec asks for per replica. */
  gpu: EndpointGpu;
  gpuLabel: string;
  /** What its running predictor pods hold right now (summed). */
  gpusHeld: GpuHeld[];
  replicas: { ready: number; total: number; min?: number; max?: number };
  /** Serverless only; empty in RawDeployment. */
  traffic: TrafficTarget[];
  latestReadyRevision?: string;
  latestCreatedRevision?: string;
  latestRolledoutRevision?: string;
  previousRolledoutRevision?: string;
  canaryTrafficPercent?: number;
  generation?: number;
  observedGeneration?: number;
  /** generation == observedGeneration: the status describes the current spec. */
  upToDate: boolean;
  /** The form spec recovered from the object (best effort; the YAML is the truth). */
  spec: EndpointSpec;
  /** Test protocols its runtime speaks. */
  protocols: TestProtocol[];
}

export interface EndpointEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen?: string;
  /** "InferenceService/x", "Pod/x-predictor-00001-deployment-abc". */
  object: string;
}

export interface EndpointPod {
  name: string;
  revision?: string;
  phase: string;
  ready: boolean;
  node?: string;
  restarts: number;
  /** A waiting/terminated container's reason (CrashLoopBackOff, OOMKilled...). */
  reason?: string;
  gpus: GpuHeld[];
  /** GPU utilisation of the devices this pod holds (dcgm-exporter), when metrics are available. */
  gpuUtilPct?: number;
  fbUsedMiB?: number;
}

export interface RevisionInfo {
  name: string;
  percent: number;
  latest: boolean;
  tag?: string;
  ready: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  pods: number;
  readyPods: number;
  /** Mean GPU utilisation of its pods, when known. */
  gpuUtilPct?: number;
  /** The model it serves (from its spec, when the revision object is readable). */
  storageUri?: string;
}

export interface EndpointDetail extends Endpoint {
  events: EndpointEvent[];
  pods: EndpointPod[];
  /** Serverless: each revision with its traffic share, readiness and pod metrics (side by side for a canary). */
  revisions: RevisionInfo[];
  /** Why pod GPU metrics are missing, when they are. */
  metricsNote?: string;
  /** The object as YAML without managedFields (for the expert editor). */
  yaml: string;
  /** Model load failure (modelStatus.lastFailureInfo). */
  failure?: { reason: string; message?: string };
}

export interface EndpointPreview {
  ok: boolean;
  /** The InferenceService as it will be sent. */
  yaml: string;
  object: Record<string, unknown>;
  /** Local checks, RBAC and the server's dry run, each naming what is wrong. */
  problems: string[];
  /** Each permission checked, with `permission` in the form details.missing uses ("create inferenceservices.serving.kserve.io in ml"). */
  access: { allowed: boolean; reason: string; permission?: string }[];
  /** Whether the server's dry run (`?dryRun=All`) accepted it; absent when it was not reached. */
  dryRun?: { ok: boolean; message?: string };
  /** Where the GPU asked for is free now (from the node inventory); empty when none is. */
  capacity?: { free: number; nodes: number; note: string };
}

export interface EndpointAccess {
  create: { allowed: boolean; reason: string };
  patch: { allowed: boolean; reason: string };
  /** Canary and update send the whole object (PUT), which RBAC checks as `update`, not `patch`. */
  update: { allowed: boolean; reason: string };
  delete: { allowed: boolean; reason: string };
}

/** An action on an existing endpoint. */
export type EndpointAction = 'canary' | 'promote' | 'rollback' | 'update' | 'delete';

/**
 * The RBAC verb on inferenceservices each action needs: what core checks
 * before it acts (canary and update replace the object; promote and roll back
 * merge-patch canaryTrafficPercent), and what the UI disables buttons by.
 */
export const ENDPOINT_ACTION_VERBS: Readonly<Record<EndpointAction, 'update' | 'patch' | 'delete'>> = {
  canary: 'update',
  promote: 'patch',
  rollback: 'patch',
  update: 'update',
  delete: 'delete',
};

export interface UpdateStep {
  at: string;
  message: string;
}

export interface EndpointUpdateResult {
  endpoint: Endpoint;
  steps: UpdateStep[];
}

export interface DeleteStatement {
  /** What goes: the InferenceService, its revisions and predictor pods. */
  deletes: { kind: string; namespace: string; name: string }[];
  /** What stays: the model storage. */
  keeps: { kind: string; namespace?: string; name: string; note: string }[];
  summary: string;
}

export interface ProbeResult {
  name: string;
  method: 'GET';
  path: string;
  ok: boolean;
  status?: number;
  latencyMs?: number;
  body?: string;
  error?: string;
}

export interface TestResult {
  protocol: TestProtocol;
  method: 'POST';
  /** The path on the endpoint's own URL (the host is the ISVC's status URL or a traffic URL). */
  url: string;
  status: number;
  ok: boolean;
  latencyMs: number;
  /** The serving revision, from the response headers when the server says it. */
  revision?: string;
  headers: Record<string, string>;
  /** The body as text, cut at 64 KiB. */
  body: string;
  truncated: boolean;
}

export interface LoadTestProgress {
  done: number;
  total: number;
  errors: number;
}

export interface LoadTestResult {
  protocol: TestProtocol;
  requests: number;
  concurrency: number;
  completed: number;
  succeeded: number;
  /** Failures by kind: "HTTP 503", "timeout", "connection refused"... */
  errors: { kind: string; count: number }[];
  latencyMs: { min: number; mean: number; p50: number; p95: number; p99: number; max: number };
  /** Responses per serving revision (from the response header); "unknown" when it was not said. */
  perRevision: { revision: string; count: number; percent: number }[];
  durationMs: number;
  requestsPerSecond: number;
}

/** Live list: a reset, then coalesced upserts and removals (keys `<clusterId>|<ns>/<name>`). */
export interface EndpointsDelta {
  reset?: Endpoint[];
  upsert: Endpoint[];
  remove: string[];
  status: 'syncing' | 'live' | 'reconnecting';
  error?: { code: string; message: string };
}

export function endpointKey(e: Pick<Endpoint, 'clusterId' | 'namespace' | 'name'>): string {
  return `${e.clusterId}|${e.namespace}/${e.name}`;
}

export function endpointGpuLabel(g: EndpointGpu): string {
  if (g.kind === 'none') return 'none';
  if (g.kind === 'full') return `${g.count}× GPU`;
  return `${g.count}× ${g.profile}`;
}

/** The default request body of each protocol, for a model named `model` (the ISVC's name). */
export function sampleBody(protocol: TestProtocol, model: string): string {
  switch (protocol) {
    case 'v1':
      return JSON.stringify({ instances: [[1, 2], [3, 4]] }, null, 2);
    case 'v2':
      return JSON.stringify({ id: '1', inputs: [{ name: 'input0', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] }, null, 2);
    case 'openai-completions':
      return JSON.stringify({ model, prompt: 'Hello', max_tokens: 16 }, null, 2);
    case 'openai-chat':
      return JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 }, null, 2);
  }
}
