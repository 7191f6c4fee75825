/** Corpus cleaning, the four regular forms, the fixed dev split and reading outside poem files. */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildCorpus,
  cleanLines,
  FORM_SHAPE,
  FORMS,
  isDev,
  loadPoemFile,
  loadTangCorpus,
  poemText,
  regularPoem,
  stanzasOf,
  type Corpus,
} from '../src/model/verse/corpus.js';
import { tempDir } from './helpers.js';

// 王之渙《登鸛雀樓》
const DENG = ['白日依山盡', '黃河入海流', '欲窮千里目', '更上一層樓'];
// 王維《山居秋暝》
const SHAN = ['空山新雨後', '天氣晚來秋', '明月松間照', '清泉石上流', '竹喧歸浣女', '蓮動下漁舟', '隨意春芳歇', '王孫自可留'];
// 王翰《涼州詞》
const LIANG = ['葡萄美酒夜光杯', '欲飲琵琶馬上催', '醉臥沙場君莫笑', '古來征戰幾人回'];
// 杜甫《登高》
const DENGGAO = [
  '風急天高猿嘯哀',
  '渚清沙白鳥飛回',
  '無邊落木蕭蕭下',
  '不盡長江滾滾來',
  '萬里悲秋常作客',
  '百年多病獨登臺',
  '艱難苦恨繁霜鬢',
  '潦倒新停濁酒杯',
];

/** The documented split rule, written out independently of corpus.ts. */
function devByRule(lines: string[]): boolean {
  const text = lines.map((line, i) => `${line}${i % 2 === 0 ? '，' : '。'}`).join('');
  const d = createHash('sha256').update(Buffer.from(text, 'utf8')).digest();
  const first4 = d[0]! * 2 ** 24 + d[1]! * 2 ** 16 + d[2]! * 2 ** 8 + d[3]!;
  return first4 % 10000 < 500;
}

describe('cleanLines', () => {
  it('splits on the line-ending punctuation and joins paragraphs', () => {
    expect(cleanLines(['白日依山盡，黃河入海流。', '欲窮千里目，更上一層樓。'])).toEqual(DENG);
    expect(cleanLines(['白日依山盡？黃河入海流！欲窮千里目；更上一層樓：'])).toEqual(DENG);
  });

  it.each([
    ['（）', '白日依山盡（一作白日依山盡），黃河入海流。'],
    ['()', '白日依山盡(一作青山)，黃河入海流。'],
    ['[]', '白日依山盡[一作青山]，黃河入海流。'],
    ['{}', '白日依山盡{一作青山}，黃河入海流。'],
    ['《》', '白日依山盡《樂府詩集》，黃河入海流。'],
    ['〖〗', '白日依山盡〖一作青山〗，黃河入海流。'],
    ['〔〕', '白日依山盡〔一作青山〕，黃河入海流。'],
    ['【】', '白日依山盡【一作青山】，黃河入海流。'],
    ['［］', '白日依山盡［一作青山］，黃河入海流。'],
  ])('drops %s notes together with their content', (_, text) => {
    expect(cleanLines([text])).toEqual(DENG.slice(0, 2));
  });

  it('drops a note that spans the punctuation between lines', () => {
    expect(cleanLines(['白日依山盡（一作：青山，遠樹。），黃河入海流。'])).toEqual(DENG.slice(0, 2));
  });

  it('drops nested notes, of the same and of mixed kinds', () => {
    expect(cleanLines(['白日依山盡（一作（又作青山）遠樹），黃河入海流。'])).toEqual(DENG.slice(0, 2));
    expect(cleanLines(['白日依山盡（一作【青山〔綠水〕】遠樹），黃河(入[海]流)入海流。'])).toEqual(DENG.slice(0, 2));
    expect(cleanLines(['白日依山盡（（（深））），黃河入海流。'])).toEqual(DENG.slice(0, 2));
  });

  it('removes quotation marks but keeps the quoted characters', () => {
    expect(cleanLines(['“白日依山盡”，‘黃河’入海流。「欲窮」千里目，『更上一層樓』。'])).toEqual(DENG);
    expect(cleanLines(['"白日依山盡"，\'黃河\'入海流。'])).toEqual(DENG.slice(0, 2));
  });

  it('removes digits, latin letters, spaces and stray symbols', () => {
    expect(cleanLines(['白日1依山盡2 ，黃河a入海流…—。', '欲窮千里目、·，更上一層樓３。'])).toEqual(DENG);
  });

  it.each(['□', '■', '○', '●', '◻', '◼', '〇', '⿰', '⿻', '\uE000', '\uF8FF', '\uFFFD'])('rejects a poem with the missing-glyph mark %j', (mark) => {
    expect(cleanLines([`白日${mark}山盡，黃河入海流。`])).toBeUndefined();
    // anywhere in the poem, also in a later paragraph
    expect(cleanLines(['白日依山盡，黃河入海流。', `欲窮千里目，更上一層${mark}。`])).toBeUndefined();
  });

  it('ignores a missing-glyph mark that is only inside a dropped note', () => {
    expect(cleanLines(['白日依山盡（一作□山），黃河入海流。'])).toEqual(DENG.slice(0, 2));
  });

  it('returns undefined when nothing is left', () => {
    expect(cleanLines([])).toBeUndefined();
    expect(cleanLines([''])).toBeUndefined();
    expect(cleanLines(['（一作青山）', '，。123'])).toBeUndefined();
  });

  it('keeps Han characters outside the BMP', () => {
    expect(cleanLines(['𠀋日依山盡，黃河入海流。'])).toEqual(['𠀋日依山盡', '黃河入海流']);
  });
});

