import { memo, type ReactNode } from 'react';
import type { NodePhase, NodeProgress } from '../../../shared/model/rollout.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { VirtualRows } from '../../components/VirtualRows.tsx';

export type NodeShow = 'all' | 'active' | 'failed' | 'done' | 'pending';
export interface NodeFilter {
  text: string;
  show: NodeShow;
}

/** Stages with more nodes than this scroll in a window of their own, so a 5,000-node rollout keeps a few dozen rows in the page. */
export const PLAIN_ROWS = 40;
const ROW_HEIGHT = 30;

const stepTone = (p: NodePhase): Tone => (p.step === 'done' ? 'ok' : p.step === 'failed' ? 'bad' : p.step === 'pending' ? 'idle' : 'info');
const phaseOf = (n: NodeProgress) => n.rollback ?? n.upgrade;
const inFlight = (n: NodeProgress) => !['pending', 'done', 'failed'].includes(phaseOf(n).step);

export function nodeMatches(n: NodeProgress, f: NodeFilter): boolean {
  if (f.text && !n.name.includes(f.text)) return false;
  switch (f.show) {
    case 'active':
      return inFlight(n);
    case 'failed':
      return n.upgrade.step === 'failed' || n.rollback?.step === 'failed';
    case 'done':
      return phaseOf(n).step === 'done';
    case 'pending':
      return n.upgrade.step === 'pending';
    default:
      return true;
  }
}

function since(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s` : `${Math.round(s / 60)}m`;
}

/** What a row shows. A watch change keeps unchanged nodes as the same objects; a whole rollout (first event, a control call's answer) is all new ones, so rows also compare by this. */
const rowKey = (n: NodeProgress) => {
  const p = phaseOf(n);
  return `${n.upgrade.step}|${n.rollback?.step ?? ''}|${p.stepAt ?? p.startedAt ?? ''}|${p.finishedAt ?? ''}|${p.error ?? ''}|${(p.gates ?? []).map((g) => `${g.gate}${g.ok}`).join()}|${n.upgrade.log.length + (n.rollback?.log.length ?? 0)}`;
};

interface RowProps {
  n: NodeProgress;
  /** Only rows in flight show a time in state: the others get 0 and stay unrendered as the clock ticks. */
  now: number;
  selected: boolean;
  onSelect: (name: string) => void;
}

function cells({ n, now }: RowProps): ReactNode[] {
  const p = phaseOf(n);
  return [
    n.name,
    <span className="small">{n.before?.version ?? '?'} → {n.upgrade.toVersion}{n.rollback ? ` → ${n.rollback.toVersion}` : ''}</span>,
    <>
      <Badge tone={stepTone(n.upgrade)}>{n.upgrade.step}</Badge>
      {n.rollback && <> <Badge tone={stepTone(n.rollback)}>rollback {n.rollback.step}</Badge></>}
    </>,
    <span className="muted small">{p.finishedAt || !now ? '' : since(p.stepAt ?? p.startedAt, now)}</span>,
    <span className="small">
      {(p.gates ?? []).map((g) => <Badge key={g.gate} tone={g.ok ? 'ok' : 'bad'} title={g.detail}>{g.gate}</Badge>)}
      {p.error && <span className="error"> {p.error}</span>}
    </span>,
  ];
}

const same = (a: RowProps, b: RowProps) => a.now === b.now && a.selected === b.selected && a.onSelect === b.onSelect && (a.n === b.n || rowKey(a.n) === rowKey(b.n));

const TableRow = memo(function TableRow(props: RowProps) {
  const { n, selected, onSelect } = props;
  return (
    <tr data-testid={`rollout-node-${n.name}`} data-step={n.upgrade.step} data-rollback={n.rollback?.step ?? ''} className={selected ? 'selected' : undefined} onClick={() => onSelect(n.name)}>
      {cells(props).map((c, i) => <td key={i}>{c}</td>)}
    </tr>
  );
}, same);

const GridRow = memo(function GridRow(props: RowProps) {
  const { n, selected, onSelect } = props;
  return (
    <div data-testid={`rollout-node-${n.name}`} data-step={n.upgrade.step} data-rollback={n.rollback?.step ?? ''} className={`rollout-row${selected ? ' selected' : ''}`} onClick={() => onSelect(n.name)}>
      {cells(props).map((c, i) => <span key={i}>{c}</span>)}
    </div>
  );
}, same);

/** One stage's nodes: a plain table when short, a scrolling window of rows when long. */
export function StageNodes({ nodes, now, selected, onSelect, label }: { nodes: NodeProgress[]; now: number; selected?: string; onSelect: (name: string) => void; label: string }) {
  const props = (n: NodeProgress): RowProps => ({ n, now: inFlight(n) ? now : 0, selected: n.name === selected, onSelect });
  if (nodes.length <= PLAIN_ROWS) {
    return <table className="table compact"><tbody>{nodes.map((n) => <TableRow key={n.name} {...props(n)} />)}</tbody></table>;
  }
  return (
    <div className="rollout-rows" style={{ height: Math.min(nodes.length, 12) * ROW_HEIGHT }}>
      <VirtualRows items={nodes} rowHeight={ROW_HEIGHT} getKey={(n) => n.name} label={label} render={(n) => <GridRow {...props(n)} />} />
    </div>
  );
}

/** The node picked in a stage: its gates in full and its log lines, upgrade then rollback. */
export function NodeDetail({ n, onClose }: { n: NodeProgress; onClose: () => void }) {
  const phases: [string, NodePhase | undefined][] = [['upgrade', n.upgrade], ['rollback', n.rollback]];
  return (
    <section className="rollout-node-detail" data-testid="rollout-node-detail" aria-label={`node ${n.name}`}>
      <div className="row">
        <strong>{n.name}</strong>
        <span className="muted small">stage {n.stage} · before: {n.before?.version ?? '?'}{n.before?.cordoned ? ', cordoned (stays cordoned)' : ''}</span>
        <button onClick={onClose}>Close</button>
      </div>
      {phases.map(([what, p]) =>
        p ? (
          <div key={what}>
            <div className="small">
              {what} to {p.toVersion}: <Badge tone={stepTone(p)}>{p.step}</Badge>
              {p.error && <span className="error"> {p.error}</span>}
            </div>
            {(p.gates ?? []).map((g) => <div key={g.gate} className="small"><Badge tone={g.ok ? 'ok' : 'bad'}>{g.gate}</Badge> {g.detail}</div>)}
            <pre className="report" data-testid={`rollout-node-log-${what}`}>{p.log.length ? p.log.join('\n') : '(no log lines yet)'}</pre>
          </div>
        ) : null,
      )}
    </section>
  );
}
