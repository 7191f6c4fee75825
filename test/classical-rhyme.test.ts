/** Rhyme groups from the poets' practice, against what 平水韵 says of a few well-known characters. */
import { describe, expect, it } from 'vitest';
import { classicalRhymeGroups, classicalRhymes } from '../src/model/verse/classical-rhyme.js';

describe('classical rhyme groups', () => {
  const groups = classicalRhymeGroups();
  const same = (a: string, b: string) => groups.get(a) !== undefined && groups.get(a) === groups.get(b);
  it('puts characters of one 平水韵 group together', () => {
    for (const [a, b] of [
      ['東', '中'],
      ['天', '年'],
      ['人', '春'],
      ['秋', '流'],
      ['寒', '看'],
      ['山', '間'],
      ['歌', '多'],
      ['心', '深'],
    ])
      expect(same(a!, b!), `${a} ${b}`).toBe(true);
  });
  it('keeps apart groups that 十三辙 merges on modern readings', () => {
    for (const [a, b] of [
      ['天', '寒'],
      ['寒', '山'],
      ['人', '心'],
      ['時', '西'],
      ['花', '時'],
    ])
      expect(same(a!, b!), `${a} ${b}`).toBe(false);
  });
  it('has about as many groups as 平水韵 has level-tone groups (30)', () => {
    const count = new Set(groups.values()).size;
    expect(count).toBeGreaterThan(20);
    expect(count).toBeLessThan(40);
  });
  it('says a regulated poem rhymes when its even lines end in one group', () => {
    expect(classicalRhymes(['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層樓'])).toBe(true);
    expect(classicalRhymes(['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層天'])).toBe(false);
  });
});
