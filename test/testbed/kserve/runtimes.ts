// The serving runtimes the test bed installs, and KServe's rules for picking
// one for an InferenceService (reference/kserve.md §1, §5): an explicit
// `spec.predictor.model.runtime` names a namespaced ServingRuntime or else a
// ClusterServingRuntime; otherwise every runtime whose supportedModelFormats
// match with autoSelect competes, namespaced ones before cluster ones, then
// the highest priority. Written for the test bed, not copied from KServe's
// config/runtimes (the images are placeholders no node ever pulls).

export interface ModelFormat {
  name: string;
  version?: string;
  autoSelect?: boolean;
  priority?: number;
}

export interface RuntimeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    supportedModelFormats?: ModelFormat[];
    protocolVersions?: string[];
    disabled?: boolean;
    containers?: Array<{ name: string; image?: string; command?: string[]; args?: string[]; env?: Array<{ name: string; value?: string }>; resources?: Record<string, unknown> }>;
    [k: string]: unknown;
  };
}

export const RUNTIME_NAMESPACE = 'inference';
const MANAGED = { 'app.kubernetes.io/managed-by': 'tessera-testbed' };

function container(image: string, args: string[], extra: Record<string, unknown> = {}) {
  return {
    name: 'kserve-container',
    image,
    args,
    resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
    ...extra,
  };
}

function clusterRuntime(name: string, serverType: string, spec: RuntimeObject['spec']): RuntimeObject {
  return {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'ClusterServingRuntime',
    metadata: { name, labels: MANAGED, annotations: { 'serving.kserve.io/server-type': serverType } },
    spec,
  };
}

/** The ClusterServingRuntimes `up` creates. */
export function clusterRuntimes(): RuntimeObject[] {
  return [
    clusterRuntime('kserve-sklearnserver', 'sklearnserver', {
      supportedModelFormats: [{ name: 'sklearn', version: '1', autoSelect: true, priority: 1 }],
      protocolVersions: ['v1', 'v2'],
      containers: [container('registry.tessera.local/kserve/sklearnserver:v0.20.0', ['--model_name={{.Name}}', '--model_dir=/mnt/models', '--http_port=8080'])],
    }),
    clusterRuntime('kserve-tritonserver', 'tritonserver', {
      supportedModelFormats: [
        { name: 'triton', version: '2', autoSelect: true, priority: 1 },
        { name: 'onnx', version: '1', autoSelect: true, priority: 1 },
        { name: 'tensorrt', version: '8', autoSelect: true, priority: 1 },
      ],
      protocolVersions: ['v2', 'grpc-v2'],
      containers: [container('registry.tessera.local/nvidia/tritonserver:23.05-py3', ['tritonserver', '--model-store=/mnt/models', '--grpc-port=9000', '--http-port=8080', '--allow-grpc=true', '--allow-http=true'])],
    }),
    clusterRuntime('kserve-huggingfaceserver', 'huggingfaceserver', {
      supportedModelFormats: [{ name: 'huggingface', version: '1', autoSelect: true, priority: 1 }],
      protocolVersions: ['v2', 'v1'],
      // The OpenAI routes live under KSERVE_OPENAI_ROUTE_PREFIX (default /openai).
      containers: [container('registry.tessera.local/kserve/huggingfaceserver:v0.20.0', ['--model_name={{.Name}}', '--model_dir=/mnt/models'])],
    }),
    clusterRuntime('kserve-vllmserver', 'vllmserver', {
      // Like upstream: no protocolVersions; vLLM's own OpenAI server, un-prefixed /v1/... routes.
      supportedModelFormats: [{ name: 'vLLM', version: '1', autoSelect: true, priority: 1 }],
      containers: [
        container('registry.tessera.local/vllm/vllm-openai:v0.6.3', ['--port=8080', '--served-model-name={{.Name}}', '--model=/mnt/models'], {
          command: ['python', '-m', 'vllm.entrypoints.openai.api_server'],
        }),
      ],
    }),
  ];
}

/** The namespaced ServingRuntime `up` creates in `inference`: a team's own sklearn build that wins autoSelect there. */
export function namespacedRuntimes(): RuntimeObject[] {
  return [
    {
      apiVersion: 'serving.kserve.io/v1alpha1',
      kind: 'ServingRuntime',
      metadata: { name: 'inference-sklearn', namespace: RUNTIME_NAMESPACE, labels: MANAGED, annotations: { 'serving.kserve.io/server-type': 'sklearnserver' } },
      spec: {
        supportedModelFormats: [{ name: 'sklearn', version: '1', autoSelect: true, priority: 2 }],
        protocolVersions: ['v1', 'v2'],
        containers: [container('registry.tessera.local/inference/sklearnserver:v0.20.0-team', ['--model_name={{.Name}}', '--model_dir=/mnt/models', '--http_port=8080'])],
      },
    },
  ];
}

