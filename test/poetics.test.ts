import { describe, expect, it } from 'vitest';
import { checkTones, distinct2, repeatedCharacters, repeatShare, toneTemplate, type Tonal } from '../src/model/verse/poetics.js';

describe('repeatedCharacters', () => {
  it('counts a character that comes back later in the poem', () => {
    expect(repeatedCharacters(['床前明月光', '疑是地上霜', '舉頭望明月', '低頭思故鄉'])).toBe(3); // 明 月 頭
  });
  it('does not count a reduplication, but does count a third in a row', () => {
    expect(repeatedCharacters(['青青河畔草'])).toBe(0);
    expect(repeatedCharacters(['月明明明月'])).toBe(2); // the third 明 in a row, and the second 月
  });
  it('gives the share over all characters', () => {
    expect(
      repeatShare([
        ['青青河畔草', '鬱鬱園中柳'],
        ['春眠不覺曉', '處處聞啼鳥'],
      ]),
    ).toBe(0);
    expect(repeatShare([['日日日'], ['山水']])).toBeCloseTo(1 / 5);
  });
});

describe('checkTones', () => {
  const tone: Record<string, Tonal> = { 平: 'level', 仄: 'oblique' };
  // lines written as their tones, so each rule can be broken on purpose
  const check = (...lines: string[]) => checkTones(lines, (ch) => tone[ch] ?? null);
  it('keeps the standard 五绝 and 七绝 templates', () => {
    expect(check('仄仄平平仄', '平平仄仄平', '平平平仄仄', '仄仄仄平平').kept).toBe(true);
    expect(check('平平仄仄平平仄', '仄仄平平仄仄平', '仄仄平平平仄仄', '平平仄仄仄平平').kept).toBe(true);
  });
  it('names what a line breaks', () => {
    expect(check('仄仄平平仄', '平平仄仄仄', '平平平仄仄', '仄仄仄平平').broken).toEqual(["line 2: ends oblique, not on the rhyme's level tone"]);
    expect(check('仄仄平平仄', '平平仄仄平', '仄仄平平仄', '仄仄仄平平').broken).toContain('line 3: not joined (粘) to line 2 at 2');
    expect(check('平平仄仄仄', '仄仄仄平平', '仄平平仄仄', '仄仄平平平').broken).toContain('line 4: 三平尾');
    expect(check('平平平仄仄', '仄仄仄平平', '仄仄平平仄', '仄平仄仄平').broken).toEqual(['line 4: 孤平']);
  });
  it('lets a character of either or unknown tone fit any rule', () => {
    expect(check('？？？？？', '？？？？？', '？？？？？', '？？？？？')).toMatchObject({ kept: true, positions: 12, positionsKept: 12 });
  });
});

describe('distinct2', () => {
  it('is the share of distinct bigrams', () => {
    expect(distinct2([['春風春風']])).toBeCloseTo(2 / 3);
    expect(distinct2([['山水'], ['山水']])).toBe(0.5);
  });
});

describe('toneTemplate', () => {
  const P = 'level',
    Z = 'oblique',
    _ = null;
  it('gives 仄起 五绝 as A B C D with the free positions open, and a rhyming first line as D', () => {
    expect(toneTemplate(0, 5, 4)).toEqual([
      [_, Z, _, P, Z], // A 仄仄平平仄
      [P, P, _, Z, P], // B 平平仄仄平: its 1st level, or 孤平
      [_, P, _, Z, Z], // C 平平平仄仄
      [_, Z, Z, P, P], // D 仄仄仄平平: its 3rd oblique, or 三平尾
    ]);
    expect(toneTemplate(0, 5, 4, true)[0]).toEqual([_, Z, Z, P, P]); // 首句入韵: D, ending level
    expect(toneTemplate(0, 5, 4, true).slice(1)).toEqual(toneTemplate(0, 5, 4).slice(1));
  });

  it('gives 平起 七言 lines with two opposite tones in front, and a rhyming first line as B', () => {
    const [first] = toneTemplate(1, 7, 8, true);
    expect(first).toEqual([_, Z, P, P, _, Z, P]); // 仄仄平平仄仄平 (B behind 仄仄)
    expect(toneTemplate(1, 7, 8)[0]).toEqual([_, Z, _, P, _, Z, Z]); // C: 仄仄平平平仄仄
    // a 律诗 runs its quatrain twice, the rhyming first line only once
    expect(toneTemplate(1, 7, 8, true).slice(4)).toEqual(toneTemplate(1, 7, 8).slice(0, 4));
  });

  it('keeps 粘 and 对 between the lines of every template, rhyming first line or not', () => {
    for (const t of [0, 1] as const)
      for (const len of [5, 7] as const)
        for (const first of [false, true]) {
          const lines = toneTemplate(t, len, 8, first);
          const key = 1; // the 2nd character decides a line's tone pattern
          for (let l = 1; l < 8; l++) {
            if (l % 2 === 1) expect(lines[l]![key], `对: line ${l + 1}`).not.toBe(lines[l - 1]![key]);
            else expect(lines[l]![key], `粘: line ${l + 1}`).toBe(lines[l - 1]![key]);
          }
          expect(lines[0]!.at(-1)).toBe(first ? P : Z);
        }
  });
});
