// Checks an InferenceService must pass against what the cluster offers (its
// runtimes and deployment modes), before the server's dry run. Pure: the
// service passes in what it discovered.
import type { DeploymentMode, ServingRuntimeInfo } from '../../../shared/model/endpoints.ts';
import { DEPLOYMENT_MODE_ANNOTATION, modelKey, normalizeMode, type KubeObject } from './endpoint-objects.ts';
import { autoSelectRuntime, findRuntime } from './endpoint-status.ts';

export function modeProblems(obj: KubeObject, ctx: { apis: { knative: boolean }; defaultMode: DeploymentMode }): string[] {
  const raw = obj.metadata?.annotations?.[DEPLOYMENT_MODE_ANNOTATION];
  const mode = normalizeMode(raw) ?? ctx.defaultMode;
  if (mode === 'Serverless' && !ctx.apis.knative) return [`Serverless mode needs Knative Serving, which this cluster does not have${raw ? '' : ' (Serverless is the cluster default from inferenceservice-config)'}: choose RawDeployment`];
  if (mode === 'ModelMesh') return ['ModelMesh mode is not supported by Tessera: choose Serverless or RawDeployment'];
  return [];
}

export function runtimeProblems(obj: KubeObject, ctx: { apis: { runtimeApi: boolean }; runtimes: ServingRuntimeInfo[] }): string[] {
  if (!ctx.apis.runtimeApi) return [];
  const pred = obj.spec?.predictor;
  const key = modelKey(pred);
  if (!key) return [];
  const m = pred[key];
  const ns: string = obj.metadata?.namespace ?? '';
  const format: string | undefined = key === 'model' ? m?.modelFormat?.name : key;
  if (typeof m?.runtime === 'string' && m.runtime) {
    const rt = findRuntime(ctx.runtimes, m.runtime, ns);
    if (!rt) return [`runtime ${m.runtime} does not exist (no ServingRuntime in ${ns} and no ClusterServingRuntime by that name)`];
    const p: string[] = [];
    if (rt.disabled) p.push(`runtime ${rt.name} is disabled`);
    if (format && !rt.formats.some((f) => f.name.toLowerCase() === format.toLowerCase())) p.push(`runtime ${rt.name} does not serve model format ${format} (it serves ${rt.formats.map((f) => f.name).join(', ') || 'nothing'})`);
    const pv = m.protocolVersion;
    if (pv && rt.protocolVersions.length && !rt.protocolVersions.includes(pv)) p.push(`runtime ${rt.name} does not speak protocol ${pv} (it speaks ${rt.protocolVersions.join(', ')})`);
    return p;
  }
  if (format && key === 'model' && !autoSelectRuntime(ctx.runtimes, format, ns, m?.protocolVersion)) return [`no runtime here serves model format ${format}${m?.protocolVersion ? ` with protocol ${m.protocolVersion}` : ''} automatically: name a runtime (KServe would report NoSupportingRuntime)`];
  return [];
}

