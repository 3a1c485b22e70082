// The access model the console is tested against: a cluster-wide read-only group
// and a namespaced team with the built-in `edit` role.
import { Kube, KubeError } from './kube.ts';

export const VIEWER_GROUP = 'tessera:viewers';
export const TEAM_NAMESPACE = 'team-a';
export const TEAM_USER = 'team-a';

async function ensure(kube: Kube, collection: string, obj: { metadata: { name: string; [k: string]: unknown }; [k: string]: unknown }): Promise<void> {
  try {
    await kube.create(collection, obj);
  } catch (err) {
    if (err instanceof KubeError && err.status === 409) {
      await kube.replace(`${collection}/${obj.metadata.name}`, obj);
      return;
    }
    throw err;
  }
}

export async function applyRbac(kube: Kube): Promise<void> {
  await ensure(kube, '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'tessera-viewer', labels: { 'app.kubernetes.io/part-of': 'tessera-testbed' } },
    rules: [
      { apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
      { nonResourceURLs: ['*'], verbs: ['get'] },
    ],
  });
  await ensure(kube, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'tessera-viewer', labels: { 'app.kubernetes.io/part-of': 'tessera-testbed' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tessera-viewer' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: VIEWER_GROUP }],
  });
  await ensure(kube, '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: TEAM_NAMESPACE, labels: { 'tessera.dev/team': TEAM_USER } },
  });
  await ensure(kube, `/apis/rbac.authorization.k8s.io/v1/namespaces/${TEAM_NAMESPACE}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'team-a-edit', namespace: TEAM_NAMESPACE },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: TEAM_USER }],
  });
}
