import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { shellJoin, shellPipeline, shellQuote } from '../../electron/core/ssh/shell-quote.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

const HOSTILE = [
  "it's",
  "'",
  "''",
  "a'b'c",
  '"double"',
  '$(touch /tmp/tessera-pwned)',
  '`touch /tmp/tessera-pwned`',
  '${HOME}',
  '$HOME',
  'a;b',
  'a|b',
  'a&b',
  'a && b || c',
  'line1\nline2',
  '\n',
  'tab\there',
  '*',
  '?',
  '~',
  '~root',
  'x=y',
  '-rf',
  '--',
  '#comment',
  '!',
  '\\',
  'back\\slash\\',
  '{a,b}',
  '[abc]',
  '<in',
  '>out',
  '2>&1',
  ' leading and trailing ',
  '',
  'ünïcödé ✓',
  "'; touch /tmp/tessera-pwned; echo '",
];

/** Runs the quoted words through a real shell and returns the argv it saw. */
function throughShell(shell: string, words: string[]): string[] {
  const script = `for a in ${shellJoin(words)}; do printf '%s\\0' "$a"; done`;
  const out = execFileSync(shell, ['-c', script], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const shells = ['/bin/sh', '/bin/bash', '/bin/dash', '/usr/bin/zsh'].filter((s) => fs.existsSync(s));

test('quoting hands every hostile string to the shell unchanged, as one word', () => {
  assert.ok(shells.length > 0, 'no POSIX shell found');
  for (const shell of shells) {
    assert.deepEqual(throughShell(shell, HOSTILE), HOSTILE, shell);
  }
  assert.equal(fs.existsSync('/tmp/tessera-pwned'), false);
});

test('plain words stay readable; anything else is single-quoted', () => {
  assert.equal(shellQuote('nvidia-smi'), 'nvidia-smi');
  assert.equal(shellQuote('/dev/nvidia0'), '/dev/nvidia0');
  assert.equal(shellQuote('--format=csv'), "'--format=csv'");
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote('a b'), "'a b'");
  assert.equal(shellQuote('~'), "'~'");
});

test('a NUL byte is refused, not truncated', () => {
  assert.throws(() => shellQuote('a\0b'), (e: TesseraError) => e.code === 'INVALID_REQUEST' && /NUL/.test(e.message));
});

test('joins commands and pipelines with only the separators the caller chose', () => {
  assert.equal(shellJoin(['stat', '--', 'a;b']), "stat -- 'a;b'");
  assert.equal(shellPipeline([['dmesg'], ['grep', '-E', 'NVRM|Xid']]), "dmesg | grep -E 'NVRM|Xid'");
  assert.throws(() => shellJoin([]), /empty command/);
  const out = execFileSync('/bin/sh', ['-c', shellPipeline([['printf', '%s\\n', 'a|b', 'c;d'], ['grep', '-F', 'c;d']])], { encoding: 'utf8' });
  assert.equal(out, 'c;d\n');
});
