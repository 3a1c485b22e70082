/**
 * POSIX shell quoting for commands sent over SSH. The remote side hands the
 * command string to the user's login shell, so every argument is wrapped in
 * single quotes (inside which nothing is special) and each embedded quote
 * becomes '\'' . This assumes a POSIX-family login shell (sh, bash, dash,
 * zsh, ksh); csh and fish treat some characters inside quotes differently.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';

/** Words made only of these need no quotes; `=` and `~` are left out because a shell gives them meaning in some positions. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

export function shellQuote(arg: string): string {
  // A NUL cannot be carried in an SSH exec string at all; refuse rather than truncate.
  if (arg.includes('\0')) throw new TesseraError('INVALID_REQUEST', 'a command argument contains a NUL byte');
  if (PLAIN_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** One simple command: every word quoted, nothing left for the shell to interpret. */
export function shellJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new TesseraError('INVALID_REQUEST', 'empty command');
  return argv.map(shellQuote).join(' ');
}

/** Simple commands joined by pipes the caller chose; the words are still quoted. */
export function shellPipeline(commands: readonly (readonly string[])[]): string {
  if (commands.length === 0) throw new TesseraError('INVALID_REQUEST', 'empty pipeline');
  return commands.map(shellJoin).join(' | ');
}
