/** The quotas.* and showback.* contract over the connected clusters, so core.ts only spreads these in. */
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { ParamsOf, ResultOf } from '../../../shared/contract/index.ts';
import type { quotaMethods } from '../../../shared/contract/quotas.ts';
import type { showbackMethods } from '../../../shared/contract/showback.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { DEFAULT_SETTINGS } from '../../../shared/model/settings.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import type { SettingsService } from '../settings/settings-service.ts';
import { ShowbackService } from '../showback/showback-service.ts';
import { QuotaService } from './quota-service.ts';

type M = keyof typeof quotaMethods | keyof typeof showbackMethods;
export type QuotaShowbackHandlers = { [K in M]: (params: ParamsOf<K>) => Promise<ResultOf<K>> };

export function quotaShowbackHandlers(clusters: ClusterService, audit: (input: AuditInput) => Promise<unknown>, opts: { dataDir?: string; settings?: SettingsService }): { methods: QuotaShowbackHandlers; quotas: QuotaService; showback?: ShowbackService } {
  const cluster = (id: string) => {
    const conn = clusters.connection(id);
    return { kubeConfig: () => conn.kubeConfig(), canI: (req: Parameters<typeof conn.canI>[0]) => conn.canI(req), userName: conn.rc.userName, ...(conn.rc.namespace ? { namespace: conn.rc.namespace } : {}) };
  };
  const quotas = new QuotaService({ cluster, audit });
  const showback = opts.dataDir
    ? new ShowbackService({ dataDir: opts.dataDir, cluster, settings: async () => (opts.settings ? (await opts.settings.get()).settings : DEFAULT_SETTINGS) })
    : undefined;
  return {
    quotas,
    ...(showback ? { showback } : {}),
    methods: {
      'quotas.list': ({ id }) => quotas.list(id),
      'quotas.update': ({ id, ...req }) => quotas.update(id, req),
      'showback.report': async ({ id, from, to, prometheusUrl }) => {
        if (!showback) throw new TesseraError('INTERNAL', 'this host keeps no data folder, so it has no showback observation log');
        return showback.report(id, from, to, prometheusUrl ? { prometheusUrl } : {});
      },
    },
  };
}
