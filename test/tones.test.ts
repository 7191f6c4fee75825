/** The tone table from the package's own 平/仄 labels of the Tang poems. */
import { describe, expect, it } from 'vitest';
import { toneCounts, toneOf } from '../src/model/verse/tones.js';

describe('tones from the corpus', () => {
  it('reads entering-tone characters as oblique, as Middle Chinese did', () => {
    for (const ch of '月白石國') expect(toneOf(ch), ch).toBe('oblique');
  });
  it('reads 風 花 天 as level', () => {
    for (const ch of '風花天') expect(toneOf(ch), ch).toBe('level');
  });
  it('keeps characters the poets read both ways ambiguous', () => {
    for (const ch of '看思') expect(toneOf(ch), ch).toBe('both');
    // (望, read both ways in the rhyme books, is not among them: the package labels all 4,702 of its occurrences 仄)
  });
  it('labels most of the vocabulary, and leaves unknown characters undefined', () => {
    expect(toneCounts().size).toBeGreaterThan(7000);
    expect(toneOf('A')).toBeUndefined();
  });
});
