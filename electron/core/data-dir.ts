import os from 'node:os';
import path from 'node:path';

/** Where Tessera keeps its own files outside Electron: $TESSERA_DATA_DIR, else the XDG config folder. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESSERA_DATA_DIR ?? path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'tessera');
}
