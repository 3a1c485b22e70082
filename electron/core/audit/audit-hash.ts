import { createHash } from 'node:crypto';
import type { AuditEntry, JsonValue } from '../../../shared/model/audit.ts';

/**
 * JSON with object keys sorted at every level, so the hash depends on content and not on
 * the order a writer happened to build the object in. Values must already be JSON-safe.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${parts.join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** hash = sha256(prevHash + canonical(entry without hash)); extra fields a later version adds are covered too. */
export function entryHash(entry: Omit<AuditEntry, 'hash'> | Record<string, JsonValue | undefined>): string {
  const { hash: _ignored, ...rest } = entry as Record<string, unknown>;
  return sha256Hex(String(rest.prevHash) + canonicalJson(rest));
}
