import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCouplet, saveCouplet } from '../src/model/couplet/checkpoint.js';
import { CoupletModel, keyPositions } from '../src/model/couplet/decode.js';
import { initParams } from '../src/model/couplet/seq2seq.js';
import { copyOfOne, loadCouplets, loadSongCouplets } from '../src/model/couplet/pairs.js';
import { bleu4, noReuse, retrievalBaseline, scoreCouplets, toneOpposition } from '../src/model/couplet/score.js';
import { trainCouplets } from '../src/model/couplet/train.js';
import { isDev, loadTangCorpus } from '../src/model/verse/corpus.js';
import { PoemInputError } from '../src/model/poem/decode/poem-request.js';
import { inScript } from '../src/model/verse/script.js';
import { clearTone } from '../src/model/verse/tones.js';
import { UNK, Vocab } from '../src/model/verse/vocab.js';

describe('the couplets of the corpus', () => {
  it('are lines 3–4 and 5–6 of the 律诗, split by poem: no dev or test pair comes from a training poem', () => {
    const { train, dev, test } = loadCouplets();
    expect(train.length).toBeGreaterThan(40000);
    expect(dev.length).toBeGreaterThan(900);
    expect(test.length).toBeGreaterThan(900);
    const trainPoems = loadTangCorpus().train.filter((p) => p.form === 'wulv' || p.form === 'qilv');
    expect(train[0]).toEqual({ upper: trainPoems[0]!.lines[2], lower: trainPoems[0]!.lines[3] });
    const trained = new Set(train.map((c) => `${c.upper}|${c.lower}`));
    for (const pair of [...dev, ...test]) expect(trained.has(`${pair.upper}|${pair.lower}`)).toBe(false);
    // nor the same couplet in another edition of its poem: the corpus's own 爪牙在胸中，劒戢無所畏 is in training,
    // so its variant 爪牙在胷中，劒戟無所畏 (a dev poem) is scored nowhere
    expect(trained.has('爪牙在胸中|劒戢無所畏')).toBe(true);
    expect([...dev, ...test].some((p) => p.upper === '爪牙在胷中')).toBe(false);
    const devPoems = loadTangCorpus().dev;
    expect(devPoems.every((p) => isDev(p.lines))).toBe(true);
    for (const pair of [...dev, ...test]) expect([...pair.upper].length).toBe([...pair.lower].length);
  });
});

describe('copies of a couplet in another edition', () => {
  it('are the couplets at most 2 characters apart, in either line', () => {
    const isCopy = copyOfOne([
      { upper: '爪牙在胸中', lower: '劒戢無所畏' },
      { upper: '袖拂碧溪寒繚繞', lower: '冠欹紅樹晚裴回' },
    ]);
    expect(isCopy({ upper: '爪牙在胸中', lower: '劒戢無所畏' })).toBe(true);
    expect(isCopy({ upper: '爪牙在胷中', lower: '劒戢無所畏' })).toBe(true);
    expect(isCopy({ upper: '爪牙在胷中', lower: '劒戟無所畏' })).toBe(true);
    expect(isCopy({ upper: '爪牙在胸中', lower: '劒戟無畏所' })).toBe(false); // 3 apart
    expect(isCopy({ upper: '袖拂碧溪寒繚繞', lower: '冠欹紅樹晚徘徊' })).toBe(true);
    expect(isCopy({ upper: '袖拂碧溪寒', lower: '冠欹紅樹晚' })).toBe(false);
  });
});

describe("the Song poets' couplets (more training pairs)", () => {
  it('are the middle couplets of Song 律诗, none sharing a line with a Tang dev or test pair', () => {
    const song = loadSongCouplets();
    expect(song.length).toBeGreaterThan(100000);
    const { dev, test } = loadCouplets();
    const scored = new Set([...dev, ...test].flatMap((p) => [p.upper, p.lower]));
    expect(song.filter((p) => scored.has(p.upper) || scored.has(p.lower))).toEqual([]);
    const isScored = copyOfOne([...dev, ...test]);
    expect(song.filter(isScored)).toEqual([]);
    for (const p of song.slice(0, 2000)) {
      expect([5, 7]).toContain([...p.upper].length);
      expect([...p.lower].length).toBe([...p.upper].length);
    }
  }, 60000);
});

