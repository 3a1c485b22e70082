import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useTerminals } from '../../stores/terminals.ts';
import { adoptInlineStyles } from './adopt-styles.ts';

/** What the toolbar can do to a tab's terminal. */
export interface XtermHandle {
  find(query: string, backwards: boolean): boolean;
  clearSearch(): void;
  copy(): Promise<boolean>;
  paste(): Promise<void>;
  focus(): void;
}

interface Entry extends XtermHandle {
  el: HTMLDivElement;
  refit(): void;
}

const THEME = { background: '#0b1015', foreground: '#d8dee6', cursor: '#76b900', selectionBackground: '#264f78' };

/**
 * One xterm per tab, for as long as the tab exists, not as long as the page
 * is shown: leaving the Terminals page parks the terminals off-screen (still
 * laid out, still receiving output) and coming back puts them where they
 * were, scrollback and all. Closing the tab disposes of its terminal.
 */
const entries = new Map<string, Entry>();
let parking: HTMLDivElement | null = null;

function parkingLot(): HTMLDivElement {
  if (!parking) {
    parking = document.createElement('div');
    parking.className = 'xterm-parking';
    parking.setAttribute('aria-hidden', 'true');
    document.body.appendChild(parking);
  }
  return parking;
}

export function xtermHandle(key: string): XtermHandle | undefined {
  return entries.get(key);
}

/** Shows the tab's terminal inside `host`, creating it the first time. */
export function showXterm(key: string, host: HTMLElement): void {
  const existing = entries.get(key);
  if (existing) {
    host.appendChild(existing.el);
    existing.refit();
    return;
  }
  const el = document.createElement('div');
  el.className = 'xterm-host';
  el.dataset.testid = 'xterm-host';
  host.appendChild(el);

  const term = new Terminal({ scrollback: 10_000, cursorBlink: true, fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace", fontSize: 13, theme: THEME });
  const fit = new FitAddon();
  const search = new SearchAddon();
  term.loadAddon(fit);
  term.loadAddon(search);
  term.open(el);
  const unadopt = adoptInlineStyles(el);
  const refit = () => {
    // A parked or hidden terminal has no size of its own; it is fitted when shown.
    if (el.parentElement === parking || el.clientWidth === 0 || el.clientHeight === 0) return;
    if (fit.proposeDimensions()) fit.fit();
  };
  refit();

  const copy = async () => {
    const text = term.getSelection();
    if (!text) return false;
    await navigator.clipboard.writeText(text);
    return true;
  };
  const paste = async () => {
    const text = await navigator.clipboard.readText();
    if (text) term.paste(text);
  };
  // Ctrl+C stays the shell's interrupt; copy and paste are Ctrl+Shift+C / Ctrl+Shift+V, as in most terminals.
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
    if (e.code === 'KeyC') return void copy(), false;
    if (e.code === 'KeyV') return void paste(), false;
    return true;
  });

  const onData = term.onData((data) => useTerminals.getState().input(key, data));
  const onResize = term.onResize(({ cols, rows }) => useTerminals.getState().resize(key, cols, rows));
  const observer = new ResizeObserver(refit);
  observer.observe(el);
  let detach = () => {};
  const dispose = () => {
    entries.delete(key);
    observer.disconnect();
    onData.dispose();
    onResize.dispose();
    detach();
    unadopt();
    term.dispose();
    el.remove();
  };
  entries.set(key, {
    el,
    refit,
    find: (q, backwards) => (backwards ? search.findPrevious(q) : search.findNext(q)),
    clearSearch: () => search.clearDecorations(),
    copy,
    paste,
    focus: () => term.focus(),
  });
  detach = useTerminals.getState().attach(key, {
    write: (bytes) => term.write(bytes),
    notice: (message, tone) => term.write(`\r\n\x1b[${tone === 'bad' ? '31' : '36'}m[tessera] ${message.replace(/[\x00-\x1f]/g, ' ')}\x1b[0m\r\n`),
    size: () => ({ cols: term.cols, rows: term.rows }),
    dispose,
  });
  term.focus();
}

/** The page is going away: keep the terminal, off-screen. */
export function parkXterm(key: string): void {
  const entry = entries.get(key);
  if (entry) parkingLot().appendChild(entry.el);
}
