import { parseSmiCsv, parseSmiXml, type GpuReport } from './index.ts';
import { SMI_CSV_FIELDS } from '../ssh/command-registry.ts';
import { runOperation } from '../ssh/remote-command.ts';
import type { SshPool } from '../ssh/ssh-pool.ts';
import type { SshTarget } from '../ssh/ssh-endpoint.ts';

/**
 * A GPU report from a host outside Kubernetes (or a deeper look at a node):
 * `nvidia-smi -q -x` through the same parser as pasted captures, falling back
 * to the CSV query on drivers whose XML cannot be read.
 */
export async function gpuReportOverSsh(pool: SshPool, target: SshTarget, timeoutMs = 30_000): Promise<GpuReport> {
  return pool.use(target, async (conn) => {
    const xml = await runOperation(conn, 'nvidia-smi.query', { timeoutMs, check: true });
    const report = parseSmiXml(xml.stdout);
    if (report.gpus.length > 0) return report;
    const csv = await runOperation(conn, 'nvidia-smi.csv', { timeoutMs, check: true });
    const fromCsv = parseSmiCsv(csv.stdout, { fields: SMI_CSV_FIELDS });
    fromCsv.warnings.unshift(...report.warnings.map((w) => `XML: ${w}`));
    return fromCsv;
  });
}
