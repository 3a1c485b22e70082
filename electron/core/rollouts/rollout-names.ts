import { randomBytes } from 'node:crypto';

/** Tessera's own namespace: rollout state and Leases live here. */
export const ROLLOUT_NAMESPACE = 'tessera-system';
export const ROLLOUT_LABELS = { 'app.kubernetes.io/managed-by': 'tessera', 'tessera.dev/kind': 'rollout' } as const;
export const ROLLOUT_SELECTOR = 'app.kubernetes.io/managed-by=tessera,tessera.dev/kind=rollout';
/** Rollout ids: short DNS labels, safe as part of object names and as CLI arguments. */
export const ROLLOUT_ID = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

export const objectName = (id: string) => `tessera-rollout-${id}`;

export function newRolloutId(name: string | undefined): string {
  const slug = (name ?? 'driver')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 24) || 'driver';
  return `${slug}-${randomBytes(3).toString('hex')}`;
}
