/**
 * The MIG manager's configs as the cluster holds them: the ClusterPolicy names
 * one mig-parted ConfigMap (`spec.migManager.config.name`, default
 * `default-mig-parted-config`) and the MIG manager reads only that one. Custom
 * layouts therefore go into a ConfigMap of Tessera's own that carries the
 * active configs plus ours; the operator's default ConfigMap is never edited.
 */
import yaml from 'js-yaml';
import type { KubeAccess } from '../kube/kube-access.ts';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { fromMigParted, toMigPartedFile, type MigPartedEntry } from '../../../shared/gpu/mig-parted.ts';
import type { MigConfigSet } from '../../../shared/model/mig.ts';
import { kubeJson } from '../kube/kube-http.ts';

export const DEFAULT_MIG_CONFIGMAP = 'default-mig-parted-config';
export const OWN_MIG_CONFIGMAP = 'tessera-mig-parted-config';
export const DEFAULT_OPERATOR_NAMESPACE = 'gpu-operator';
const CONFIG_KEY = 'config.yaml';
/** Names of our configs inside our ConfigMap, so a later save knows which ones are ours. */
const CUSTOM_ANNOTATION = 'tessera.dev/custom-configs';

interface ConfigMap {
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

interface ClusterPolicy {
  metadata: { name: string };
  spec?: { migManager?: { enabled?: boolean; config?: { name?: string; default?: string } } };
}

const notFound = (err: unknown) => err instanceof TesseraError && err.code === 'NOT_FOUND';

async function getOrUndefined<T>(kc: KubeAccess, path: string): Promise<T | undefined> {
  try {
    return await kubeJson<T>(kc, path);
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

export async function readClusterPolicy(kc: KubeAccess): Promise<ClusterPolicy | undefined> {
  try {
    const list = await kubeJson<{ items?: ClusterPolicy[] }>(kc, '/apis/nvidia.com/v1/clusterpolicies');
    return list.items?.[0];
  } catch (err) {
    if (notFound(err)) return undefined; // no GPU Operator CRD
    throw err;
  }
}

/** The namespace the operator runs in: where its default mig-parted ConfigMap lives. */
async function operatorNamespace(kc: KubeAccess, activeName: string): Promise<string> {
  try {
    const list = await kubeJson<{ items?: ConfigMap[] }>(kc, `/api/v1/configmaps?fieldSelector=${encodeURIComponent(`metadata.name=${activeName}`)}`);
    const ns = list.items?.[0]?.metadata.namespace;
    if (ns) return ns;
  } catch {
    // No cluster-wide list right: the operator's usual namespace is the best guess.
  }
  return DEFAULT_OPERATOR_NAMESPACE;
}

function parseConfigMap(cm: ConfigMap | undefined, problems: string[]): Record<string, MigPartedEntry[]> {
  const text = cm?.data?.[CONFIG_KEY];
  if (text === undefined) {
    if (cm) problems.push(`ConfigMap ${cm.metadata.namespace}/${cm.metadata.name} has no ${CONFIG_KEY} key.`);
    return {};
  }
  let obj: unknown;
  try {
    obj = yaml.load(text);
  } catch (err) {
    problems.push(`ConfigMap ${cm!.metadata.name}: ${CONFIG_KEY} is not valid YAML (${(err as Error).message.split('\n')[0]}).`);
    return {};
  }
  const parsed = fromMigParted(obj);
  problems.push(...parsed.problems.map((p) => `ConfigMap ${cm!.metadata.name}: ${p}`));
  return parsed.configs;
}

export interface MigConfigState extends MigConfigSet {
  ownMap?: ConfigMap;
  activeConfigs: Record<string, MigPartedEntry[]>;
}

export async function readMigConfigs(kc: KubeAccess): Promise<MigConfigState> {
  const policy = await readClusterPolicy(kc);
  const activeName = policy?.spec?.migManager?.config?.name || DEFAULT_MIG_CONFIGMAP;
  const namespace = await operatorNamespace(kc, activeName);
  const problems: string[] = [];
  const active = await getOrUndefined<ConfigMap>(kc, `/api/v1/namespaces/${namespace}/configmaps/${activeName}`);
  if (!active) problems.push(`The MIG manager's ConfigMap ${namespace}/${activeName} does not exist.`);
  const activeConfigs = parseConfigMap(active, problems);
  const ownMap = activeName === OWN_MIG_CONFIGMAP ? active : await getOrUndefined<ConfigMap>(kc, `/api/v1/namespaces/${namespace}/configmaps/${OWN_MIG_CONFIGMAP}`);
  const custom = (ownMap?.metadata.annotations?.[CUSTOM_ANNOTATION] ?? '').split(',').filter(Boolean);
  const ownConfigs = activeName === OWN_MIG_CONFIGMAP ? activeConfigs : parseConfigMap(ownMap, []);
  // The editor offers saved custom layouts even before the policy points at our ConfigMap.
  const configs = { ...activeConfigs };
  for (const name of custom) if (ownConfigs[name]) configs[name] = ownConfigs[name];
  return {
    active: { namespace, name: activeName },
    own: { namespace, name: OWN_MIG_CONFIGMAP, exists: ownMap !== undefined },
    ...(policy ? { clusterPolicy: policy.metadata.name } : {}),
    configs,
    custom,
    problems,
    ...(ownMap ? { ownMap } : {}),
    activeConfigs,
  };
}

/** The public view: no raw ConfigMap. */
export function configSetOf(st: MigConfigState): MigConfigSet {
  const { ownMap: _own, activeConfigs: _active, ...rest } = st;
  return rest;
}

/** Whether applying `name` needs the ClusterPolicy to point at our ConfigMap first. */
export function needsPolicyChange(st: MigConfigState, name: string): boolean {
  return st.activeConfigs[name] === undefined && st.custom.includes(name) && st.active.name !== OWN_MIG_CONFIGMAP;
}

/**
 * Writes our ConfigMap: the active ConfigMap's configs (so pointing the MIG
 * manager at ours loses none of them) plus every custom config, `name` replaced.
 * Optimistic concurrency: a concurrent writer makes this fail with CONFLICT.
 */
export async function saveCustomConfig(kc: KubeAccess, st: MigConfigState, name: string, entries: MigPartedEntry[]): Promise<void> {
  if (st.activeConfigs[name] && !st.custom.includes(name)) {
    throw new TesseraError('INVALID_REQUEST', `"${name}" is one of the MIG manager's own configs; save the layout under another name.`);
  }
  const problems = fromMigParted(toMigPartedFile({ [name]: entries })).problems;
  if (problems.length) throw new TesseraError('INVALID_REQUEST', `The layout is not a valid mig-parted config: ${problems.join(' ')}`);
  const own = st.ownMap && st.active.name !== OWN_MIG_CONFIGMAP ? parseConfigMap(st.ownMap, []) : st.activeConfigs;
  const configs: Record<string, MigPartedEntry[]> = {};
  for (const [k, v] of Object.entries(st.activeConfigs)) if (!st.custom.includes(k)) configs[k] = v;
  for (const k of st.custom) if (own[k]) configs[k] = own[k];
  configs[name] = entries;
  const custom = [...new Set([...st.custom, name])].sort();
  const body: ConfigMap = {
    metadata: {
      name: OWN_MIG_CONFIGMAP,
      namespace: st.own.namespace,
      annotations: { [CUSTOM_ANNOTATION]: custom.join(',') },
      ...(st.ownMap?.metadata.resourceVersion ? { resourceVersion: st.ownMap.metadata.resourceVersion } : {}),
    },
    data: { [CONFIG_KEY]: yaml.dump(toMigPartedFile(configs), { lineWidth: -1, noRefs: true }) },
  };
  const full = { apiVersion: 'v1', kind: 'ConfigMap', ...body, metadata: { ...body.metadata, labels: { 'app.kubernetes.io/managed-by': 'tessera' } } };
  const base = `/api/v1/namespaces/${st.own.namespace}/configmaps`;
  if (st.ownMap) await kubeJson(kc, `${base}/${OWN_MIG_CONFIGMAP}`, { method: 'PUT', body: full, action: `update ConfigMap ${OWN_MIG_CONFIGMAP}` });
  else await kubeJson(kc, base, { method: 'POST', body: full, action: `create ConfigMap ${OWN_MIG_CONFIGMAP}` });
}

/** Points the ClusterPolicy's MIG manager at our ConfigMap (the user agreed to it). */
export async function pointPolicyAtOwn(kc: KubeAccess, st: MigConfigState): Promise<void> {
  if (!st.clusterPolicy) throw new TesseraError('INVALID_REQUEST', 'No ClusterPolicy found: the GPU Operator is not installed, so its MIG manager cannot be pointed at a custom config.');
  await kubeJson(kc, `/apis/nvidia.com/v1/clusterpolicies/${st.clusterPolicy}`, {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    body: { spec: { migManager: { config: { name: OWN_MIG_CONFIGMAP } } } },
    action: `patch ClusterPolicy ${st.clusterPolicy}`,
  });
}
