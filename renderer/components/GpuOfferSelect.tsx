import type { GpuOffer } from '../../shared/model/workstation.ts';

/** The select's value for an offer: `full:POOL` or `mig:PROFILE@POOL`. */
export function offerValue(o: GpuOffer): string {
  return o.kind === 'full' ? `full:${o.pool}` : `mig:${o.profile}@${o.pool}`;
}

export function offerLabel(o: GpuOffer): string {
  const what = o.kind === 'full' ? `Full GPU · ${o.model}${o.pool !== o.model ? ` (${o.pool})` : ''}` : `MIG ${o.profile} · ${o.model}`;
  return `${what} — ${o.free} free on ${o.nodes} node${o.nodes === 1 ? '' : 's'}`;
}

/** No GPU, a full GPU or a MIG slice, offering only what is free right now. */
export function GpuOfferSelect({ offers, value, onChange }: { offers: GpuOffer[]; value: string; onChange: (v: string) => void }) {
  const group = (kind: GpuOffer['kind']) =>
    offers
      .filter((o) => o.kind === kind)
      .map((o) => (
        <option key={offerValue(o)} value={offerValue(o)}>
          {offerLabel(o)}
        </option>
      ));
  return (
    <select aria-label="gpu" value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="none">No GPU</option>
      <optgroup label="Full GPUs (free now)">{group('full')}</optgroup>
      <optgroup label="MIG slices (free now)">{group('mig')}</optgroup>
    </select>
  );
}
