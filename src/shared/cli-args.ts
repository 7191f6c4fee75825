/** Command-line values, checked: a bad one is a UsageError whose message names the flag (tangshi prints it and exits 2). */
import type { z } from 'zod';

export class UsageError extends Error {}

/** A command's options by flag name, as typed (a boolean flag: 'true' when given). */
export type Flags = Record<string, string | undefined>;

export function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got "${v}")`);
  return n;
}

/** A count: a whole number ≥ 1 (workers, steps, poems). */
export function count(v: string | undefined, name: string): number | undefined {
  const n = num(v, name);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new UsageError(`--${name} must be a whole number ≥ 1 (got "${v}")`);
  return n;
}

export function parse<T>(schema: z.ZodType<T>, v: string | undefined, name: string): T | undefined {
  if (v === undefined) return undefined;
  const r = schema.safeParse(v);
  if (!r.success) throw new UsageError(`--${name} ${r.error.issues[0]!.message} (got "${v}")`);
  return r.data;
}

/** seconds as "1h05m", "12m30s" or "40s" (cli-progress's own rounds the minutes alone and can print 1h60m) */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) {
    const minutes = Math.round(s / 60);
    return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
