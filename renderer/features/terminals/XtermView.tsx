import { useEffect, useRef } from 'react';
import { parkXterm, showXterm } from './xterm-registry.ts';

export { xtermHandle, type XtermHandle } from './xterm-registry.ts';

/**
 * Where one tab's xterm is shown. The terminal itself outlives this view (see
 * xterm-registry.ts), so switching pages keeps its scrollback and output.
 */
export function XtermView({ tabKey }: { tabKey: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    showXterm(tabKey, host.current!);
    return () => parkXterm(tabKey);
  }, [tabKey]);
  return <div className="xterm-slot" ref={host} />;
}
