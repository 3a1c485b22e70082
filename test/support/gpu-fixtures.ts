import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Real captures from public projects; absent in a user's clone, so tests skip without them. */
export const realDir = path.resolve(repoRoot, '../shared/fixtures/gpu');
export const ownDir = path.join(repoRoot, 'test/fixtures/gpu');

export const own = (name: string): string => fs.readFileSync(path.join(ownDir, name), 'utf8');

export function real(t: TestContext, name: string): string | null {
  const file = path.join(realDir, name);
  if (!fs.existsSync(file)) {
    t.skip(`shared fixture ${name} not present`);
    return null;
  }
  return fs.readFileSync(file, 'utf8');
}
