/**
 * The lines of the training split, for the rule that a poem never copies one verbatim (Jiuge drops such
 * lines). Kept as sorted pairs (hash of a line's first n − 1 characters, its last character), so that the
 * characters that would complete a known line are one binary search away; built once per machine and read
 * back as one typed array (a Map of strings was slow to load).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { loadTangCorpus } from './corpus.js';
import { cachedNumbers } from './machine-cache.js';

/** FNV-1a over the UTF-16 code units: a 32-bit hash, collisions among 225k prefixes are rare and only ban a character more. */
function hashPrefix(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class CorpusLines {
  private constructor(private readonly pairs: Uint32Array) {}

  /** From lines (tests), or the training split of the corpus (cached per machine). */
  static load(lines?: string[]): CorpusLines {
    if (lines) return new CorpusLines(CorpusLines.build(lines));
    const packageFile = createRequire(import.meta.url).resolve('chinese-poetry/package.json');
    const version = (JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string }).version;
    return new CorpusLines(
      cachedNumbers(`corpus-lines-chinese-poetry-${version}-v1.bin`, () => CorpusLines.build(loadTangCorpus().train.flatMap((p) => p.lines))),
    );
  }

  private static build(lines: string[]): Uint32Array {
    const entries = lines.map((line) => {
      const chars = [...line];
      return [hashPrefix(chars.slice(0, -1).join('')), chars.at(-1)!.codePointAt(0)!] as const;
    });
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return Uint32Array.from(entries.flat());
  }

  /** The characters that complete `prefix` into a line of the corpus. */
  completions(prefix: string): string[] {
    const h = hashPrefix(prefix);
    const n = this.pairs.length / 2;
    let lo = 0,
      hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pairs[2 * mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let k = lo; k < n && this.pairs[2 * k] === h; k++) out.push(String.fromCodePoint(this.pairs[2 * k + 1]!));
    return out;
  }
}
