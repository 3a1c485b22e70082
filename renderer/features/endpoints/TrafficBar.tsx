import type { TrafficTarget } from '../../../shared/model/endpoints.ts';
import { revisionColour } from './ep-format.ts';

/** The traffic split as one bar with a segment per revision; RawDeployment has no revisions. */
export function TrafficBar({ traffic }: { traffic: TrafficTarget[] }) {
  const shown = traffic.filter((t) => t.percent > 0);
  if (!traffic.length) return <span className="muted small">no split (one deployment)</span>;
  return (
    <div className="ep-traffic" data-testid="ep-traffic">
      <div className="ep-traffic-bar" title={traffic.map((t) => `${t.revision}: ${t.percent}%`).join('\n')}>
        {/* Keys by position: while a canary's revision is still coming up, Knative lists the same revision twice (latest and prev). */}
        {shown.map((t, i) => (
          <div key={`${i}:${t.revision}`} className="ep-traffic-seg" style={{ width: `${t.percent}%`, background: revisionColour(i, t.latest) }} />
        ))}
      </div>
      <div className="small">
        {traffic.map((t, i) => (
          <span key={`${i}:${t.revision}`} className="ep-traffic-label">
            {t.revision.replace(/^.*-predictor-/, '')}
            {t.tag ? ` (${t.tag})` : t.latest ? ' (latest)' : ''} {t.percent}%
          </span>
        ))}
      </div>
    </div>
  );
}
