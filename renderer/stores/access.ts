import { create } from 'zustand';
import type { AccessCheck } from '../../shared/model/cluster.ts';
import { accessKey, type AccessRequestView } from '../../shared/model/permissions.ts';
import { api } from '../api/client.ts';

/** As long as core caches a review: a permission granted or revoked shows within this. */
const TTL_MS = 30_000;

export interface Entry {
  at: number;
  result?: AccessCheck;
}

interface AccessState {
  /** By cluster id and permission name. */
  checks: Record<string, Entry>;
  /** Asks core (SelfSubjectAccessReview) unless a fresh answer or a question in flight exists. */
  ensure(clusterId: string, reqs: AccessRequestView[]): void;
}

export const useAccess = create<AccessState>((set, get) => ({
  checks: {},
  ensure(clusterId, reqs) {
    const now = Date.now();
    for (const r of reqs) {
      const key = accessKey(clusterId, r);
      const hit = get().checks[key];
      if (hit && now - hit.at < TTL_MS) continue;
      set((s) => ({ checks: { ...s.checks, [key]: { at: now, ...(hit?.result ? { result: hit.result } : {}) } } }));
      void api.call('clusters.canI', { id: clusterId, ...r }).then(
        (result) => set((s) => ({ checks: { ...s.checks, [key]: { at: Date.now(), result } } })),
        // Not knowing is not a refusal: core checks again when the action is taken.
        (err: { message?: string }) => set((s) => ({ checks: { ...s.checks, [key]: { at: Date.now(), result: { allowed: true, reason: `could not check: ${err.message ?? 'unknown error'}` } } } })),
      );
    }
  },
}));
