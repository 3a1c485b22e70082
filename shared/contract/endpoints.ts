// KServe inference endpoints (issue 8). Shapes live in shared/model/endpoints.ts.
// Stability: additive changes only. If a shape must change, note it here with the date.
import type {
  DeleteStatement,
  Endpoint,
  EndpointAccess,
  EndpointDetail,
  EndpointPreview,
  EndpointsDelta,
  EndpointsDiscovery,
  EndpointUpdateResult,
  LoadTestProgress,
  LoadTestResult,
  ProbeResult,
  UpdateStep,
  TestResult,
} from '../model/endpoints.ts';
import type { GpuOffer } from '../model/workstation.ts';
import { method, stream } from './define.ts';
import { clusterId } from './ids.ts';
import { s } from './schema.ts';

/** InferenceService names become Knative Service and host names: a short DNS label. */
export const isvcName = s.string({ min: 1, max: 45, pattern: /^[a-z]([-a-z0-9]*[a-z0-9])?$/, patternHint: 'must be a lowercase DNS label starting with a letter, at most 45 characters' });
const namespace = s.string({ min: 1, max: 63, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, patternHint: 'must be a namespace name (lowercase DNS label)' });
const quantity = s.string({ min: 1, max: 32, pattern: /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$/, patternHint: 'must be a Kubernetes quantity such as 1, 500m or 4Gi' });
const k8sRef = s.string({ min: 1, max: 253, pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, patternHint: 'must be a lowercase DNS name' });
const formatName = s.string({ min: 1, max: 63, pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]*$/, patternHint: 'must be a model format name such as sklearn, huggingface or vLLM' });
const storageUri = s.string({ min: 3, max: 2048, pattern: /^(pvc|s3|gs|hf|oci|https?|hdfs|webhdfs|azure):\/\/\S+$/, patternHint: 'must be a storage URI such as pvc://models/iris or s3://bucket/model' });
const labelKey = s.string({ min: 1, max: 317, pattern: /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, patternHint: 'must be a label key such as nvidia.com/gpu.product' });
const labelValue = s.string({ max: 63, pattern: /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, patternHint: 'must be a label value' });

export const endpointGpu = s.object({
  kind: s.literal('none', 'full', 'mig'),
  count: s.optional(s.number({ min: 1, max: 16, integer: true })),
  profile: s.optional(s.string({ min: 1, max: 32, pattern: /^(?:\d+c\.)?\d+g\.\d+gb(?:\+me)?$/, patternHint: 'must be a MIG profile such as 1g.10gb' })),
});

const modelFields = {
  modelFormat: formatName,
  modelFormatVersion: s.optional(s.string({ min: 1, max: 32 })),
  runtime: s.optional(k8sRef),
  storageUri,
  protocolVersion: s.optional(s.literal('v1', 'v2')),
  gpu: endpointGpu,
  cpu: s.optional(quantity),
  memory: s.optional(quantity),
};

export const endpointSpec = s.object({
  name: isvcName,
  namespace,
  ...modelFields,
  minReplicas: s.optional(s.number({ min: 0, max: 1000, integer: true })),
  maxReplicas: s.optional(s.number({ min: 1, max: 1000, integer: true })),
  scaleTarget: s.optional(s.number({ min: 1, max: 1_000_000, integer: true })),
  scaleMetric: s.optional(s.literal('concurrency', 'rps', 'cpu', 'memory')),
  deploymentMode: s.optional(s.literal('Serverless', 'RawDeployment')),
  serviceAccountName: s.optional(k8sRef),
  nodeSelector: s.optional(s.array(s.object({ key: labelKey, value: labelValue }), { max: 32 })),
  tolerations: s.optional(
    s.array(
      s.object({
        key: s.optional(labelKey),
        operator: s.optional(s.literal('Exists', 'Equal')),
        value: s.optional(labelValue),
        effect: s.optional(s.literal('NoSchedule', 'PreferNoSchedule', 'NoExecute')),
      }),
      { max: 32 },
    ),
  ),
});

/** A canary's or update's change: only the fields given change. */
export const endpointChange = s.object({
  modelFormat: s.optional(formatName),
  modelFormatVersion: s.optional(s.string({ min: 1, max: 32 })),
  runtime: s.optional(k8sRef),
  storageUri: s.optional(storageUri),
  protocolVersion: s.optional(s.literal('v1', 'v2')),
  gpu: s.optional(endpointGpu),
  cpu: s.optional(quantity),
  memory: s.optional(quantity),
});

/** Expert YAML: an InferenceService manifest, parsed as data (one document), never executed. */
const yamlText = s.string({ min: 1, max: 256 * 1024 });
const ref = s.object({ id: clusterId, namespace, name: isvcName });
const protocol = s.literal('v1', 'v2', 'openai-completions', 'openai-chat');
/** A request body as JSON text (the test panel's editor). */
const body = s.string({ min: 2, max: 1024 * 1024 });
/** Which revision to address: the ISVC URL (default), or a traffic target by tag ("latest"/"prev") or revision name. */
const target = s.string({ min: 1, max: 253, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, patternHint: 'must be a revision name or tag' });

const loadParams = s.object({
  id: clusterId,
  namespace,
  name: isvcName,
  protocol,
  body: s.optional(body),
  requests: s.number({ min: 1, max: 10_000, integer: true }),
  concurrency: s.number({ min: 1, max: 64, integer: true }),
  timeoutMs: s.optional(s.number({ min: 100, max: 120_000, integer: true })),
});