// ---- selection ---------------------------------------------------------------

export interface Resolved {
  runtime: RuntimeObject;
  /** True for a namespaced ServingRuntime. */
  namespaced: boolean;
}

export interface ResolveFailure {
  reason: 'NoSupportingRuntime' | 'RuntimeNotRecognized' | 'RuntimeDisabled';
  message: string;
}

const sameFormat = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** A runtime supports a format (and version, when both give one: same major). */
export function supportsFormat(rt: RuntimeObject, format: { name: string; version?: string }): ModelFormat | undefined {
  return (rt.spec.supportedModelFormats ?? []).find((f) => {
    if (!sameFormat(f.name, format.name)) return false;
    if (!format.version || !f.version) return true;
    return format.version.split('.')[0] === f.version.split('.')[0];
  });
}

/** Protocols the runtime declares; KServe reads an empty list as v1 only, except vLLM's OpenAI server (no KServe protocol). */
export function runtimeProtocols(rt: RuntimeObject): string[] {
  if (isVllmOpenAi(rt)) return rt.spec.protocolVersions ?? [];
  return rt.spec.protocolVersions?.length ? rt.spec.protocolVersions : ['v1'];
}

function isVllmOpenAi(rt: RuntimeObject): boolean {
  const c = rt.spec.containers?.find((x) => x.name === 'kserve-container') ?? rt.spec.containers?.[0];
  return [...(c?.command ?? []), ...(c?.args ?? [])].some((a) => a.includes('vllm.entrypoints.openai'));
}

/**
 * Where the runtime serves OpenAI routes: '' for vLLM's own server (/v1/...),
 * the KSERVE_OPENAI_ROUTE_PREFIX env (default '/openai') for a Hugging Face
 * runtime, undefined for runtimes without them.
 */
export function openAiPrefix(rt: RuntimeObject): string | undefined {
  if (isVllmOpenAi(rt)) return '';
  if (!(rt.spec.supportedModelFormats ?? []).some((f) => sameFormat(f.name, 'huggingface'))) return undefined;
  const c = rt.spec.containers?.find((x) => x.name === 'kserve-container') ?? rt.spec.containers?.[0];
  const env = c?.env?.find((e) => e.name === 'KSERVE_OPENAI_ROUTE_PREFIX');
  return env ? (env.value ?? '') : '/openai';
}

/** KServe's choice of runtime for a predictor, or why there is none. */
export function resolveRuntime(
  format: { name: string; version?: string } | undefined,
  explicit: string | undefined,
  protocol: string | undefined,
  namespaced: RuntimeObject[],
  cluster: RuntimeObject[],
): Resolved | ResolveFailure {
  const protoOk = (rt: RuntimeObject) => !protocol || runtimeProtocols(rt).includes(protocol);
  if (explicit) {
    const ns = namespaced.find((r) => r.metadata.name === explicit);
    const found = ns ?? cluster.find((r) => r.metadata.name === explicit);
    if (!found) return { reason: 'RuntimeNotRecognized', message: `specified runtime ${explicit} not found in namespace or cluster scope` };
    if (found.spec.disabled) return { reason: 'RuntimeDisabled', message: `specified runtime ${explicit} is disabled` };
    if (format && !supportsFormat(found, format)) return { reason: 'NoSupportingRuntime', message: `specified runtime ${explicit} does not support model format ${format.name}${format.version ? ` version ${format.version}` : ''}` };
    if (!protoOk(found)) return { reason: 'NoSupportingRuntime', message: `specified runtime ${explicit} does not support protocol ${protocol}` };
    return { runtime: found, namespaced: !!ns };
  }
  if (!format) return { reason: 'NoSupportingRuntime', message: 'no model format given and no runtime named' };
  const candidates = (list: RuntimeObject[], isNs: boolean) =>
    list
      .filter((rt) => !rt.spec.disabled && protoOk(rt))
      .map((rt) => ({ rt, f: supportsFormat(rt, format), isNs }))
      .filter((c): c is { rt: RuntimeObject; f: ModelFormat; isNs: boolean } => !!c.f?.autoSelect);
  const all = [...candidates(namespaced, true), ...candidates(cluster, false)];
  all.sort((a, b) => Number(b.isNs) - Number(a.isNs) || (b.f.priority ?? 1) - (a.f.priority ?? 1) || a.rt.metadata.name.localeCompare(b.rt.metadata.name));
  const best = all[0];
  if (!best) return { reason: 'NoSupportingRuntime', message: `No runtime found to support predictor with model type: ${format.name}${format.version ? `, version ${format.version}` : ''}${protocol ? `, protocol ${protocol}` : ''}` };
  return { runtime: best.rt, namespaced: best.isNs };
}
