/**
 * MIG over SSH for hosts outside Kubernetes: resolves a host of the hosts
 * store to an SSH target, runs the nvidia-smi sequence (mig-ssh-apply.ts) and
 * gives the renderer and CLI a plain view of the steps and the read-back.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { LayoutItem } from '../../../shared/gpu/mig-layout.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { MigSshApplyView } from '../../../shared/model/mig.ts';
import type { HostService } from '../hosts/host-service.ts';
import { applyMigOverSsh, type MigSshResult } from './mig-ssh-apply.ts';

export interface MigSshRequest {
  hostId: string;
  gpus: number[];
  layout: LayoutItem[];
  model?: string;
  force?: boolean;
}

const key = (i: { profile: string; start: number }) => `${i.profile}@${i.start}`;

export function sshApplyView(r: MigSshResult): MigSshApplyView {
  return {
    ok: r.ok,
    target: r.target,
    ...(r.refused ? { refused: { reason: r.refused.reason, problems: r.refused.problems } } : {}),
    ...(r.unchanged ? { unchanged: true } : {}),
    ...(r.failed ? { failed: r.failed } : {}),
    steps: r.steps.map((s) => ({ name: s.name, ...(s.gpu !== undefined ? { gpu: s.gpu } : {}), command: s.command, exitCode: s.exitCode, durationMs: s.durationMs, ok: s.ok, ...(s.message ? { message: s.message } : {}) })),
    after: r.after ? r.after.map((g) => ({ gpu: g.index, layout: g.instances.map((i) => ({ profile: i.profile, start: i.start })) })) : null,
    mismatches: r.diff.filter((d) => d.diff.removed.length || d.diff.added.length).map((d) => ({ gpu: d.gpu, missing: d.diff.added.map(key), unexpected: d.diff.removed.map(key) })),
  };
}

export async function migOverSsh(hosts: HostService | undefined, req: MigSshRequest, record: (input: AuditInput) => Promise<unknown>): Promise<MigSshApplyView> {
  if (!hosts) throw new TesseraError('INTERNAL', 'this host keeps no SSH hosts (no data folder)');
  const host = await hosts.store.get(req.hostId);
  const target = await hosts.target(host);
  const result = await applyMigOverSsh({
    pool: hosts.pool,
    target,
    plan: { gpus: req.gpus, layout: req.layout, ...(req.model ? { model: req.model } : {}) },
    ...(req.force ? { force: true } : {}),
    record,
  });
  return sshApplyView(result);
}