describe('regularPoem', () => {
  it.each([
    ['wujue', DENG],
    ['wulv', SHAN],
    ['qijue', LIANG],
    ['qilv', DENGGAO],
  ] as const)('recognises %s', (form, lines) => {
    expect(regularPoem([...lines])).toEqual({ lines, form });
    expect(FORM_SHAPE[form].lineLength).toBe(lines[0]!.length);
    expect(FORM_SHAPE[form].lines).toBe(lines.length);
  });

  it('has exactly the four forms', () => {
    expect([...FORMS].sort()).toEqual(['qijue', 'qilv', 'wujue', 'wulv']);
  });

  it('rejects an empty list of lines', () => {
    expect(regularPoem([])).toBeUndefined();
  });

  it('rejects mixed line lengths', () => {
    expect(regularPoem([DENG[0]!, LIANG[1]!, DENG[2]!, DENG[3]!])).toBeUndefined();
    expect(regularPoem([...DENG.slice(0, 3), '更上層樓'])).toBeUndefined();
    expect(regularPoem([...SHAN.slice(0, 7), LIANG[0]!])).toBeUndefined();
  });

  it('rejects other line counts (2, 6, 12 lines) and other line lengths', () => {
    expect(regularPoem(DENG.slice(0, 2))).toBeUndefined();
    expect(regularPoem(SHAN.slice(0, 6))).toBeUndefined();
    expect(regularPoem(DENGGAO.slice(0, 6))).toBeUndefined();
    expect(regularPoem([...SHAN, ...DENG])).toBeUndefined();
    expect(regularPoem(['白日依山盡盡', '黃河入海流流', '欲窮千里目目', '更上一層樓樓'])).toBeUndefined();
  });

  it('counts characters, not UTF-16 units', () => {
    const lines = ['𠀋日依山盡', ...DENG.slice(1)];
    expect('𠀋日依山盡'.length).toBe(6);
    expect(regularPoem(lines)?.form).toBe('wujue');
  });
});

describe('poemText', () => {
  it('puts ， after odd lines and 。 after even lines', () => {
    expect(poemText(DENG)).toBe('白日依山盡，黃河入海流。欲窮千里目，更上一層樓。');
    const text = poemText(SHAN);
    expect(text.match(/，/g)).toHaveLength(4);
    expect(text.match(/。/g)).toHaveLength(4);
    expect(text.endsWith('王孫自可留。')).toBe(true);
    expect(poemText(['甲', '乙', '丙'])).toBe('甲，乙。丙，');
  });
});

