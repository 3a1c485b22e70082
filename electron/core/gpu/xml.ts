/**
 * A small, forgiving XML reader for `nvidia-smi -q -x`. That output is simple
 * (no namespaces, no mixed content that matters), so a full XML library would
 * be dead weight; what matters here is that broken input (a capture cut off
 * mid-write, a stray tag) still yields every element that was complete, with
 * a description of what went wrong instead of an exception.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Direct text content, entities decoded, CDATA included, not trimmed. */
  text: string;
  /** False when the input ended before this element's end tag: its text may be cut short. */
  closed: boolean;
}

export interface XmlDocument {
  root: XmlElement | null;
  /** Raw DOCTYPE body, e.g. `nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd"`. */
  doctype: string | null;
  /** Set when the input ended before the document did; says where. */
  truncated: string | null;
  /** Recoverable well-formedness problems, one line each. */
  problems: string[];
}

const ENTITY = /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole, body: string) => {
    if (body[0] !== '#') return NAMED[body] ?? whole;
    const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

const NAME_START = /[A-Za-z_:]/;
const MAX_PROBLEMS = 20;

export function parseXml(input: string): XmlDocument {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const doc: XmlDocument = { root: null, doctype: null, truncated: null, problems: [] };
  const stack: XmlElement[] = [];
  const problem = (msg: string) => {
    if (doc.problems.length < MAX_PROBLEMS) doc.problems.push(msg);
  };
  const where = () => (stack.length ? stack.map((e) => `<${e.name}>`).join('/') : 'the prolog');

  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const chunkEnd = lt === -1 ? n : lt;
    if (chunkEnd > i) {
      const chunk = text.slice(i, chunkEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(chunk);
      else if (chunk.trim() !== '') problem(`text outside the root element: ${JSON.stringify(chunk.trim().slice(0, 40))}`);
    }
    if (lt === -1) break;
    i = lt;

    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) {
        doc.truncated = `ended inside a comment in ${where()}`;
        break;
      }
      i = end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      if (end === -1) {
        doc.truncated = `ended inside CDATA in ${where()}`;
        break;
      }
      const top = stack[stack.length - 1];
      if (top) top.text += text.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end === -1) {
        doc.truncated = `ended inside a processing instruction in ${where()}`;
        break;
      }
      i = end + 2;
      continue;
    }
    if (text.startsWith('<!', i)) {
      const end = declarationEnd(text, i + 2);
      if (end === -1) {
        doc.truncated = `ended inside a declaration in ${where()}`;
        break;
      }
      const body = text.slice(i + 2, end);
      if (/^DOCTYPE\s/i.test(body)) doc.doctype = body.slice(8).trim();
      i = end + 1;
      continue;
    }
    if (text[i + 1] === '/') {
      const end = text.indexOf('>', i + 2);
      if (end === -1) {
        doc.truncated = `ended inside a closing tag in ${where()}`;
        break;
      }
      const name = text.slice(i + 2, end).trim();
      closeElement(stack, name, problem);
      i = end + 1;
      continue;
    }
    if (!NAME_START.test(text[i + 1] ?? '')) {
      // A bare '<' in text: not well-formed, but keep it as text rather than give up.
      if (i + 1 >= n) {
        doc.truncated = `ended inside a tag in ${where()}`;
        break;
      }
      problem(`stray '<' in ${where()}`);
      const top = stack[stack.length - 1];
      if (top) top.text += '<';
      i += 1;
      continue;
    }
    const tag = readStartTag(text, i + 1);
    if (!tag) {
      doc.truncated = `ended inside a start tag in ${where()}`;
      break;
    }
    const el: XmlElement = { name: tag.name, attrs: tag.attrs, children: [], text: '', closed: tag.selfClosing };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (!doc.root) doc.root = el;
    else problem(`second root element <${el.name}> ignored`);
    if (!tag.selfClosing && (parent || doc.root === el)) stack.push(el);
    i = tag.end;
  }

  if (!doc.truncated && stack.length > 0) doc.truncated = `ended inside ${where()}`;
  if (!doc.root && !doc.truncated && text.trim() !== '') problem('no root element');
  return doc;
}

function closeElement(stack: XmlElement[], name: string, problem: (m: string) => void): void {
  for (let k = stack.length - 1; k >= 0; k--) {
    if (stack[k]!.name === name) {
      for (let j = stack.length - 1; j > k; j--) {
        problem(`<${stack[j]!.name}> closed implicitly by </${name}>`);
        stack[j]!.closed = true;
      }
      stack[k]!.closed = true;
      stack.length = k;
      return;
    }
  }
  problem(`stray </${name}> ignored`);
}

/** End of `<!...>`, skipping quoted strings and a DOCTYPE internal subset `[...]`. */
function declarationEnd(text: string, from: number): number {
  let depth = 0;
  let quote = '';
  for (let k = from; k < text.length; k++) {
    const c = text[k]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === '>' && depth === 0) return k;
  }
  return -1;
}

interface StartTag {
  name: string;
  attrs: Record<string, string>;
  selfClosing: boolean;
  end: number;
}

function readStartTag(text: string, from: number): StartTag | null {
  let quote = '';
  let k = from;
  for (; k < text.length; k++) {
    const c = text[k]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') break;
  }
  if (k >= text.length) return null;
  let body = text.slice(from, k);
  const selfClosing = body.endsWith('/');
  if (selfClosing) body = body.slice(0, -1);
  const nameMatch = /^[^\s/>]+/.exec(body);
  const name = nameMatch ? nameMatch[0] : body;
  const attrs: Record<string, string> = {};
  const attrRe = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))/g;
  for (const m of body.slice(name.length).matchAll(attrRe)) {
    attrs[m[1]!] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return { name, attrs, selfClosing, end: k + 1 };
}

export function childElement(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function childElements(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** The element at a child path, e.g. at(gpu, 'fb_memory_usage', 'total'). */
export function at(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const name of names) cur = childElement(cur, name);
  return cur;
}

/**
 * Text at a child path; undefined when the element is missing (distinct from
 * empty text) or was cut off by truncation, since "36" may have been "365".
 */
export function textAt(el: XmlElement | undefined, ...names: string[]): string | undefined {
  const found = at(el, ...names);
  return found?.closed ? found.text : undefined;
}
