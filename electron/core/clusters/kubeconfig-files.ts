import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { mergeKubeconfigs, parseKubeconfig, type ParsedKubeconfig } from './kubeconfig-parse.ts';

export async function readKubeconfigFile(file: string): Promise<ParsedKubeconfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TesseraError('KUBECONFIG_NOT_FOUND', `kubeconfig file not found: ${file}`, { file });
    if (code === 'EACCES') throw new TesseraError('KUBECONFIG_NOT_FOUND', `kubeconfig file is not readable (permission denied): ${file}`, { file });
    if (code === 'EISDIR') throw new TesseraError('KUBECONFIG_INVALID', `${file} is a folder, not a kubeconfig file`, { file });
    throw err;
  }
  return parseKubeconfig(text, file);
}

/**
 * Reads several files and merges them as kubectl does with KUBECONFIG.
 * kubectl skips missing files in KUBECONFIG but fails on broken ones; so do we.
 */
export async function readMergedKubeconfig(files: string[], opts: { skipMissing: boolean }): Promise<ParsedKubeconfig> {
  const parsed: ParsedKubeconfig[] = [];
  for (const file of files) {
    try {
      parsed.push(await readKubeconfigFile(file));
    } catch (err) {
      if (opts.skipMissing && err instanceof TesseraError && err.code === 'KUBECONFIG_NOT_FOUND') continue;
      throw err;
    }
  }
  if (parsed.length === 0 && files.length > 0 && !opts.skipMissing) {
    throw new TesseraError('KUBECONFIG_NOT_FOUND', `no kubeconfig file found among: ${files.join(', ')}`);
  }
  return mergeKubeconfigs(parsed);
}

/** The files kubectl would read: $KUBECONFIG (path-list) or ~/.kube/config. */
export function defaultKubeconfigFiles(env: NodeJS.ProcessEnv = process.env): { kind: 'environment' | 'default'; files: string[] } {
  const list = (env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
  if (list.length) return { kind: 'environment', files: list };
  return { kind: 'default', files: [path.join(env.HOME ?? os.homedir(), '.kube', 'config')] };
}
