/**
 * xterm.js writes its theme colours and cell sizes into <style> elements it
 * creates at run time. The console's CSP (style-src 'self', no
 * 'unsafe-inline') rightly refuses to apply those, which leaves the terminal
 * unstyled. Rather than weaken the policy for everything, the same rules are
 * applied as constructed stylesheets (CSSOM, which the CSP does not govern),
 * kept in step with every change xterm makes to its elements.
 */
export function adoptInlineStyles(root: HTMLElement): () => void {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>();
  let published = new Set<CSSStyleSheet>();
  const publish = () => {
    const mine = [...sheets.values()];
    document.adoptedStyleSheets = [...document.adoptedStyleSheets.filter((s) => !published.has(s)), ...mine];
    published = new Set(mine);
  };
  const sync = () => {
    const present = new Set(root.querySelectorAll('style'));
    for (const el of sheets.keys()) if (!present.has(el)) sheets.delete(el);
    for (const el of present) {
      let sheet = sheets.get(el);
      if (!sheet) sheets.set(el, (sheet = new CSSStyleSheet()));
      sheet.replaceSync(el.textContent ?? '');
    }
    publish();
  };
  const observer = new MutationObserver(sync);
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  sync();
  return () => {
    observer.disconnect();
    sheets.clear();
    publish();
  };
}
