import { useRef, useState } from 'react';
import { useClusters } from '../../stores/clusters.ts';

/** Import by content: the renderer never hands core a file path. */
export function ImportKubeconfig() {
  const importKubeconfig = useClusters((s) => s.importKubeconfig);
  const error = useClusters((s) => s.actionErrors.import);
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    setDone(null);
    const ok = await importKubeconfig(file.name, await file.text());
    setBusy(false);
    if (ok) setDone(`Imported ${file.name}`);
    if (input.current) input.current.value = '';
  };

  return (
    <div className="import">
      <label className="button">
        {busy ? 'Importing…' : 'Import kubeconfig…'}
        <input ref={input} type="file" hidden onChange={(e) => void onFile(e.target.files?.[0])} data-testid="import-kubeconfig" />
      </label>
      {done && <span className="muted">{done}</span>}
      {error && (
        <div className="error" role="alert">
          Import refused: {error.message}
        </div>
      )}
    </div>
  );
}
