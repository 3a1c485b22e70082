/**
 * One output stream of a remote command: decoded as UTF-8 across chunk
 * boundaries, capped, and with Tessera's own control text taken out: the
 * process-group line the command prints first, and sudo's one-off prompt.
 */
import { StringDecoder } from 'node:string_decoder';

export interface OutputCaptureOptions {
  maxBytes: number;
  sink?: ((chunk: string) => void) | undefined;
  /** sudo's prompt text: removed, and reported through onPrompt. */
  prompt?: string | null;
  /** Prefix of a first line "<tag><digits>\n": removed, the digits kept as pgid. */
  pidTag?: string;
}

export class OutputCapture {
  text = '';
  truncated = false;
  pgid: number | null = null;
  onPrompt: (() => void) | null = null;
  private bytes = 0;
  private readonly decoder = new StringDecoder('utf8');
  /** Text held back because it may be the start of a tag or prompt split across chunks. */
  private pending = '';
  private lookingForPid: boolean;

  constructor(private readonly opts: OutputCaptureOptions) {
    this.lookingForPid = opts.pidTag !== undefined;
  }

  push(data: Buffer): void {
    this.feed(this.decoder.write(data), false);
  }

  end(): void {
    this.feed(this.decoder.end(), true);
  }

  private feed(chunk: string, final: boolean): void {
    let s = this.pending + chunk;
    this.pending = '';
    if (this.lookingForPid) {
      const tag = this.opts.pidTag!;
      const nl = s.indexOf('\n');
      if (nl === -1 && !final && s.length < tag.length + 24) {
        this.pending = s;
        return;
      }
      this.lookingForPid = false;
      const m = new RegExp(`^${escapeRegExp(tag)}(\\d+)\\n`).exec(s);
      if (m) {
        this.pgid = Number(m[1]);
        s = s.slice(m[0].length);
      }
    }
    const prompt = this.opts.prompt;
    if (prompt) {
      let at: number;
      while ((at = s.indexOf(prompt)) !== -1) {
        this.emit(s.slice(0, at));
        s = s.slice(at + prompt.length);
        this.onPrompt?.();
      }
      if (!final) {
        const keep = partialPrefix(s, prompt);
        this.pending = s.slice(s.length - keep);
        s = s.slice(0, s.length - keep);
      }
    }
    this.emit(s);
  }

  private emit(s: string): void {
    if (s === '' || this.truncated) return;
    const size = Buffer.byteLength(s);
    if (this.bytes + size > this.opts.maxBytes) {
      this.truncated = true;
      return;
    }
    this.bytes += size;
    this.text += s;
    this.opts.sink?.(s);
  }
}

/** Length of the longest suffix of s that is a proper prefix of prompt. */
function partialPrefix(s: string, prompt: string): number {
  for (let n = Math.min(s.length, prompt.length - 1); n > 0; n--) {
    if (prompt.startsWith(s.slice(s.length - n))) return n;
  }
  return 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
