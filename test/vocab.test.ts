/** The vocabulary: building, saving, encoding poems. */
import { describe, expect, it } from 'vitest';
import { FORMS, poemText, type Poem } from '../src/model/verse/corpus.js';
import { BOS, EOS, PAD, PUNCTUATION, SPECIALS, UNK, Vocab } from '../src/model/verse/vocab.js';

const DENG: Poem = { form: 'wujue', lines: ['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層樓'] };
const DENGGAO: Poem = {
  form: 'qilv',
  lines: ['風急天高猿嘯哀', '渚清沙白鳥飛回', '無邊落木蕭蕭下', '不盡長江滾滾來', '萬里悲秋常作客', '百年多病獨登臺', '艱難苦恨繁霜鬢', '潦倒新停濁酒杯'],
};

/** 山 and 花 occur 5 times each (a tie), 水 4, 月 3, 風 2, 雲 once. */
const COUNTED: Poem[] = [{ form: 'wujue', lines: ['山山山水水', '月月風風雲', '山山水水月', '花花花花花'] }];
const COUNTS: Record<string, number> = { 山: 5, 水: 4, 月: 3, 風: 2, 雲: 1, 花: 5 };

function countsOf(poems: Poem[]) {
  const counts = new Map<string, number>();
  for (const p of poems) for (const line of p.lines) for (const ch of line) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return counts;
}

describe('Vocab.build', () => {
  it('counts as the fixture says', () => {
    expect(Object.fromEntries(countsOf(COUNTED))).toEqual(COUNTS);
  });

  it('puts the specials first, then ，。, then characters by falling count', () => {
    const v = Vocab.build(COUNTED, 1);
    expect(v.tokens.slice(0, SPECIALS.length)).toEqual([...SPECIALS]);
    expect(v.tokens.slice(SPECIALS.length, v.firstChar)).toEqual(['，', '。']);
    expect(v.firstChar).toBe(SPECIALS.length + PUNCTUATION.length);
    expect([v.id('<pad>'), v.id('<bos>'), v.id('<eos>'), v.id('<unk>')]).toEqual([PAD, BOS, EOS, UNK]);
    expect([v.comma, v.period]).toEqual([SPECIALS.length, SPECIALS.length + 1]);
    const chars = v.tokens.slice(v.firstChar);
    expect(new Set(chars)).toEqual(new Set(Object.keys(COUNTS)));
    for (let i = 1; i < chars.length; i++) expect(COUNTS[chars[i - 1]!]!).toBeGreaterThanOrEqual(COUNTS[chars[i]!]!);
    // ties are broken the same way every time
    expect(Vocab.build(COUNTED, 1).tokens).toEqual(v.tokens);
    expect(Vocab.build([...COUNTED].reverse(), 1).tokens).toEqual(v.tokens);
  });

  it.each([1, 2, 3, 4, 5, 6])('keeps exactly the characters seen at least minCount=%i times', (minCount) => {
    const v = Vocab.build(COUNTED, minCount);
    const expected = Object.keys(COUNTS).filter((ch) => COUNTS[ch]! >= minCount);
    expect(new Set(v.tokens.slice(v.firstChar))).toEqual(new Set(expected));
    expect(v.size).toBe(v.firstChar + expected.length);
    expect(v.minCount).toBe(minCount);
  });

  it('uses minCount 3 by default', () => {
    const v = Vocab.build(COUNTED);
    expect(v.minCount).toBe(3);
    expect(new Set(v.tokens.slice(v.firstChar))).toEqual(new Set(['山', '水', '月', '花']));
  });

  it('gives each form its own special token', () => {
    const v = Vocab.build([DENG], 1);
    const ids = FORMS.map((f) => v.formToken(f));
    expect(new Set(ids).size).toBe(FORMS.length);
    for (const [k, f] of FORMS.entries()) expect(v.tokens[ids[k]!]).toBe(`<${f}>`);
    for (const id of ids) expect(id).toBeLessThan(SPECIALS.length);
  });
});

