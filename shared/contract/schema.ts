/**
 * A small runtime schema language for contract requests. shared/ may import
 * nothing but itself, so no validation library: these few combinators are
 * enough for requests, and their types are inferred so the contract has a
 * single source of truth.
 */
export interface Issue {
  path: string;
  message: string;
}

export interface Schema<T> {
  readonly describe: string;
  check(value: unknown, path: string, issues: Issue[]): void;
  /** Phantom field carrying the static type; never set. */
  readonly _type?: T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function make<T>(describe: string, check: Schema<T>['check']): Schema<T> {
  return { describe, check };
}

interface StringRules {
  min?: number;
  max?: number;
  pattern?: RegExp;
  patternHint?: string;
}

export const s = {
  string(rules: StringRules = {}): Schema<string> {
    const max = rules.max ?? 4096;
    return make('string', (v, path, issues) => {
      if (typeof v !== 'string') return void issues.push({ path, message: `expected a string, got ${kind(v)}` });
      if (rules.min !== undefined && v.length < rules.min)
        issues.push({ path, message: `must be at least ${rules.min} characters` });
      if (v.length > max) issues.push({ path, message: `must be at most ${max} characters` });
      if (rules.pattern && !rules.pattern.test(v))
        issues.push({ path, message: rules.patternHint ?? `does not match ${rules.pattern}` });
    });
  },
  number(rules: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
    return make('number', (v, path, issues) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        return void issues.push({ path, message: `expected a finite number, got ${kind(v)}` });
      if (rules.integer && !Number.isInteger(v)) issues.push({ path, message: 'must be an integer' });
      if (rules.min !== undefined && v < rules.min) issues.push({ path, message: `must be ≥ ${rules.min}` });
      if (rules.max !== undefined && v > rules.max) issues.push({ path, message: `must be ≤ ${rules.max}` });
    });
  },
  boolean(): Schema<boolean> {
    return make('boolean', (v, path, issues) => {
      if (typeof v !== 'boolean') issues.push({ path, message: `expected a boolean, got ${kind(v)}` });
    });
  },
  literal<const L extends string>(...values: L[]): Schema<L> {
    return make(values.join('|'), (v, path, issues) => {
      if (!values.includes(v as L)) issues.push({ path, message: `must be one of ${values.join(', ')}` });
    });
  },
  array<T>(item: Schema<T>, rules: { min?: number; max?: number } = {}): Schema<T[]> {
    const max = rules.max ?? 10_000;
    return make(`${item.describe}[]`, (v, path, issues) => {
      if (!Array.isArray(v)) return void issues.push({ path, message: `expected an array, got ${kind(v)}` });
      if (rules.min !== undefined && v.length < rules.min) return void issues.push({ path, message: `must have at least ${rules.min} item${rules.min === 1 ? '' : 's'}` });
      if (v.length > max) return void issues.push({ path, message: `must have at most ${max} items` });
      v.forEach((el, i) => item.check(el, `${path}[${i}]`, issues));
    });
  },
  optional<T>(inner: Schema<T>): Schema<T | undefined> {
    return make(`${inner.describe}?`, (v, path, issues) => {
      if (v !== undefined) inner.check(v, path, issues);
    });
  },
  object<const F extends Record<string, Schema<unknown>>>(fields: F): Schema<ObjectOf<F>> {
    return make('object', (v, path, issues) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return void issues.push({ path: path || '(request)', message: `expected an object, got ${kind(v)}` });
      const rec = v as Record<string, unknown>;
      for (const key of Object.keys(rec)) {
        // hasOwn, not `in`: "__proto__", "constructor" and "toString" are not fields.
        if (!Object.hasOwn(fields, key)) issues.push({ path: join(path, key), message: 'is not a known field' });
      }
      for (const [key, schema] of Object.entries(fields)) schema.check(rec[key], join(path, key), issues);
    });
  },
};

type OptionalKeys<F> = { [K in keyof F]: undefined extends Infer<F[K]> ? K : never }[keyof F];
type RequiredKeys<F> = Exclude<keyof F, OptionalKeys<F>>;
export type ObjectOf<F> = { [K in RequiredKeys<F>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Infer<F[K]> };

export function validate<T>(schema: Schema<T>, value: unknown): { ok: true; value: T } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  schema.check(value, '', issues);
  return issues.length ? { ok: false, issues } : { ok: true, value: value as T };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
