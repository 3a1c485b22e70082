import type { Endpoint, EndpointState, GpuHeld, TestProtocol } from '../../../shared/model/endpoints.ts';
import type { Tone } from '../../components/Badge.tsx';

export const STATE_TONE: Record<EndpointState, Tone> = { ready: 'ok', progressing: 'info', canary: 'warn', failed: 'bad', stopped: 'idle', unknown: 'idle' };

export const PROTOCOL_LABEL: Record<TestProtocol, string> = {
  v1: 'v1 :predict',
  v2: 'v2 (Open Inference) infer',
  'openai-completions': 'OpenAI completions',
  'openai-chat': 'OpenAI chat completions',
};

export function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** "2× nvidia.com/gpu" → "2 GPU"; MIG resources read as their profile. */
export function heldLabel(held: GpuHeld[]): string {
  return held.map((h) => `${h.count}× ${h.resource === 'nvidia.com/gpu' ? 'GPU' : h.resource.replace(/^nvidia\.com\/mig-/, '')}`).join(', ');
}

export function ms(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`;
}

export interface EndpointFilter {
  text: string;
  cluster: string;
  state: '' | EndpointState;
}

export function matches(e: Endpoint, f: EndpointFilter, clusterName: string): boolean {
  if (f.cluster && e.clusterId !== f.cluster) return false;
  if (f.state && e.state !== f.state) return false;
  const t = f.text.trim().toLowerCase();
  if (!t) return true;
  return `${clusterName} ${e.namespace} ${e.name} ${e.runtime ?? ''} ${e.modelFormat ?? ''} ${e.storageUri ?? ''} ${e.url ?? ''} ${e.reason ?? ''}`.toLowerCase().includes(t);
}

/** Stable colours for up to a few revisions in a traffic bar; the latest is the accent. */
export function revisionColour(i: number, latest: boolean): string {
  if (latest) return 'var(--accent)';
  return ['var(--info)', '#a371f7', '#d29922', '#8392a5'][i % 4]!;
}
