/**
 * nvidia-smi prints numbers with their unit inside the text ("66.92 W",
 * "40960 MiB"), brackets unsupported values in CSV ("[N/A]"), and uses a
 * handful of sentences for "no value". These helpers turn such text into a
 * number in the unit the report wants, or null, and say when text was
 * neither a value nor a known "no value" marker so callers can warn.
 */

const NO_VALUE = new Set([
  '',
  'n/a',
  'na',
  'none',
  'not supported',
  'not available',
  'unknown',
  'unknown error',
  'insufficient permissions',
  'requested functionality has been deprecated',
  'gpu is lost',
  'gpu requires reset',
  'no data',
  '-',
]);

/** Trims, collapses inner whitespace (the XML wraps some values over lines) and unbrackets "[N/A]". */
export function normalizeText(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  const t = raw.replace(/\s+/g, ' ').trim();
  return t;
}

export function isNoValue(raw: string | null | undefined): boolean {
  const t = normalizeText(raw);
  if (t === null) return true;
  const unbracketed = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1).trim() : t;
  return NO_VALUE.has(unbracketed.toLowerCase());
}

/** A string field: null for absent or any "no value" marker. */
export function textValue(raw: string | null | undefined): string | null {
  if (isNoValue(raw)) return null;
  return normalizeText(raw);
}

export type UnitKind = 'MiB' | 'GiB' | 'W' | 'C' | '%' | 'count';

const SCALE: Record<UnitKind, Record<string, number>> = {
  // nvidia-smi has always meant MiB, even where old drivers printed "MB".
  MiB: { '': 1, mib: 1, mb: 1, gib: 1024, gb: 1024, kib: 1 / 1024, kb: 1 / 1024, b: 1 / (1024 * 1024) },
  GiB: { '': 1, gib: 1, gb: 1, mib: 1 / 1024, mb: 1 / 1024 },
  W: { '': 1, w: 1, mw: 1 / 1000, kw: 1000 },
  C: { '': 1, c: 1 },
  '%': { '': 1, '%': 1 },
  count: { '': 1 },
};

export type Reading =
  | { kind: 'value'; value: number }
  | { kind: 'none' }
  | { kind: 'invalid'; raw: string };

const NUMBER_WITH_UNIT = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%]*)$/;

/**
 * Reads "250.00 W" / "250.00" / "[N/A]" as the given unit kind. A unit in the
 * text wins over `defaultUnit` (the unit from a CSV header like "memory.total [MiB]").
 */
export function readNumber(raw: string | null | undefined, kind: UnitKind, defaultUnit = ''): Reading {
  if (isNoValue(raw)) return { kind: 'none' };
  const t = normalizeText(raw)!;
  const m = NUMBER_WITH_UNIT.exec(t);
  if (!m) return { kind: 'invalid', raw: t };
  const unit = (m[2] || defaultUnit).toLowerCase();
  const scale = SCALE[kind][unit];
  const n = Number(m[1]);
  if (scale === undefined || !Number.isFinite(n)) return { kind: 'invalid', raw: t };
  return { kind: 'value', value: round(n * scale) };
}

/** Keeps unit conversions (KiB -> MiB) from printing 0.30000000000000004. */
function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** readNumber that pushes a warning for unreadable text and returns null for it. */
export function numberOrWarn(
  raw: string | null | undefined,
  kind: UnitKind,
  where: string,
  warnings: string[],
  defaultUnit = '',
): number | null {
  const r = readNumber(raw, kind, defaultUnit);
  if (r.kind === 'value') return r.value;
  if (r.kind === 'invalid') warnings.push(`${where}: cannot read ${JSON.stringify(truncate(r.raw))} as ${kind}`);
  return null;
}

/** Integer ids and counts; anything else is null. */
export function intValue(raw: string | null | undefined): number | null {
  const t = normalizeText(raw);
  if (t === null || !/^[-+]?\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** 'Enabled' / 'Disabled' spelled the way nvidia-smi spells them; other text kept, N/A -> null. */
export function modeValue(raw: string | null | undefined): string | null {
  const t = textValue(raw);
  if (t === null) return null;
  if (/^enabled?$/i.test(t)) return 'Enabled';
  if (/^disabled?$/i.test(t)) return 'Disabled';
  return t;
}

/** MIG profile names lose nvidia-smi's "MIG " prefix so they match mig-parted and GFD labels. */
export function profileName(raw: string | null | undefined): string | null {
  const t = textValue(raw);
  if (t === null) return null;
  return t.replace(/^MIG\s+/i, '');
}

export function truncate(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The first meaningful line, for "starts with ..." error messages. */
export function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return truncate(line.trim(), 60);
}
