import { useState } from 'react';
import { profileOf, type MigModel } from '../../../shared/gpu/mig-geometry.ts';
import { validateLayout, type LayoutItem } from '../../../shared/gpu/mig-layout.ts';
import type { MigSlot } from '../../../shared/model/node.ts';

const pct = (n: number, of: number) => `${(n / of) * 100}%`;

/** The current layout of one GPU on the memory-slice axis, read-only, with who holds each instance. */
export function CurrentTrack({ model, slots }: { model: MigModel; slots: MigSlot[] }) {
  return (
    <div className="mig-track current" role="img" aria-label={`current: ${slots.map((s) => `${s.profile}@${s.start}`).join(', ') || 'MIG off or empty'}`}>
      {Array.from({ length: model.memorySlices }, (_, i) => (
        <div key={i} className="mig-cell" style={{ left: pct(i, model.memorySlices), width: pct(1, model.memorySlices) }} />
      ))}
      {slots.map((s, i) => (
        <div key={i} className={`mig-block${s.holder ? ' held' : ''}`} style={{ left: pct(s.start, model.memorySlices), width: pct(s.size, model.memorySlices) }} title={s.holder ? `${s.holder.namespace}/${s.holder.name}` : 'free'}>
          {s.profile}
        </div>
      ))}
    </div>
  );
}

/**
 * The planned layout of one GPU: click a free slice to place the chosen
 * profile there, drag an instance to move it, or focus it and use the arrow
 * keys (move) and Delete (remove). Invalid instances stay on the track, in
 * red, with the reason.
 */
export function PlannedTrack({ model, gpu, items, brush, onChange }: { model: MigModel; gpu: number; items: LayoutItem[]; brush?: string; onChange: (items: LayoutItem[]) => void }) {
  const [dragging, setDragging] = useState<number | null>(null);
  const v = validateLayout(model, items);
  const problemsOf = (i: number) => v.problems.filter((p) => p.index === i).map((p) => p.message);
  const move = (i: number, start: number) => {
    if (start < 0 || start >= model.memorySlices) return;
    onChange(items.map((it, k) => (k === i ? { ...it, start } : it)));
  };
  const remove = (i: number) => onChange(items.filter((_, k) => k !== i));
  const place = (start: number) => brush && onChange([...items, { profile: brush, start }]);

  return (
    <div className="mig-planned">
      <div className="mig-track planned" data-testid={`mig-planned-${gpu}`} aria-label={`planned layout of GPU ${gpu}`}>
        {Array.from({ length: model.memorySlices }, (_, s) => (
          <button
            key={s}
            className="mig-cell"
            style={{ left: pct(s, model.memorySlices), width: pct(1, model.memorySlices) }}
            aria-label={`GPU ${gpu} slice ${s}${brush ? `: place ${brush}` : ''}`}
            data-testid={`mig-cell-${gpu}-${s}`}
            onClick={() => place(s)}
            onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => {
              e.preventDefault();
              if (dragging !== null) move(dragging, s);
              setDragging(null);
            }}
          />
        ))}
        {items.map((it, i) => {
          const p = profileOf(model, it.profile);
          const problems = problemsOf(i);
          return (
            <div
              key={i}
              role="button"
              tabIndex={0}
              draggable
              className={`mig-block${problems.length ? ' invalid' : ''}`}
              style={{ left: pct(it.start, model.memorySlices), width: pct(p?.memorySlices ?? 1, model.memorySlices) }}
              title={problems.join(' ') || `${it.profile} at slice ${it.start} (drag, or arrow keys to move, Delete to remove)`}
              aria-label={`${it.profile} at slice ${it.start}${problems.length ? ' (invalid)' : ''}`}
              data-testid={`mig-block-${gpu}-${i}`}
              onDragStart={() => setDragging(i)}
              onKeyDown={(e) => {
                if (e.key === 'ArrowLeft') move(i, it.start - 1);
                else if (e.key === 'ArrowRight') move(i, it.start + 1);
                else if (e.key === 'Delete' || e.key === 'Backspace') remove(i);
                else return;
                e.preventDefault();
              }}
            >
              {it.profile}
              <span className="mig-x" onClick={(e) => (e.stopPropagation(), remove(i))} aria-hidden>
                ×
              </span>
            </div>
          );
        })}
      </div>
      {v.problems.length > 0 && (
        <ul className="mig-problems" data-testid={`mig-problems-${gpu}`}>
          {v.problems.map((p, i) => (
            <li key={i}>{p.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