describe('BLEU-4 (corpus, character level)', () => {
  it('is 1 for the references themselves, 0 without a shared character, and small without a shared 4-gram', () => {
    expect(bleu4(['白日依山盡', '黃河入海流'], ['白日依山盡', '黃河入海流'])).toBeCloseTo(1, 12);
    expect(bleu4(['明月松間照'], ['青山依舊在'])).toBe(0);
    const noFourGram = bleu4(['白日依山樹'], ['青山依舊在']); // 1-grams 2/5, no 2-, 3- or 4-gram: (0+1)/(4+1), 1/4, 1/3
    expect(noFourGram).toBeCloseTo(Math.exp((Math.log(2 / 5) + Math.log(1 / 5) + Math.log(1 / 4) + Math.log(1 / 3)) / 4), 12);
  });

  it('is the geometric mean of the clipped n-gram precisions, as counted by hand', () => {
    // candidate 白日依山盡流 vs reference 白日依山流盡: 1-grams 6/6, 2-grams 3/5, 3-grams 2/4, 4-grams 1/3 (BLEU+1 from n = 2)
    const want = Math.exp((Math.log(6 / 6) + Math.log(4 / 6) + Math.log(3 / 5) + Math.log(2 / 4)) / 4);
    expect(bleu4(['白日依山盡流'], ['白日依山流盡'])).toBeCloseTo(want, 12);
    // clipping: a repeated character counts only as often as the reference has it; a shorter candidate pays the brevity penalty
    expect(bleu4(['山山山山山'], ['山水山水山'])).toBeCloseTo(Math.exp((Math.log(3 / 5) + Math.log(1 / 5) + Math.log(1 / 4) + Math.log(1 / 3)) / 4), 12);
    const short = bleu4(['白日依山'], ['白日依山盡']);
    expect(short).toBeCloseTo(Math.exp(1 - 5 / 4), 12);
  });
});

describe('the measures of 对仗', () => {
  it('count opposed tones at the 2nd, 4th, 6th and last characters, and reused characters', () => {
    expect(keyPositions(5)).toEqual([1, 3, 4]);
    expect(keyPositions(7)).toEqual([1, 3, 5, 6]);
    // 白日依山盡 / 黃河入海流: 日(仄)/河(平), 山(平)/海(仄), 盡(仄)/流(平): all opposed
    expect(toneOpposition([{ upper: '白日依山盡', lower: '黃河入海流' }])).toBe(1);
    expect(toneOpposition([{ upper: '白日依山盡', lower: '白日依山盡' }])).toBe(0);
    expect(
      noReuse([
        { upper: '白日依山盡', lower: '黃河入海流' },
        { upper: '白日依山盡', lower: '黃日入海流' },
      ]),
    ).toBe(0.5);
    expect(noReuse([{ upper: '青青河畔草', lower: '青青園中葵' }])).toBe(1); // the upper line's own repeat, at its places
  });

  it('score a test split: the references score BLEU 1 and keep the rules as often as the poets did', () => {
    const test = loadCouplets().test.slice(0, 300);
    const s = scoreCouplets(
      test,
      test.map((t) => t.lower),
    );
    expect(s.bleu4).toBeCloseTo(1, 9);
    expect(s.same_length).toBe(1);
    expect(s.tone_opposition).toBeGreaterThan(0.85);
    expect(s.no_reuse).toBeGreaterThan(0.8);
  });
});

describe('the retrieval baseline', () => {
  it('answers a training upper line with its own lower line, and any line with one of the same length', () => {
    const { train } = loadCouplets();
    const retrieve = retrievalBaseline(train.slice(0, 5000));
    expect(retrieve(train[10]!.upper)).toBe(train[10]!.lower);
    expect([...retrieve('春風又綠江南岸')]).toHaveLength(7);
  });
});

