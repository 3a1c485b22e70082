import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { GpuParseError, parseAny, type GpuReportFormat } from '../core/gpu/index.ts';

const FORMATS: GpuReportFormat[] = ['nvidia-smi-xml', 'nvidia-smi-text', 'nvidia-smi-csv', 'nvidia-smi-list', 'mig-lgip', 'mig-lgipp', 'mig-lgi', 'dcgm-exporter'];

export class GpuParseUsageError extends Error {}

/** `tessera gpu parse <file> [--format F] [--csv-fields a,b,c]`: one stable JSON shape for every format. */
export async function gpuParseCommand(args: string[], out: { write(s: string): unknown }): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' }, 'csv-fields': { type: 'string' }, json: { type: 'boolean' } } });
  const file = positionals[0];
  if (!file) throw new GpuParseUsageError('usage: tessera gpu parse <file> [--format FORMAT] [--csv-fields a,b,c]');
  if (values.format && !FORMATS.includes(values.format as GpuReportFormat)) throw new GpuParseUsageError(`--format must be one of ${FORMATS.join(', ')}`);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new GpuParseError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const report = parseAny(text, {
    ...(values.format ? { format: values.format as GpuReportFormat } : {}),
    ...(values['csv-fields'] ? { csvFields: values['csv-fields'].split(',').map((f) => f.trim()) } : {}),
  });
  out.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
