import { describe, expect, it } from 'vitest';
import { repeatedCharacters, repeatShare } from '../src/model/poetics.js';

describe('repeatedCharacters', () => {
  it('counts a character that comes back later in the poem', () => {
    expect(repeatedCharacters(['床前明月光', '疑是地上霜', '舉頭望明月', '低頭思故鄉'])).toBe(3); // 明 月 頭
  });
  it('does not count a reduplication, but does count a third in a row', () => {
    expect(repeatedCharacters(['青青河畔草'])).toBe(0);
    expect(repeatedCharacters(['月明明明月'])).toBe(2); // the third 明 in a row, and the second 月
  });
  it('gives the share over all characters', () => {
    expect(repeatShare([['青青河畔草', '鬱鬱園中柳'], ['春眠不覺曉', '處處聞啼鳥']])).toBe(0);
    expect(repeatShare([['日日日'], ['山水']])).toBeCloseTo(1 / 5);
  });
});
