import type { Workstation } from '../../../shared/model/workstation.ts';
import type { Tone } from '../../components/Badge.tsx';

export const STATE_TONE: Record<Workstation['state'], Tone> = { running: 'ok', starting: 'info', stopping: 'info', stopped: 'idle', failed: 'bad', 'pending-no-capacity': 'warn' };

export function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
