const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class ListBodyError extends Error {}

/**
 * Reads a Kubernetes list body (`{"kind":..,"metadata":{..},"items":[{..},..]}`)
 * as its chunks arrive and hands over each item as soon as its bytes are
 * complete, parsed on its own.
 *
 * Why not `JSON.parse(await body.text())`: a page of 500 pods or nodes is a
 * 2–5 MB string, which V8 puts in large-object space where only a full GC frees
 * it, and its parsed tree stays alive while the page is projected, so
 * scavenges copy and promote all of it. Over the 36 pages of a 2,000-node
 * inventory that garbage, not what is kept, set the main process's peak
 * memory. Item by item, each string and tree dies young, and parsing overlaps
 * the download.
 *
 * The scanner tracks only nesting, strings and escapes; each item and each
 * other top-level member is still parsed by JSON.parse, so what it returns is
 * exactly what JSON.parse would.
 */
export class ListBodyParser {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The top-level member being read, once its key is known. */
  private key: string | undefined;
  /** After a top-level ':' until the value's first byte. */
  private valueNext = false;
  private inItems = false;
  private capturing: 'key' | 'value' | 'item' | null = null;
  /** Where the capture began in the current chunk; earlier chunks' bytes are in `parts`. */
  private start = 0;
  private parts: Buffer[] = [];
  private done = false;
  private readonly members: Record<string, unknown> = {};
  items = 0;

  constructor(private readonly onItem: (item: unknown) => void) {}

  write(chunk: Buffer): void {
    const n = chunk.length;
    if (this.capturing) this.start = 0;
    let i = 0;
    if (this.inString) {
      i = this.skipString(chunk, 0);
      if (!this.inString && this.capturing === 'key') this.key = JSON.parse(this.take(chunk, i)) as string;
    }
    // Hot loop: outside strings, one byte at a time; strings are skipped with indexOf (memchr).
    let depth = this.depth;
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (c === QUOTE) {
        if (this.valueNext) this.valueStarts(c, i);
        if (depth === 1 && this.key === undefined && !this.capturing) this.begin('key', i);
        const end = this.skipString(chunk, i + 1);
        if (this.inString) break;
        i = end - 1;
        if (this.capturing === 'key') this.key = JSON.parse(this.take(chunk, end)) as string;
        continue;
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (this.valueNext) this.valueStarts(c, i);
        if (this.done) throw new ListBodyError('unexpected data after the end of the list');
        if (depth === 0 && c !== OPEN_OBJECT) throw new ListBodyError('the answer is not a JSON object');
        if (depth === 2 && this.inItems && c === OPEN_OBJECT) this.begin('item', i);
        depth++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        depth--;
        if (depth > 2) continue;
        if (depth < 0) throw new ListBodyError('unbalanced brackets');
        if (depth === 2 && this.capturing === 'item') {
          this.onItem(JSON.parse(this.take(chunk, i + 1)));
          this.items++;
        } else if (depth === 1 && this.inItems) {
          this.inItems = false;
        } else if (depth === 0) {
          if (this.capturing === 'value') this.finishValue(chunk, i);
          this.done = true;
        }
      } else if (depth > 1) {
        continue;
      } else if (c === COLON) {
        if (depth === 1 && !this.capturing) {
          if (this.key === undefined) throw new ListBodyError('a top-level value without a key');
          this.valueNext = true;
        }
      } else if (c === COMMA) {
        if (depth === 1) {
          if (this.capturing === 'value') this.finishValue(chunk, i);
          this.key = undefined;
        }
      } else if (!isSpace(c)) {
        if (depth === 0) throw new ListBodyError('the answer is not a JSON object');
        if (this.valueNext) this.valueStarts(c, i);
      }
    }
    this.depth = depth;
    // Bytes of an unfinished capture are copied: the chunk itself is not ours to keep.
    if (this.capturing) this.parts.push(Buffer.from(chunk.subarray(this.start)));
  }

  /** A top-level value begins at byte `c`: the items array is streamed, anything else captured whole. */
  private valueStarts(c: number, at: number): void {
    this.valueNext = false;
    if (this.key === 'items' && c === OPEN_ARRAY) this.inItems = true;
    else this.begin('value', at);
  }

  /**
   * From inside a string at `from`: the index just past its closing quote, or
   * the chunk's length if the string goes on in the next chunk (inString and
   * a pending escape are remembered).
   */
  private skipString(chunk: Buffer, from: number): number {
    let i = from;
    if (this.escaped) {
      this.escaped = false;
      i++;
    }
    const n = chunk.length;
    // Most strings in a list are short keys and values: a plain loop beats a native call for those.
    for (const short = Math.min(n, i + 24); i < short; i++) {
      const c = chunk[i]!;
      if (c === QUOTE) {
        this.inString = false;
        return i + 1;
      }
      if (c === BACKSLASH) i++;
    }
    for (;;) {
      if (i >= n) {
        // The string goes on in the next chunk; an escape may have been cut in two.
        this.escaped = i > n;
        this.inString = true;
        return n;
      }
      const q = chunk.indexOf(QUOTE, i);
      if (q < 0) {
        let k = n - 1;
        while (k >= i && chunk[k] === BACKSLASH) k--;
        this.escaped = (n - 1 - k) % 2 === 1;
        this.inString = true;
        return n;
      }
      let k = q - 1;
      while (k >= i && chunk[k] === BACKSLASH) k--;
      // An odd run of backslashes escapes the quote (`i` is never an escaped position).
      if ((q - 1 - k) % 2 === 0) {
        this.inString = false;
        return q + 1;
      }
      i = q + 1;
    }
  }

  /** The top-level members other than `items` (kind, apiVersion, metadata), once the body is complete. */
  end(): Record<string, unknown> {
    if (!this.done || this.inString) throw new ListBodyError('the list answer ended early (truncated)');
    return this.members;
  }

  private begin(what: 'key' | 'value' | 'item', at: number): void {
    this.capturing = what;
    this.start = at;
    this.parts.length = 0;
  }

  /** The captured text up to `end` (exclusive) in this chunk; ends the capture. */
  private take(chunk: Buffer, end: number): string {
    const last = chunk.subarray(this.start, end);
    const text = this.parts.length ? Buffer.concat([...this.parts, last]).toString('utf8') : last.toString('utf8');
    this.parts.length = 0;
    this.capturing = null;
    return text;
  }

  private finishValue(chunk: Buffer, end: number): void {
    this.members[this.key!] = JSON.parse(this.take(chunk, end));
  }
}
