/**
 * A minimal POSIX ustar writer: regular files only, which is all a support
 * bundle holds, then gzip. Any tar (GNU, bsdtar, busybox) reads it.
 */
import { gzipSync } from 'node:zlib';

export interface TarFile {
  /** Relative path, ASCII, at most 100 bytes (or 255 split at a "/"). */
  name: string;
  data: Buffer | string;
  mode?: number;
  mtime?: Date;
}

const BLOCK = 512;

export function tar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
    parts.push(header(f, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  // Two zero blocks end the archive.
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

export function tarGz(files: readonly TarFile[]): Buffer {
  return gzipSync(tar(files));
}

function header(f: TarFile, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(f.name);
  h.write(name, 0, 100, 'ascii');
  octal(h, 100, 8, f.mode ?? 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor((f.mtime ?? new Date()).getTime() / 1000));
  h.fill(' ', 148, 156);
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width - 1} octal digits`);
  buf.write(`${text}\0`, offset, width, 'ascii');
}

function splitName(name: string): [string, string] {
  if (!/^[\x20-\x7e]+$/.test(name) || name.startsWith('/') || name.split('/').includes('..')) throw new Error(`tar: unsafe or non-ASCII name "${name}"`);
  if (name.length <= 100) return ['', name];
  const cut = name.lastIndexOf('/', 155);
  if (cut <= 0 || name.length - cut - 1 > 100) throw new Error(`tar: name too long: ${name}`);
  return [name.slice(0, cut), name.slice(cut + 1)];
}
