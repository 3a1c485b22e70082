/**
 * One shape for "you may not": every refusal, whether Tessera's own SelfSubjectAccessReview said
 * no before acting or the API server answered 403 anyway, is a FORBIDDEN error whose message
 * reads the same ("user "x" may not update configmaps in namespace y") and whose
 * details.missing lists the permissions by name, so the UI and scripts can show exactly what to
 * ask an admin for.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { AccessCheck } from '../../../shared/model/cluster.ts';
import { permissionName } from '../../../shared/model/permissions.ts';
import type { AccessRequest } from './cluster-connection.ts';

export { permissionName };

/**
 * Checks every request (the connection caches reviews briefly) and throws one FORBIDDEN naming
 * all that are missing, before anything changes. `doing` completes "cannot ...".
 */
export async function requireAccess(canI: (req: AccessRequest) => Promise<AccessCheck>, needs: AccessRequest[], doing: string): Promise<void> {
  const results = await Promise.all(needs.map(async (r) => ({ r, res: await canI(r) })));
  const missing = results.filter((x) => !x.res.allowed);
  if (missing.length === 0) return;
  throw new TesseraError('FORBIDDEN', `cannot ${doing}: ${missing.map((m) => m.res.reason).join('; ')}`, { missing: missing.map((m) => permissionName(m.r)) });
}

/**
 * The API server's 403 text, e.g. `nodes "gpu-1" is forbidden: User "team-a" cannot patch
 * resource "nodes" in API group "" at the cluster scope`, read back into the words and the
 * permission name canI uses. Null when the text is not of that form.
 */
export function parseForbidden(message: string): { user: string; reason: string; missing: string } | null {
  const m = /User "([^"]*)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)?/.exec(message);
  if (!m) return null;
  const [, user, verb, res, group, namespace] = m;
  const [resource, subresource] = res!.split('/');
  const req: AccessRequest = { verb: verb!, resource: resource!, ...(group ? { group } : {}), ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}) };
  const { namespace: _ns, ...clusterWide } = req;
  const what = permissionName(clusterWide);
  const where = namespace ? ` in namespace ${namespace}` : ' cluster-wide';
  return { user: user!, reason: `user "${user}" may not ${what}${where}`, missing: permissionName(req) };
}