describe('toJSON / fromJSON', () => {
  it('round-trips to the same ids', () => {
    const v = Vocab.build([DENG, DENGGAO, ...COUNTED], 1);
    const back = Vocab.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    expect(back.tokens).toEqual(v.tokens);
    expect(back.minCount).toBe(v.minCount);
    expect(back.size).toBe(v.size);
    for (const t of v.tokens) expect(back.id(t), t).toBe(v.id(t));
    expect([back.comma, back.period]).toEqual([v.comma, v.period]);
    expect(back.encodePoem(DENGGAO)).toEqual(v.encodePoem(DENGGAO));
  });

  it('rejects a vocabulary whose specials are out of order', () => {
    const tokens = [...SPECIALS, ...PUNCTUATION, '山', '水'];
    [tokens[1], tokens[2]] = [tokens[2]!, tokens[1]!];
    expect(() => Vocab.fromJSON({ tokens, minCount: 1 })).toThrow(/token 1 must be <bos>/);
    const formsSwapped = [...SPECIALS, ...PUNCTUATION, '山'];
    [formsSwapped[4], formsSwapped[7]] = [formsSwapped[7]!, formsSwapped[4]!];
    expect(() => Vocab.fromJSON({ tokens: formsSwapped, minCount: 1 })).toThrow(/token 4 must be <wujue>/);
    const missing = [...SPECIALS.slice(1), ...PUNCTUATION, '山', '水'];
    expect(() => Vocab.fromJSON({ tokens: missing, minCount: 1 })).toThrow(/token 0 must be <pad>/);
    const punctuationLater = [...SPECIALS, '山', '水', ...PUNCTUATION];
    expect(() => Vocab.fromJSON({ tokens: punctuationLater, minCount: 1 })).toThrow(/token 8 must be ，/);
  });

  it('rejects duplicates, a too-short list and a malformed file', () => {
    expect(() => Vocab.fromJSON({ tokens: [...SPECIALS, ...PUNCTUATION, '山', '山'], minCount: 1 })).toThrow(/duplicate/);
    expect(() => Vocab.fromJSON({ tokens: [...SPECIALS], minCount: 1 })).toThrow();
    expect(() => Vocab.fromJSON({ tokens: [...SPECIALS, ...PUNCTUATION] })).toThrow();
    expect(() => Vocab.fromJSON('not a vocabulary')).toThrow();
  });
});

describe('encodePoem / decode', () => {
  const v = Vocab.build([DENG, DENGGAO], 1);

  it.each([DENG, DENGGAO])('lays out [<bos>, <form>, line, ，, line, 。, …, <eos>]', (poem) => {
    const ids = v.encodePoem(poem);
    const n = poem.lines[0]!.length;
    expect(ids).toHaveLength(2 + poem.lines.length * (n + 1) + 1);
    expect(ids[0]).toBe(BOS);
    expect(ids[1]).toBe(v.formToken(poem.form));
    expect(ids.at(-1)).toBe(EOS);
    poem.lines.forEach((line, i) => {
      const start = 2 + i * (n + 1);
      expect(ids.slice(start, start + n)).toEqual([...line].map((ch) => v.id(ch)));
      expect(ids[start + n]).toBe(i % 2 === 0 ? v.comma : v.period);
    });
    for (const id of ids.slice(2, -1)) expect(id).toBeGreaterThanOrEqual(SPECIALS.length);
  });

  it.each([DENG, DENGGAO])('decodes back to the text', (poem) => {
    const ids = v.encodePoem(poem);
    expect(v.decode(ids)).toBe(`<bos><${poem.form}>${poemText(poem.lines)}<eos>`);
    expect(v.decode(ids.slice(2, -1))).toBe(poemText(poem.lines));
  });

  it('maps unknown characters to <unk>', () => {
    const poem: Poem = { form: 'wujue', lines: ['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層鶴'] };
    expect(v.has('鶴')).toBe(false);
    expect(v.id('鶴')).toBe(UNK);
    const ids = v.encodePoem(poem);
    expect(ids.filter((id) => id === UNK)).toHaveLength(1);
    expect(ids.at(-3)).toBe(UNK);
    expect(v.decode(ids.slice(2, -1))).toBe('白日依山盡，黃河入海流。欲窮千里目，更上一層<unk>。');
    expect(v.decode([v.size + 5, -1])).toBe('<unk><unk>');
  });

  it('tells characters from specials and punctuation', () => {
    expect(v.has('山')).toBe(true);
    for (const t of [...SPECIALS, ...PUNCTUATION, '鶴', '']) expect(v.has(t), t).toBe(false);
  });
});
