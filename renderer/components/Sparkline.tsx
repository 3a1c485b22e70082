/** A tiny line of the last samples (0–100), drawn as SVG: no chart library, nothing fetched. */
export function Sparkline({ values, width = 80, height = 18 }: { values: number[]; width?: number; height?: number }) {
  if (values.length < 2) return <span className="muted small">–</span>;
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - (Math.max(0, Math.min(100, v)) / 100) * (height - 2) - 1).toFixed(1)}`).join(' ');
  return (
    <svg className="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`utilisation, last ${values.length} samples`}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
