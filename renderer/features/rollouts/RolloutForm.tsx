import { useMemo, useState } from 'react';
import type { RolloutForm as Form } from '../../stores/rollouts.ts';
import { useRollouts } from '../../stores/rollouts.ts';
import { useNodes } from '../../stores/nodes.ts';

/** "25%, 50%, 10" → stages after the canary. */
export function parseStages(text: string): { stages: Form['stages']; problem?: string } {
  const stages: NonNullable<Form['stages']> = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(%?)$/.exec(part);
    if (!m || Number(m[1]) < 1 || (m[2] && Number(m[1]) > 100)) return { stages: undefined, problem: `"${part}" is not a node count or a percentage` };
    stages.push(m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) });
  }
  return { stages };
}

/** The rollout request: targets, version, stages, limits, pause and failure policy; "Plan" shows what it would do. */
export function RolloutFormView({ clusterId }: { clusterId: string }) {
  const { makePlan, busy } = useRollouts();
  const rows = useNodes((s) => s.byCluster[clusterId]?.rows);
  const pools = useMemo(() => [...new Set([...(rows?.values() ?? [])].map((r) => r.gpu?.product).filter((p): p is string => !!p && p !== 'unknown'))].sort(), [rows]);
  const [name, setName] = useState('');
  const [targetKind, setTargetKind] = useState<'pool' | 'selector' | 'nodes'>('pool');
  const [target, setTarget] = useState('');
  const [version, setVersion] = useState('');
  const [executor, setExecutor] = useState<'gpu-operator' | 'ssh'>('gpu-operator');
  const [canary, setCanary] = useState(1);
  const [stagesText, setStagesText] = useState('50%');
  const [maxUnavailable, setMaxUnavailable] = useState(1);
  const [pauseKind, setPauseKind] = useState<'none' | 'duration' | 'approval'>('approval');
  const [pauseSeconds, setPauseSeconds] = useState(300);
  const [tolerate, setTolerate] = useState(0);
  const [autoRollback, setAutoRollback] = useState(true);
  const parsed = parseStages(stagesText);
  const targets = targetKind === 'nodes' ? { nodes: target.split(',').map((s) => s.trim()).filter(Boolean) } : targetKind === 'selector' ? { selector: target.trim() } : { pool: target };
  const ready = version.trim() && target.trim() && !parsed.problem;
  const submit = () =>
    makePlan({
      id: clusterId,
      ...(name.trim() ? { name: name.trim() } : {}),
      targets,
      driverVersion: version.trim(),
      executor: { kind: executor },
      canary,
      ...(parsed.stages?.length ? { stages: parsed.stages } : {}),
      maxUnavailable,
      pause: pauseKind === 'duration' ? { kind: 'duration', seconds: pauseSeconds } : { kind: pauseKind },
      tolerateFailures: tolerate,
      autoRollback,
    });
  return (
    <form className="rollout-form" aria-label="new rollout" onSubmit={(e) => (e.preventDefault(), void submit())}>
      <h3>New driver rollout</h3>
      <label>Name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="driver-570-h100" data-testid="rollout-name" /></label>
      <label>Target
        <select aria-label="target kind" value={targetKind} onChange={(e) => (setTargetKind(e.target.value as typeof targetKind), setTarget(''))}>
          <option value="pool">GPU node pool</option><option value="selector">label selector</option><option value="nodes">explicit nodes</option>
        </select>
        {targetKind === 'pool' ? (
          <select aria-label="pool" value={target} onChange={(e) => setTarget(e.target.value)} data-testid="rollout-pool"><option value="">choose…</option>{pools.map((p) => <option key={p}>{p}</option>)}</select>
        ) : (
          <input aria-label="targets" value={target} onChange={(e) => setTarget(e.target.value)} placeholder={targetKind === 'nodes' ? 'node-a,node-b' : 'tessera.dev/pool=training'} data-testid="rollout-targets" />
        )}
      </label>
      <label>Driver version <input value={version} onChange={(e) => setVersion(e.target.value)} placeholder="570.124.06" data-testid="rollout-version" /></label>
      <label>Executor <select value={executor} onChange={(e) => setExecutor(e.target.value as typeof executor)} data-testid="rollout-executor"><option value="gpu-operator">GPU Operator</option><option value="ssh">SSH recipe</option></select></label>
      <label>Canary nodes <input type="number" min={0} value={canary} onChange={(e) => setCanary(Math.max(0, Number(e.target.value) || 0))} style={{ width: '5em' }} data-testid="rollout-canary" /></label>
      <label>Then stages <input value={stagesText} onChange={(e) => setStagesText(e.target.value)} placeholder="25%, 50%, 10" data-testid="rollout-stages" /> {parsed.problem && <span className="error small">{parsed.problem}</span>}</label>
      <label>At most <input type="number" min={1} value={maxUnavailable} onChange={(e) => setMaxUnavailable(Math.max(1, Number(e.target.value) || 1))} style={{ width: '5em' }} /> nodes unavailable per stage</label>
      <label>Between stages <select value={pauseKind} onChange={(e) => setPauseKind(e.target.value as typeof pauseKind)} data-testid="rollout-pause"><option value="approval">wait for my approval</option><option value="duration">pause for a time</option><option value="none">go on at once</option></select>
        {pauseKind === 'duration' && <input type="number" min={1} value={pauseSeconds} onChange={(e) => setPauseSeconds(Math.max(1, Number(e.target.value) || 1))} style={{ width: '6em' }} aria-label="pause seconds" />}
      </label>
      <label>Tolerate <input type="number" min={0} value={tolerate} onChange={(e) => setTolerate(Math.max(0, Number(e.target.value) || 0))} style={{ width: '5em' }} /> failed nodes per stage</label>
      <label><input type="checkbox" checked={autoRollback} onChange={(e) => setAutoRollback(e.target.checked)} /> Roll back upgraded nodes automatically when a stage fails</label>
      <button type="submit" disabled={!ready || busy !== undefined} data-testid="rollout-plan">Plan</button>
    </form>
  );
}
