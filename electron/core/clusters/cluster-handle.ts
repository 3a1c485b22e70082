import type { AccessCheck } from '../../../shared/model/cluster.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import type { AccessRequest } from './cluster-connection.ts';

/** What a domain service needs of one connected cluster: a way in, RBAC checks, and who it acts as. */
export interface ClusterHandle {
  kubeConfig(): Promise<KubeAccess>;
  canI(req: AccessRequest): Promise<AccessCheck>;
  userName?: string;
  /** The context's default namespace: where a namespace-scoped user can look when cluster-wide lists are refused. */
  namespace?: string;
}