describe('CoupletModel (the rules of a couplet in decoding)', () => {
  let model: CoupletModel;
  beforeAll(async () => {
    // untrained weights: what it writes is arbitrary, so only the rules can make it a couplet
    const pairs = loadCouplets().train.slice(0, 4000);
    const vocab = Vocab.build(
      pairs.map((p) => ({ lines: [p.upper, p.lower], form: 'wulv' as const })),
      1,
    );
    const config = { vocabSize: vocab.size, embedDim: 8, hiddenDim: 12, attention: true };
    const dir = join(mkdtempSync(join(tmpdir(), 'tangshi-couplet-')), 'couplet');
    saveCouplet(dir, { config, vocab, params: initParams(config, 3), training: {}, split: {}, metrics: {} });
    model = await CoupletModel.load(dir);
  });

  it('answers with a line of the same length, opposed tones at the key positions and no character of the upper line', () => {
    for (const upper of ['白日依山盡', '黃河入海流', '兩岸猿聲啼不住', '輕舟已過萬重山']) {
      for (let seed = 0; seed < 5; seed++) {
        const { lower } = model.answer({ upper, seed });
        const u = [...upper],
          l = [...lower];
        expect(l).toHaveLength(u.length);
        for (const k of keyPositions(u.length)) {
          const [a, b] = [clearTone(u[k]!), clearTone(l[k]!)];
          if (a) expect(b, `${upper} / ${lower} at ${k + 1}`).not.toBe(a);
        }
        expect(
          l.some((ch) => u.includes(ch)),
          `${upper} / ${lower}`,
        ).toBe(false);
        expect(new Set(l).size).toBe(l.length);
      }
    }
  });

  it('searches a beam: deterministic, the rules kept, and a beam of one is the greedy line', () => {
    for (const upper of ['白日依山盡', '兩岸猿聲啼不住', '青青河畔草']) {
      expect(model.answer({ upper, beam: 1 }).lower).toBe(model.answer({ upper, topK: 1, seed: 1 }).lower);
      const lower = [...model.answer({ upper, beam: 4 }).lower];
      expect(model.answer({ upper, beam: 4 }).lower).toBe(lower.join(''));
      const u = [...upper];
      expect(lower).toHaveLength(u.length);
      for (const k of keyPositions(u.length)) {
        const [a, b] = [clearTone(u[k]!), clearTone(lower[k]!)];
        if (a) expect(b, `${upper} / ${lower.join('')} at ${k + 1}`).not.toBe(a);
      }
      expect(lower.some((ch) => u.includes(ch))).toBe(false);
      if (upper === '青青河畔草') expect(lower[1]).toBe(lower[0]);
      else expect(new Set(lower).size).toBe(lower.length);
    }
    expect(() => model.answer({ upper: '白日依山盡', beam: 0 })).toThrow(PoemInputError);
  });

  it('repeats where the upper line repeats, at the same places', () => {
    const { lower } = model.answer({ upper: '青青河畔草', seed: 1 });
    expect([...lower][0]).toBe([...lower][1]);
    expect(new Set([...lower].slice(1)).size).toBe(4);
  });

  it('is the same for the same seed, takes simplified input and answers in simplified when asked', () => {
    expect(model.answer({ upper: '白日依山尽', seed: 7 })).toEqual(model.answer({ upper: '白日依山盡', seed: 7 }));
    const simplified = model.answer({ upper: '白日依山尽', seed: 7, script: 'simplified' });
    expect(simplified.upper).toBe('白日依山尽');
    expect(simplified.lower).toBe(inScript(model.answer({ upper: '白日依山盡', seed: 7 }).lower, 'simplified'));
  });

  it('refuses bad input with a message that says what to type', () => {
    const refuse = (upper: string) => {
      try {
        model.answer({ upper });
      } catch (e) {
        expect(e).toBeInstanceOf(PoemInputError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${upper}`);
    };
    expect(refuse('')).toMatch(/empty: type 5 or 7/);
    expect(refuse('白日依山')).toMatch(/5 or 7 characters.*has 4/);
    expect(refuse('white sun')).toMatch(/only Chinese characters.*「w」/);
    expect(() => model.answer({ upper: '白日依山盡', temperature: 9 })).toThrow(PoemInputError);
  });

  it('answers a line with characters the model has never seen (the unknown token), keeping the rules', () => {
    const rare = '白日依山𪚥'; // a character outside the model's vocabulary and every variant table
    const { ids, chars } = model.parseUpper(rare);
    expect(ids[4]).toBe(UNK);
    expect(chars[4]).toBe('𪚥');
    for (const seed of [1, 2, 3]) {
      const answer = model.answer({ upper: rare, seed });
      expect([...answer.lower]).toHaveLength(5);
      expect([...answer.lower].some((ch) => [...rare].includes(ch))).toBe(false); // none of the upper line's characters
    }
    // a repeated unknown character is mirrored as a repeat, two different ones are not
    const twice = model.answer({ upper: '𪚥日依山𪚥', seed: 1 }).lower;
    expect([...twice][4]).toBe([...twice][0]);
    const [a, b] = [...model.answer({ upper: '𪚥日依山𪚢', seed: 1 }).lower].filter((_, i) => i === 0 || i === 4);
    expect(a).not.toBe(b);
  });
});

describe('training the couplet model', () => {
  it('learns: a few pairs are learnt by heart, the dev loss is measured as it goes, and each better checkpoint is saved at once', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tangshi-couplet-')), 'run');
    const savedWhenLogged: [number, number][] = [];
    const result = await trainCouplets({
      out,
      log: (line) => {
        const best = /^step (\d+) .*\(best\)$/.exec(line);
        if (best) savedWhenLogged.push([Number(best[1]), loadCouplet(out).manifest.training.bestStep as number]);
      },
      embedDim: 16,
      hiddenDim: 24,
      attention: true,
      teacherForcing: 1,
      lr: 0.02,
      batchSize: 32,
      maxMinutes: 1,
      maxSteps: 40,
      evalEvery: 20,
      seed: 1,
      trainPairs: 32,
      devPairs: 32,
    });
    const losses = result.history.map((p) => p.loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    expect(result.history.filter((p) => p.devLoss !== undefined).map((p) => p.step)).toEqual([20, 40]);
    expect(savedWhenLogged.length).toBeGreaterThan(0);
    for (const [logged, saved] of savedWhenLogged) expect(saved).toBe(logged); // on disk before the run ended
    expect(result.params.get('attention.wa')).toBeDefined();
  }, 60000);

  it('continues from a checkpoint with the Song pairs added and a cosine rate: the saved weights are where it starts', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tangshi-couplet-')), 'first');
    const tiny = { embedDim: 8, hiddenDim: 8, attention: true, teacherForcing: 1, lr: 0.02, batchSize: 16, maxMinutes: 1, evalEvery: 10, seed: 1 };
    const first = await trainCouplets({ ...tiny, maxSteps: 4, trainPairs: 3000, devPairs: 32, out: dir });
    const saved = loadCouplet(dir);
    const logs: string[] = [];
    const next = await trainCouplets({
      ...tiny,
      embedDim: 99,
      maxSteps: 3,
      trainPairs: 3000,
      devPairs: 32,
      from: dir,
      song: true,
      cosine: true,
      log: (l) => logs.push(l),
    });
    expect(next.config).toEqual(saved.manifest.config); // the checkpoint's size, not the options'
    expect(next.vocab.tokens).toEqual(first.vocab.tokens);
    expect(logs.find((l) => l.startsWith('step 0'))).toBe(`step 0: dev loss ${saved.manifest.metrics.devLoss!.toFixed(3)}`);
    expect(logs[0]).toMatch(/3000 Tang \+ \d+ Song training pairs/);
    expect(Number(/\+ (\d+) Song/.exec(logs[0]!)![1])).toBeGreaterThan(1000);
    expect(next.history).toHaveLength(3);
  }, 120000);

  it('trains with its own guesses fed back (teacher forcing below 1), without attention too', async () => {
    for (const [teacherForcing, attention] of [
      [0.5, true],
      [0, false],
    ] as const) {
      const result = await trainCouplets({
        embedDim: 8,
        hiddenDim: 8,
        attention,
        teacherForcing,
        lr: 0.02,
        batchSize: 16,
        maxMinutes: 1,
        maxSteps: 3,
        evalEvery: 10,
        seed: 1,
        trainPairs: 16,
        devPairs: 16,
      });
      expect(result.history).toHaveLength(3);
      expect(result.history.every((p) => Number.isFinite(p.loss))).toBe(true);
      expect(result.params.has('attention.wa')).toBe(attention);
    }
  }, 60000);
});
