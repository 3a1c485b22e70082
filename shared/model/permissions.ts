/**
 * The Kubernetes permissions Tessera's actions need, named one way for core (which checks them
 * with SelfSubjectAccessReview before acting and puts the names in FORBIDDEN errors'
 * details.missing) and for the renderer (which checks the same before offering the action and
 * says which one is missing).
 */
export interface AccessRequestView {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Where Tessera keeps its own state in a cluster (rollout records and leases). */
export const TESSERA_NAMESPACE = 'tessera-system';

/** "update configmaps in tessera-system", "patch nodes", "create pods/eviction in team-a". */
export function permissionName(r: { verb: string; resource: string; group?: string; subresource?: string; namespace?: string }): string {
  const what = `${r.verb} ${r.group ? `${r.resource}.${r.group}` : r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
  return r.namespace ? `${what} in ${r.namespace}` : what;
}

/** Cache key of one permission question: cluster, permission name and object name. */
export const accessKey = (clusterId: string, r: AccessRequestView) => `${clusterId}\n${permissionName(r)}${r.name ? `\n${r.name}` : ''}`;

export interface PermissionState {
  /** Undefined while the first answer is on its way. */
  allowed: boolean | undefined;
  /** The missing permissions by name ("patch nodes"), for details. */
  missing: string[];
  /** Core's words for the first refusal: `user "x" may not patch nodes cluster-wide`. */
  reason?: string;
}

/** Combines the answers for one action's needs. */
export function permissionOf(checks: Record<string, { result?: { allowed: boolean; reason: string } }>, clusterId: string | undefined, reqs: AccessRequestView[]): PermissionState {
  if (!clusterId) return { allowed: undefined, missing: [] };
  const results = reqs.map((r) => ({ r, result: checks[accessKey(clusterId, r)]?.result }));
  const denied = results.filter((x) => x.result && !x.result.allowed);
  if (denied.length) return { allowed: false, missing: denied.map((d) => permissionName(d.r)), reason: denied.map((d) => d.result!.reason).join('; ') };
  return { allowed: results.every((x) => x.result) ? true : undefined, missing: [] };
}

/** What each offered action needs; core checks at least these (often more, once it has read the objects). */
export const ACTION_NEEDS = {
  /** Pause, approve, abort, roll back: a write to the rollout's record (read with its node shards, a list). */
  rolloutDecide: (): AccessRequestView[] => [
    { verb: 'update', resource: 'configmaps', namespace: TESSERA_NAMESPACE },
    { verb: 'list', resource: 'configmaps', namespace: TESSERA_NAMESPACE },
  ],
  /** Resume makes this console drive it: the record and the lease. */
  rolloutResume: (): AccessRequestView[] => [
    { verb: 'update', resource: 'configmaps', namespace: TESSERA_NAMESPACE },
    { verb: 'list', resource: 'configmaps', namespace: TESSERA_NAMESPACE },
    { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: TESSERA_NAMESPACE },
  ],
  rolloutStart: (): AccessRequestView[] => [
    { verb: 'patch', resource: 'nodes' },
    { verb: 'create', resource: 'pods', subresource: 'eviction' },
    { verb: 'create', resource: 'configmaps', namespace: TESSERA_NAMESPACE },
    { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: TESSERA_NAMESPACE },
  ],
  /** Start and stop patch the workstation's Notebook or StatefulSet. */
  workstationPatch: (kind: 'notebook' | 'statefulset', namespace: string): AccessRequestView[] => [
    kind === 'notebook' ? { verb: 'patch', resource: 'notebooks', group: 'kubeflow.org', namespace } : { verb: 'patch', resource: 'statefulsets', group: 'apps', namespace },
  ],
  workstationDelete: (kind: 'notebook' | 'statefulset', namespace: string, name: string): AccessRequestView[] => [
    kind === 'notebook' ? { verb: 'delete', resource: 'notebooks', group: 'kubeflow.org', namespace, name } : { verb: 'delete', resource: 'statefulsets', group: 'apps', namespace, name },
  ],
  workstationSnapshot: (namespace: string): AccessRequestView[] => [{ verb: 'create', resource: 'volumesnapshots', group: 'snapshot.storage.k8s.io', namespace }],
  /** Restore and clone make a new home volume. */
  workstationNewVolume: (namespace: string): AccessRequestView[] => [{ verb: 'create', resource: 'persistentvolumeclaims', namespace }],
  podExec: (namespace: string): AccessRequestView[] => [{ verb: 'create', resource: 'pods', subresource: 'exec', namespace }],
};