describe('the dev split', () => {
  let corpus: Corpus;
  beforeAll(() => {
    corpus = loadTangCorpus();
  });

  it('is stable: same text, same answer, and the documented sha256 rule', () => {
    const sample = [...corpus.train.slice(0, 3000), ...corpus.dev.slice(0, 300)].map((p) => p.lines);
    let dev = 0;
    for (const lines of sample) {
      const first = isDev(lines);
      expect(isDev([...lines]), lines.join('')).toBe(first);
      expect(first, lines.join('')).toBe(devByRule(lines));
      if (first) dev++;
    }
    // the sample holds both kinds, so the comparison above meant something
    expect(dev).toBeGreaterThan(0);
    expect(dev).toBeLessThan(sample.length);
  });

  it('puts every dev poem in dev and every training poem in train, by the rule', () => {
    expect(corpus.dev.filter((p) => !devByRule(p.lines)).map((p) => poemText(p.lines))).toEqual([]);
    expect(corpus.train.filter((p) => devByRule(p.lines)).map((p) => poemText(p.lines))).toEqual([]);
  });

  it('holds 4–6% of the real corpus', () => {
    expect(corpus.train.length).toBeGreaterThan(10_000);
    const share = corpus.dev.length / (corpus.train.length + corpus.dev.length);
    expect(share).toBeGreaterThan(0.04);
    expect(share).toBeLessThan(0.06);
  });

  it('shares no poem text between train and dev', () => {
    const train = new Set(corpus.train.map((p) => poemText(p.lines)));
    expect(train.size).toBe(corpus.train.length);
    const dev = corpus.dev.map((p) => poemText(p.lines));
    expect(new Set(dev).size).toBe(dev.length);
    expect(dev.filter((text) => train.has(text))).toEqual([]);
  });

  it('keeps only regular poems in train and dev, and no dev text among the others', () => {
    const wrongForm = [...corpus.train, ...corpus.dev].filter((p) => regularPoem(p.lines)?.form !== p.form);
    expect(wrongForm).toEqual([]);
    expect(corpus.others.length).toBeGreaterThan(0);
    expect(corpus.others.filter((lines) => regularPoem(lines) !== undefined || devByRule(lines))).toEqual([]);
  });

  it('reports stats that add up', () => {
    const s = corpus.stats;
    expect(s.train).toBe(corpus.train.length);
    expect(s.dev).toBe(corpus.dev.length);
    expect(s.others).toBe(corpus.others.length);
    expect(s.raw).toBeGreaterThan(40_000);
    expect(s.dropped! + s.duplicates! + s.train! + s.dev! + s.others!).toBeLessThanOrEqual(s.raw!);
  });
});

describe('buildCorpus', () => {
  const para = (lines: string[]) => [poemText(lines)];

  it('de-duplicates cleaned texts and counts what it did', () => {
    // a regular poem that falls in dev, found by the rule (not by isDev)
    let devPoem: string[] | undefined;
    for (let i = 0; !devPoem; i++) {
      const candidate = [
        ...DENG.slice(0, 3),
        `更上${'一二三四五六七八九十'[i % 10]}${'層樓臺閣亭'[Math.floor(i / 10) % 5]}${'山水雲月花'[Math.floor(i / 50) % 5]}`,
      ];
      if (devByRule(candidate)) devPoem = candidate;
      if (i > 250) throw new Error('no dev candidate found');
    }
    const trainPoems = [DENG, SHAN, LIANG, DENGGAO].filter((p) => !devByRule(p));
    const raw = [
      ...[DENG, SHAN, LIANG, DENGGAO].map((p) => ({ paragraphs: para(p) })),
      { paragraphs: para(DENG) }, // exact duplicate
      { paragraphs: ['白日依山盡（一作青山），黃河入海流。', '“欲窮千里目”，更上一層樓。'] }, // duplicate after cleaning
      { paragraphs: para(SHAN), title: 'extra fields are kept out of the way' },
      { paragraphs: ['白日□山盡，黃河入海流。'] }, // dropped
      { paragraphs: ['（只有注）'] }, // dropped: nothing left
      { paragraphs: ['床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。', '又一句'] }, // irregular
      { paragraphs: para(devPoem!) },
    ];
    const corpus = buildCorpus(raw);
    expect(corpus.stats).toMatchObject({ raw: raw.length, dropped: 2, duplicates: 3 });
    const texts = (ps: { lines: string[] }[]) => ps.map((p) => poemText(p.lines));
    expect(texts(corpus.dev)).toContain(poemText(devPoem!));
    expect(texts(corpus.train).sort()).toEqual(texts(trainPoems.map((lines) => ({ lines }))).sort());
    expect(corpus.train.length + corpus.dev.length).toBe(5);
    expect(corpus.others).toEqual([['床前明月光', '疑是地上霜', '舉頭望明月', '低頭思故鄉', '又一句']]);
    expect(corpus.stats).toMatchObject({ train: corpus.train.length, dev: corpus.dev.length, others: 1 });
    const form = Object.fromEntries([...corpus.train, ...corpus.dev].map((p) => [p.lines[0], p.form]));
    expect(form).toMatchObject({ [DENG[0]!]: 'wujue', [SHAN[0]!]: 'wulv', [LIANG[0]!]: 'qijue', [DENGGAO[0]!]: 'qilv' });
  });

  it('gives the same corpus for the same input', () => {
    const raw = [DENG, SHAN, LIANG, DENGGAO, DENG].map((p) => ({ paragraphs: para(p) }));
    expect(buildCorpus(raw)).toEqual(buildCorpus(raw));
    expect(buildCorpus([])).toMatchObject({ train: [], dev: [], others: [], stats: { raw: 0, dropped: 0, duplicates: 0 } });
  });
});

