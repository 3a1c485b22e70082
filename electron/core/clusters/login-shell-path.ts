import { execFile } from 'node:child_process';
import path from 'node:path';

let cached: Promise<string> | undefined;

/**
 * A desktop-launched app inherits a minimal PATH, so exec plugins installed in
 * ~/bin, /usr/local/bin or by a version manager are not found (a classic Lens
 * complaint). Ask the user's login shell once for its PATH and merge it in.
 */
export function loginShellPath(env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): Promise<string> {
  if (cached) return cached;
  cached = new Promise((resolve) => {
    const current = env.PATH ?? '';
    const shell = env.SHELL;
    if (process.platform === 'win32' || !shell) return resolve(current);
    execFile(shell, ['-ilc', 'printf "__TESSERA_PATH__%s" "$PATH"'], { timeout: timeoutMs, env }, (err, stdout) => {
      const m = /__TESSERA_PATH__(.*)$/s.exec(stdout ?? '');
      if (err || !m || !m[1]) return resolve(current);
      resolve(mergePaths(current, m[1].trim()));
    });
  });
  return cached;
}

export function mergePaths(...lists: string[]): string {
  const seen = new Set<string>();
  for (const list of lists) for (const p of list.split(path.delimiter)) if (p) seen.add(p);
  return [...seen].join(path.delimiter);
}
