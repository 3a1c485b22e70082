import type { MetricsSnapshot } from '../model/metrics.ts';
import { stream } from './define.ts';
import { clusterId } from './ids.ts';
import { s } from './schema.ts';

export const metricsStreams = {
  'metrics.watch': stream<MetricsSnapshot>()(s.object({ id: clusterId }), 'GPU metrics of a connected cluster, one snapshot per scrape interval.'),
};
