import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { RolloutState } from '../../../shared/model/rollout.ts';
import type { Clock } from '../clock.ts';
import { microTime, statusOf, type RolloutApi } from './rollout-api.ts';
import { objectName, ROLLOUT_LABELS, ROLLOUT_NAMESPACE } from './rollout-names.ts';

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${ROLLOUT_NAMESPACE}/leases`;

interface Lease {
  metadata: { name: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** This console, as a Lease holder: host, process and a random part so two windows on one host differ. */
export function consoleIdentity(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

export function holderOf(lease: Lease | undefined, now: number): RolloutState['holder'] | undefined {
  const id = lease?.spec?.holderIdentity;
  if (!lease || !id) return undefined;
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
  const expires = Number.isFinite(renewed) ? renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 : NaN;
  return {
    identity: id,
    ...(Number.isFinite(renewed) ? { renewedAt: new Date(renewed).toISOString(), expiresAt: new Date(expires).toISOString() } : {}),
    fresh: Number.isFinite(expires) && expires > now,
  };
}

export async function readHolder(api: RolloutApi, id: string, clock: Clock): Promise<RolloutState['holder'] | undefined> {
  return holderOf(await api.maybe<Lease>(`${LEASES}/${objectName(id)}`, { action: `read the lease of rollout ${id}` }), clock.now());
}

/**
 * The `coordination.k8s.io/v1` Lease that makes one console the driver of a
 * rollout. Acquiring fails while another holder's lease is fresh; an expired
 * one is taken over (leaseTransitions counts it). Renewal runs on a timer; a
 * renewal that finds another holder, or that cannot reach the server before
 * the lease would expire, calls onLost so the driver stops touching nodes.
 */
export class RolloutLease {
  private rv = '';
  private timer?: ReturnType<typeof setTimeout>;
  private lastRenew = 0;
  private stopped = false;

  constructor(
    private readonly api: RolloutApi,
    private readonly rolloutId: string,
    readonly identity: string,
    private readonly seconds: number,
    private readonly clock: Clock,
    private readonly onLost: (why: string) => void,
  ) {}

  private get path(): string {
    return `${LEASES}/${objectName(this.rolloutId)}`;
  }

  private body(prev: Lease | undefined, acquire: boolean): Lease & { apiVersion: string; kind: string } {
    const now = microTime(this.clock.now());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: objectName(this.rolloutId), ...(prev?.metadata.resourceVersion ? { resourceVersion: prev.metadata.resourceVersion } : {}), labels: { ...ROLLOUT_LABELS, 'tessera.dev/rollout': this.rolloutId } } as Lease['metadata'],
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.seconds,
        acquireTime: acquire ? now : (prev?.spec?.acquireTime ?? now),
        renewTime: now,
        leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (acquire && prev?.spec?.holderIdentity && prev.spec.holderIdentity !== this.identity ? 1 : 0),
      },
    };
  }

  /** Takes the lease or throws CONFLICT naming who holds it and until when. */
  async acquire(): Promise<void> {
    const prev = await this.api.maybe<Lease>(this.path, { action: `read the lease of rollout ${this.rolloutId}` });
    const holder = holderOf(prev, this.clock.now());
    if (holder?.fresh && holder.identity !== this.identity) {
      throw new TesseraError(
        'CONFLICT',
        `rollout ${this.rolloutId} is being driven by another console (${holder.identity}); its lease runs until ${holder.expiresAt}. Take over only after that, if that console is gone.`,
        { rollout: this.rolloutId, holder: holder.identity, expiresAt: holder.expiresAt },
      );
    }
    try {
      const lease = prev
        ? await this.api.json<Lease>(this.path, { method: 'PUT', body: this.body(prev, true), action: `take over the lease of rollout ${this.rolloutId}` })
        : await this.api.json<Lease>(LEASES, { method: 'POST', body: this.body(undefined, true), action: `create the lease of rollout ${this.rolloutId}` });
      this.rv = lease.metadata.resourceVersion ?? '';
    } catch (err) {
      // Someone else got there between our read and write.
      if (statusOf(err) === 409) throw new TesseraError('CONFLICT', `another console took the lease of rollout ${this.rolloutId} at the same moment`, { rollout: this.rolloutId });
      throw err;
    }
    this.lastRenew = this.clock.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.renew(), Math.max(200, (this.seconds * 1000) / 3));
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      const cur = await this.api.json<Lease>(this.path, { action: `read the lease of rollout ${this.rolloutId}` });
      if (cur.spec?.holderIdentity !== this.identity) return this.lose(`another console (${cur.spec?.holderIdentity ?? 'none'}) holds the lease now`);
      const lease = await this.api.json<Lease>(this.path, { method: 'PUT', body: this.body(cur, false), action: `renew the lease of rollout ${this.rolloutId}` });
      this.rv = lease.metadata.resourceVersion ?? '';
      this.lastRenew = this.clock.now();
    } catch (err) {
      if (statusOf(err) === 404) return this.lose('the lease was deleted');
      if (this.clock.now() - this.lastRenew >= this.seconds * 1000) return this.lose(`could not renew the lease in time: ${(err as Error).message}`);
    }
    this.schedule();
  }

  private lose(why: string): void {
    this.stop();
    this.onLost(why);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Gives the lease up so another console may drive at once (pause, finish). */
  async release(): Promise<void> {
    this.stop();
    await this.api
      .json(this.path, { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion: this.rv } }, action: `release the lease of rollout ${this.rolloutId}` })
      .catch(() => {
        // Already gone or taken over: either way it is not ours any more.
      });
  }
}
