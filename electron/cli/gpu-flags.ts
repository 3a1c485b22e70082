export type GpuFlag = { kind: 'none' | 'full' | 'mig'; count?: number; profile?: string };

/** --gpu N, --mig PROFILE[:N], or neither; `usage` makes the command's own wrong-usage error (exit 2). */
export function gpuFlags(values: Record<string, unknown>, usage: (message: string) => Error): GpuFlag | undefined {
  if (values.gpu !== undefined && values.mig !== undefined) throw usage('--gpu and --mig are exclusive: full GPUs or a MIG slice');
  if (values.gpu !== undefined) {
    if (!/^\d+$/.test(String(values.gpu))) throw usage(`--gpu takes a count of full GPUs, got "${values.gpu}" (for a slice use --mig 1g.10gb)`);
    const n = Number(values.gpu);
    return n === 0 ? { kind: 'none' } : { kind: 'full', count: n };
  }
  if (values.mig !== undefined) {
    const m = /^([^:]+)(?::(\d+))?$/.exec(String(values.mig));
    if (!m) throw usage(`--mig takes PROFILE or PROFILE:COUNT, got "${values.mig}"`);
    return { kind: 'mig', profile: m[1]!, count: m[2] ? Number(m[2]) : 1 };
  }
  return undefined;
}
