import type { EndpointPreview } from '../../../shared/model/endpoints.ts';

/** What core found when it checked the InferenceService: problems, permissions, the server's dry run, free capacity. */
export function PreviewReport({ preview }: { preview: EndpointPreview }) {
  const denied = preview.access.filter((a) => !a.allowed);
  return (
    <div className={preview.ok ? 'info' : 'error'} data-testid="ep-preview">
      {preview.ok ? <div>Valid: permissions allow it{preview.dryRun?.ok ? ' and the server dry run accepted it' : ''}.</div> : <div>Not valid yet:</div>}
      {preview.problems.map((p) => (
        <div key={p} className="problem">
          {p}
        </div>
      ))}
      {denied.map((a) => (
        <div key={a.reason} className="problem">
          not permitted: {a.reason}
        </div>
      ))}
      {preview.dryRun && !preview.dryRun.ok && <div className="problem">server dry run refused it: {preview.dryRun.message ?? 'no reason given'}</div>}
      {preview.capacity && <div className={`small${preview.capacity.free > 0 ? '' : ' warning'}`}>{preview.capacity.note || (preview.capacity.free > 0 ? `${preview.capacity.free} free on ${preview.capacity.nodes} node${preview.capacity.nodes === 1 ? '' : 's'}` : 'no free capacity for this GPU now: pods will wait')}</div>}
    </div>
  );
}
