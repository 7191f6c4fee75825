import { describe, expect, it } from 'vitest';
import { CorpusLines } from '../src/model/verse/corpus-lines.js';
import { loadTangCorpus } from '../src/model/verse/corpus.js';

describe('CorpusLines', () => {
  it('names the characters that complete a prefix into a known line, and none for an unknown prefix', () => {
    const lines = CorpusLines.load(['白日依山盡', '白日依山樹', '黃河入海流', '床前明月光', '月落烏啼霜滿天']);
    expect(lines.completions('白日依山').sort()).toEqual(['樹', '盡']);
    expect(lines.completions('月落烏啼霜滿')).toEqual(['天']);
    expect(lines.completions('黃河入海')).toEqual(['流']);
    expect(lines.completions('床前明')).toEqual([]); // a prefix of another length is not a line's prefix
    expect(lines.completions('欲窮千里')).toEqual([]);
  });

  it('holds the training split: every one of its lines is found, a dev-only line is not invented', () => {
    const corpus = loadTangCorpus();
    const table = CorpusLines.load(); // the per-machine cache (built on first use)
    for (const poem of corpus.train.slice(0, 300)) {
      for (const line of poem.lines) {
        const chars = [...line];
        expect(table.completions(chars.slice(0, -1).join(''))).toContain(chars.at(-1));
      }
    }
    const train = new Set(corpus.train.flatMap((p) => p.lines));
    const devOnly = corpus.dev
      .flatMap((p) => p.lines)
      .filter((l) => !train.has(l))
      .slice(0, 200);
    const found = devOnly.filter((line) => table.completions([...line].slice(0, -1).join('')).includes([...line].at(-1)!));
    expect(found.length).toBeLessThanOrEqual(1); // only a 32-bit hash collision could find one
  });
});
