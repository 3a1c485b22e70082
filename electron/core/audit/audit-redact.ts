import type { AuditDroppedValue, JsonValue } from '../../../shared/model/audit.ts';
import { canonicalJson, sha256Hex } from './audit-hash.ts';

export const REDACTED = '[redacted]';

/**
 * The pattern, widened to the spellings Kubernetes and HTTP use for the same things
 * (client-key-data, private_key, Authorization, credentials).
 */
export const SECRET_KEY = /password|passwd|token|secret|passphrase|credential|authorization|cookie|key[-_]?(data)?$/i;

const MAX_DEPTH = 64;

/**
 * Makes any value JSON-safe exactly as JSON.stringify would see it, so what is hashed at write time
 * is byte-for-byte what a verifier re-reads, and blanks values under secret-looking keys.
 * A Kubernetes Secret's data is blanked whole, whatever its keys are called.
 */
export function toAuditJson(value: unknown): JsonValue {
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): JsonValue | undefined => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
    if (v === null) return null;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'bigint':
        return v.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    const obj = v as object;
    if (seen.has(obj)) return '[circular]';
    if (depth >= MAX_DEPTH) return '[too deep]';
    seen.add(obj);
    try {
      if (Array.isArray(obj)) return obj.map((item) => walk(item, depth + 1) ?? null);
      const out: { [key: string]: JsonValue } = {};
      const isSecretObject = (obj as { kind?: unknown }).kind === 'Secret';
      for (const [key, item] of Object.entries(obj)) {
        if (SECRET_KEY.test(key) || (isSecretObject && (key === 'data' || key === 'stringData'))) {
          if (item !== undefined) out[key] = REDACTED;
          continue;
        }
        const j = walk(item, depth + 1);
        if (j !== undefined) out[key] = j;
      }
      return out;
    } finally {
      seen.delete(obj);
    }
  };
  return walk(value, 0) ?? null;
}

/** Keeps a value when its canonical JSON fits in `limit` bytes, else a marker with its size and digest. */
export function capValue(value: JsonValue, limit: number): JsonValue | AuditDroppedValue {
  const text = canonicalJson(value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= limit) return value;
  return { $audit: 'dropped', reason: `larger than ${limit} bytes`, bytes, sha256: sha256Hex(text) };
}