/** One pod's log tail; `error` says why it could not be read (the text is then empty). */
export interface EndpointLogs {
  pod: string;
  container: string;
  text: string;
  error?: string;
  /** How often the container has restarted: above 0, the log of the run before the last restart can be asked for. */
  restarts?: number;
  /** This is that earlier run's log. */
  previous?: boolean;
}

/** One event of a load test run: progress now and then, then the result (last event). */
export type LoadTestEvent = { kind: 'progress'; progress: LoadTestProgress } | { kind: 'result'; result: LoadTestResult } | { kind: 'error'; error: { code: string; message: string } };

const updateParams = s.object({ id: clusterId, namespace, name: isvcName, spec: s.optional(endpointSpec), yaml: s.optional(yamlText), change: s.optional(endpointChange), wait: s.optional(s.boolean()), timeoutSeconds: s.optional(s.number({ min: 5, max: 3600, integer: true })) });

/** One event of a gated update: each step as it happens, then the result or the error (last event). */
export type UpdateEvent = { kind: 'step'; step: UpdateStep } | { kind: 'result'; result: EndpointUpdateResult } | { kind: 'error'; error: { code: string; message: string } };

export const endpointMethods = {
  'endpoints.discover': method<EndpointsDiscovery>()(s.object({ id: clusterId, namespace: s.optional(namespace) }), 'Whether KServe is installed, its runtimes and formats, deployment modes, and PVCs usable as pvc:// model storage.'),
  'endpoints.offers': method<GpuOffer[]>()(s.object({ id: clusterId }), 'Where full GPUs and MIG slices are free right now, by pool.'),
  'endpoints.access': method<EndpointAccess>()(s.object({ id: clusterId, namespace, name: s.optional(isvcName) }), 'Whether this user may create, patch, update and delete InferenceServices in a namespace (SelfSubjectAccessReview); ENDPOINT_ACTION_VERBS says which verb each action needs.'),
  'endpoints.preview': method<EndpointPreview>()(
    s.object({ id: clusterId, spec: s.optional(endpointSpec), yaml: s.optional(yamlText), update: s.optional(s.boolean()) }),
    'The InferenceService a form (spec) or edited YAML makes, with local checks, RBAC and the server dry run. Changes nothing.',
  ),
  'endpoints.create': method<Endpoint>()(s.object({ id: clusterId, spec: s.optional(endpointSpec), yaml: s.optional(yamlText) }), 'Creates an InferenceService from a spec or YAML after RBAC, validation and a dry run.'),
  'endpoints.update': method<EndpointUpdateResult>()(
    updateParams,
    'Edits an endpoint (whole spec, YAML or a change); with wait, gated on readiness: new pods Ready and old ones gone, or a clear timeout.',
  ),
  'endpoints.list': method<Endpoint[]>()(s.object({ id: s.optional(clusterId) }), 'Every endpoint on one cluster, or across every connected cluster.'),
  'endpoints.get': method<EndpointDetail>()(ref, 'One endpoint: conditions, revisions and traffic, pods with GPU utilisation, recent events, YAML.'),
  'endpoints.logs': method<EndpointLogs[]>()(
    s.object({ id: clusterId, namespace, name: isvcName, pod: s.optional(k8sRef), tailLines: s.optional(s.number({ min: 1, max: 5000, integer: true })), previous: s.optional(s.boolean()) }),
    'The tail of the predictor pods\' kserve-container logs (one pod, or each); with previous, the run before the last restart (why a crash-looping model server died).',
  ),
  'endpoints.canary': method<Endpoint>()(s.object({ id: clusterId, namespace, name: isvcName, change: endpointChange, percent: s.number({ min: 1, max: 99, integer: true }) }), 'Serverless only: changes the predictor and sends `percent` of traffic to the new revision.'),
  'endpoints.promote': method<Endpoint>()(ref, 'Serverless only: all traffic to the latest revision (removes canaryTrafficPercent).'),
  'endpoints.rollback': method<Endpoint>()(ref, 'Serverless only: all traffic back to the previous rolled-out revision (canaryTrafficPercent 0).'),
  'endpoints.probe': method<ProbeResult[]>()(ref, 'Readiness probes in the runtime\'s protocols: v1 model ready, v2 health and model ready, OpenAI models.'),
  'endpoints.test': method<TestResult>()(s.object({ id: clusterId, namespace, name: isvcName, protocol, body: s.optional(body), target: s.optional(target), timeoutMs: s.optional(s.number({ min: 100, max: 120_000, integer: true })) }), 'One request to the endpoint\'s own URL in a protocol; status, revision, body and latency.'),
  'endpoints.loadTest': method<LoadTestResult>()(loadParams, 'N requests at concurrency C (N ≤ 10000, C ≤ 64): latency percentiles, errors by kind, responses per revision.'),
  'endpoints.deletePlan': method<DeleteStatement>()(ref, 'What a delete removes and what it keeps (model storage). Changes nothing.'),
  'endpoints.delete': method<DeleteStatement>()(ref, 'Deletes the InferenceService (its revisions and pods go with it); model storage stays.'),
};

export const endpointStreams = {
  'endpoints.watch': stream<EndpointsDelta>()(s.object({ id: s.optional(clusterId) }), 'Live endpoint rows across connected clusters (or one): a reset, then coalesced upserts and removals.'),
  'endpoints.updateRun': stream<UpdateEvent>()(updateParams, 'endpoints.update with its progress: each step (applied, pods ready, old pods gone...) as it happens, then the result. Unsubscribing stops the waiting; a change already sent stays applied.', { once: true }),
  'endpoints.loadTestRun': stream<LoadTestEvent>()(loadParams, 'A load test with progress events, then its result; unsubscribing stops it.', { once: true }),
};
