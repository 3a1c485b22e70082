/** A horizontal share bar: used / total, with the numbers beside it. */
export function Bar({ value, total, label, tone = 'alloc' }: { value: number; total: number; label?: string; tone?: 'alloc' | 'count' }) {
  const pct = total > 0 ? Math.min(100, (value / total) * 100) : 0;
  return (
    <div className="bar" title={label ?? `${value} of ${total}`}>
      <div className={`bar-fill bar-${tone}`} style={{ width: `${pct}%` }} />
    </div>
  );
}
