/**
 * Small derived tables kept once per machine (TANGSHI_CACHE_DIR, default ~/.cache/tangshi-bot; the native
 * TensorFlow setup unpacks libtensorflow there too): computed on first use, read back afterwards.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  return process.env.TANGSHI_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tangshi-bot');
}

/** A string-keyed table from `name` in the cache, or `compute()`d and written there (atomically; a read-only home only costs the computing). */
export function cachedTable<V>(name: string, compute: () => Map<string, V>): Map<string, V> {
  const file = join(cacheDir(), name);
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, V>));
  } catch {
    // not cached yet, or unreadable
  }
  const table = compute();
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(Object.fromEntries(table)));
    renameSync(`${file}.${process.pid}`, file);
  } catch {
    // computed again next time
  }
  return table;
}

/** A table of 32-bit numbers from `name` in the cache, or `compute()`d and written there, as cachedTable does. */
export function cachedNumbers(name: string, compute: () => Uint32Array): Uint32Array {
  const file = join(cacheDir(), name);
  try {
    const bytes = readFileSync(file);
    if (bytes.byteLength % 4 === 0) return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)); // (a copy: aligned)
  } catch {
    // not cached yet, or unreadable
  }
  const numbers = compute();
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, numbers);
    renameSync(`${file}.${process.pid}`, file);
  } catch {
    // computed again next time
  }
  return numbers;
}
