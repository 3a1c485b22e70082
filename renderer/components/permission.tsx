import { useEffect } from 'react';
import type { AccessRequestView } from '../../shared/model/permissions.ts';
import { useAccess } from '../stores/access.ts';
import { permissionOf, type PermissionState } from '../../shared/model/permissions.ts';

/**
 * Whether this user may take an action on a cluster, checked before it is offered (the same
 * SelfSubjectAccessReview core repeats when the action is taken). Re-checked when it goes stale.
 */
export function usePermission(clusterId: string | undefined, reqs: AccessRequestView[]): PermissionState {
  const ensure = useAccess((s) => s.ensure);
  const checks = useAccess((s) => s.checks);
  const key = JSON.stringify(reqs);
  useEffect(() => {
    if (clusterId) ensure(clusterId, JSON.parse(key) as AccessRequestView[]);
  }, [clusterId, key, ensure]);
  return permissionOf(checks, clusterId, reqs);
}

/** Disabled-button title and the line beside it: which permission is missing, in core's words. */
export const deniedTitle = (p: PermissionState): string | undefined => (p.allowed === false ? `missing permission: ${p.missing.join(', ')}` : undefined);

export function MissingPermission({ p, what }: { p: PermissionState; what: string }) {
  if (p.allowed !== false) return null;
  return (
    <div className="small bad-text" data-testid="missing-permission">
      Cannot {what}: {p.reason} (missing {p.missing.join(', ')})
    </div>
  );
}
