import type { AuditEntry } from '../model/audit.ts';
import { method } from './define.ts';
import { s } from './schema.ts';

export interface AuditPageResult {
  entries: AuditEntry[];
  nextBefore?: number;
}

export interface AuditVerifyResultView {
  ok: boolean;
  entries: number;
  files: number;
  lastSeq?: number;
  firstProblem?: { file: string; line: number; seq: number | null; kind: string; message: string };
}

const outcome = s.literal('started', 'succeeded', 'failed', 'cancelled');

export const auditMethods = {
  'audit.query': method<AuditPageResult>()(
    s.object({
      since: s.optional(s.string({ max: 40 })),
      until: s.optional(s.string({ max: 40 })),
      cluster: s.optional(s.string({ max: 512 })),
      action: s.optional(s.string({ max: 120 })),
      actor: s.optional(s.string({ max: 120 })),
      outcome: s.optional(outcome),
      text: s.optional(s.string({ max: 200 })),
      limit: s.optional(s.number({ integer: true, min: 1, max: 1000 })),
      before: s.optional(s.number({ integer: true, min: 1 })),
    }),
    'Audit entries, newest first, filtered; page with `before`.',
  ),
  'audit.verify': method<AuditVerifyResultView>()(s.object({}), 'Check the hash chain of the whole audit trail.'),
};
