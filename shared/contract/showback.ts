import type { ShowbackReport } from '../model/showback.ts';
import { method } from './define.ts';
import { clusterId } from './ids.ts';
import { s } from './schema.ts';

const isoTime = s.string({ min: 10, max: 40, pattern: /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/, patternHint: 'must be an ISO time such as 2026-11-01T00:00:00Z' });

export const showbackMethods = {
  'showback.report': method<ShowbackReport>()(
    s.object({
      id: clusterId,
      from: isoTime,
      to: isoTime,
      /** This report only (the CLI's --prometheus): a Prometheus to read instead of the one in settings. */
      prometheusUrl: s.optional(s.string({ min: 1, max: 300, pattern: /^https?:\/\/[A-Za-z0-9.\-\[\]:]+(\/[\w.\-/]*)?$/, patternHint: 'must be an http(s) URL such as http://prometheus.monitoring:9090' })),
    }),
    'GPU-hours, idle hours and cost by namespace, team and workload over a period: from Prometheus when one is given or set in settings, else from what Tessera observed (partial).',
  ),
};