describe('loadPoemFile', () => {
  it('reads a chinese-poetry file: keeps the regular poems and counts the rest as skipped', () => {
    const path = join(tempDir(), 'poems.json');
    const data = [
      { author: '王之渙', title: '登鸛雀樓', paragraphs: ['白日依山盡，黃河入海流。', '欲窮千里目，更上一層樓。'], id: 'a' },
      { author: '王翰', title: '涼州詞', paragraphs: ['葡萄美酒夜光杯（一作觥），欲飲琵琶馬上催。', '醉臥沙場君莫笑，古來征戰幾人回。'] },
      { author: '某', title: '殘', paragraphs: ['白日□山盡，黃河入海流。', '欲窮千里目，更上一層樓。'] },
      { author: '某', title: '雜言', paragraphs: ['君不見黃河之水天上來，奔流到海不復回。'] },
      { author: '某', title: '空', paragraphs: [] },
    ];
    writeFileSync(path, JSON.stringify(data, null, 2));
    const { poems, skipped } = loadPoemFile(path);
    expect(poems).toEqual([
      { lines: DENG, form: 'wujue' },
      { lines: LIANG, form: 'qijue' },
    ]);
    expect(skipped).toBe(3);
  });

  it('explains a file that is not JSON, naming the file', () => {
    const path = join(tempDir(), 'broken.json');
    writeFileSync(path, '[{"paragraphs": ["白日依山盡，"]');
    expect(() => loadPoemFile(path)).toThrow(`cannot read ${path} as JSON`);
  });

  it('explains a missing file, naming it', () => {
    const path = join(tempDir(), 'nowhere.json');
    expect(() => loadPoemFile(path)).toThrow(path);
  });

  it.each([
    ['an object', { paragraphs: ['白日依山盡，黃河入海流。'] }],
    ['poems without paragraphs', [{ title: '登鸛雀樓', content: '白日依山盡' }]],
    ['paragraphs that are not strings', [{ paragraphs: [1, 2] }]],
    ['paragraphs as one string', [{ paragraphs: '白日依山盡，黃河入海流。' }]],
  ])('explains the wrong shape (%s)', (_, data) => {
    const path = join(tempDir(), 'shape.json');
    writeFileSync(path, JSON.stringify(data));
    let message = '';
    try {
      loadPoemFile(path);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(path);
    expect(message).toContain('"paragraphs"');
    expect(message).toContain('chinese-poetry format');
  });
});

describe('stanzasOf (irregular poems as extra training text)', () => {
  const five = (k: number) => `山水${'一二三四五六七八九十'[k % 10]}雲月`;
  const seven = (k: number) => `春風${'一二三四五六七八九十'[k % 10]}江上明月`;

  it('cuts runs of equal 5- or 7-character lines into 4-line stanzas at couplet boundaries', () => {
    // line 0 has 3 characters (no form); lines 1–9 have 5: the run starts on an odd line, so its first
    // whole couplet starts at line 2, giving stanzas 2–5 and 6–9; lines 10–13 have 7: one stanza
    const lines = ['白日依', ...Array.from({ length: 9 }, (_, k) => five(k)), ...Array.from({ length: 4 }, (_, k) => seven(k))];
    const expected = [
      { form: 'wujue', lines: lines.slice(2, 6) },
      { form: 'wujue', lines: lines.slice(6, 10) },
      { form: 'qijue', lines: lines.slice(10, 14) },
    ].filter((s) => !isDev(s.lines));
    expect(expected.length).toBeGreaterThan(1); // the hash rule leaves most stanzas in
    expect(stanzasOf(lines)).toEqual(expected);
    const eight = Array.from({ length: 8 }, (_, k) => seven(k));
    const halves = [eight.slice(0, 4), eight.slice(4)].filter((l) => !isDev(l));
    expect(stanzasOf(eight)).toEqual(halves.map((l) => ({ form: 'qijue', lines: l })));
    expect(stanzasOf(['一二三四五六', '一二三四五六', '一二三四五六', '一二三四五六'])).toEqual([]); // 6 characters: no form
  });

  it('gives regular-shaped stanzas of the real irregular poems, none in dev', () => {
    const stanzas = loadTangCorpus().others.slice(0, 3000).flatMap(stanzasOf);
    expect(stanzas.length).toBeGreaterThan(1000);
    for (const s of stanzas) {
      expect(regularPoem(s.lines)?.form).toBe(s.form);
      expect(devByRule(s.lines)).toBe(false);
    }
  });
});
