/**
 * Readers' ratings into a fair signal (taste-signal.ts) and the taste model (taste-model.ts): the arithmetic of
 * reader offsets, shrinkage and the per-reader cap, and a taste learnt from noisy readers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleWeight, fairScores, halves, readerWeights, splitByTime, tasteExamples, type StarRating } from '../src/jobs/taste-signal.js';
import { rocAuc, TasteModel, type TasteExample } from '../src/model/taste/taste-model.js';
import { loadTangCorpus, poemText } from '../src/model/verse/corpus.js';
import { lcg, tempDir } from './helpers.js';

const at = (k: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, k));
const rating = (poemId: number, userId: string, stars: number, k = 0): StarRating => ({ poemId, userId, stars, at: at(k) });

describe('reader offsets and shrinkage', () => {
  it("removes each reader's offset: a harsh reader's 3 and a generous reader's 5 on the same poems agree", () => {
    // two readers rate the same three poems; the harsh one two stars lower throughout
    const ratings = [1, 2, 3].flatMap((p) => [rating(p, 'harsh', [3, 2, 1][p - 1]!), rating(p, 'kind', [5, 4, 3][p - 1]!)]);
    const s = fairScores(ratings, [], { maxReaderShare: 1, poemShrink: 0.01, readerShrink: 0.01 });
    expect(s.readerOffset.get('kind')! - s.readerOffset.get('harsh')!).toBeCloseTo(2, 1);
    const scores = [1, 2, 3].map((p) => s.poems.get(p)!.score);
    expect(scores[0]! - scores[1]!).toBeCloseTo(1, 1);
    expect(scores[1]! - scores[2]!).toBeCloseTo(1, 1);
  });

  it('shrinks a poem with one rating more than one with many of the same stars', () => {
    const ratings = [rating(1, 'a', 5), ...['a', 'b', 'c', 'd', 'e'].map((u) => rating(2, u, 5)), ...['b', 'c', 'd', 'e'].map((u) => rating(3, u, 3))];
    const s = fairScores(ratings, [], { maxReaderShare: 1 });
    expect(s.poems.get(1)!.score).toBeGreaterThan(0);
    expect(s.poems.get(1)!.score).toBeLessThan(s.poems.get(2)!.score);
  });

  it('caps any one reader at a share of the night, however many poems they rate', () => {
    const counts = new Map([['brigade', 500], ...Array.from({ length: 19 }, (_, k) => [`r${k}`, 10] as [string, number])]);
    const w = readerWeights(counts, 0.1);
    const weight = (u: string) => counts.get(u)! * w.get(u)!;
    const total = [...counts.keys()].reduce((t, u) => t + weight(u), 0);
    expect(weight('brigade') / total).toBeCloseTo(0.1, 6);
    expect(w.get('r0')).toBe(1);
    // fewer readers than 1 / share: an equal share each at most
    const few = readerWeights(
      new Map([
        ['a', 100],
        ['b', 10],
      ]),
      0.1,
    );
    expect(100 * few.get('a')!).toBeCloseTo(10, 6);
    expect(few.get('b')).toBe(1);
  });

  it('splits the rated poems by time and into two halves, each poem in one part', () => {
    const ratings = Array.from({ length: 40 }, (_, k) => rating(100 + k, 'u', 3, 40 - k)); // later ids rated earlier
    const { train, test } = splitByTime(ratings, 0.25);
    expect(test).toHaveLength(10);
    expect(Math.min(...train)).toBeGreaterThan(Math.max(...test)); // the poems rated last are held out
    const { a, b } = halves(ratings.map((r) => r.poemId));
    expect(a.length + b.length).toBe(40);
    expect(a.length).toBeGreaterThan(8);
    expect(b.length).toBeGreaterThan(8);
  });
});

/** poems of the real corpus; readers who like poems with 月 or 江 in them, a quarter of their ratings random */
function simulatedNight(poems: number, seed: number) {
  const corpus = loadTangCorpus().train.slice(seed * 1000, seed * 1000 + poems);
  const random = lcg(seed + 1);
  const liked = (text: string) => /[月江]/.test(text);
  const ratings: StarRating[] = [];
  corpus.forEach((p, id) => {
    for (let r = 0; r < 2; r++) {
      const reader = `reader${Math.floor(random() * 12)}`;
      const offset = Number(reader.slice(6)) % 3 === 0 ? -1 : 0; // some readers are harsh
      const stars = random() < 0.25 ? 1 + Math.floor(random() * 5) : liked(poemText(p.lines)) ? 5 + offset : 2 + offset;
      ratings.push(rating(id, reader, Math.min(5, Math.max(1, stars)), id));
    }
  });
  const texts = new Map(corpus.map((p, id) => [id, { id, text: poemText(p.lines), form: p.form }]));
  return { ratings, texts, liked };
}

describe('a brigade', () => {
  it('three accounts giving 5 stars to every poem with 酒, hundreds of times, do not teach the taste model to like 酒', () => {
    const { ratings, texts } = simulatedNight(300, 4);
    const corpus = loadTangCorpus().train;
    const withWine = corpus.filter((p) => p.lines.join('').includes('酒'));
    // the brigade's own poems, each rated 5 by one of them
    withWine.slice(0, 360).forEach((p, k) => {
      const id = 10_000 + k;
      texts.set(id, { id, text: poemText(p.lines), form: p.form });
      ratings.push(rating(id, `brigade${k % 3}`, 5, 400 + k));
    });
    const unseen = corpus.slice(8000, 8600).map((p) => ({ text: poemText(p.lines), form: p.form }));
    const pull = (model: TasteModel) => {
      const mean = (xs: typeof unseen) => xs.reduce((s, p) => s + model.score(p.text, p.form).mean, 0) / xs.length;
      return mean(unseen.filter((p) => p.text.includes('酒'))) - mean(unseen.filter((p) => !p.text.includes('酒')));
    };
    const honest = TasteModel.train(
      tasteExamples(
        fairScores(
          ratings.filter((r) => !r.userId.startsWith('brigade')),
          [],
          { maxReaderShare: 0.1 },
        ),
        texts,
      ),
    );
    const defended = TasteModel.train(tasteExamples(fairScores(ratings, [], { maxReaderShare: 0.1 }), texts));
    // the same stars read naively (no reader offsets, no cap, no shrinkage): a poem is liked when its mean is ≥ 4
    const naive = TasteModel.train(
      [...texts.keys()].flatMap((id) => {
        const stars = ratings.filter((r) => r.poemId === id).map((r) => r.stars);
        if (stars.length === 0) return [];
        const mean = stars.reduce((a, b) => a + b, 0) / stars.length;
        return [{ ...texts.get(id)!, label: (mean >= 4 ? 1 : 0) as 0 | 1, weight: 1 }];
      }),
    );
    expect(pull(naive)).toBeGreaterThan(1); // the attack works on a naive reading…
    expect(Math.abs(pull(defended) - pull(honest))).toBeLessThan(0.15); // …and not on the fair signal
  });
  it('rating after everyone else, it cannot fill the held-out set with its own poems: the split holds out a quarter of the evidence', () => {
    const { ratings, texts } = simulatedNight(300, 4);
    const withWine = loadTangCorpus().train.filter((p) => p.lines.join('').includes('酒'));
    withWine.slice(0, 120).forEach((p, k) => {
      const id = 10_000 + k;
      texts.set(id, { id, text: poemText(p.lines), form: p.form });
      ratings.push(rating(id, `brigade${k % 3}`, 5, 400 + k)); // after every honest rating
    });
    const scores = fairScores(ratings, [], { maxReaderShare: 0.05 });
    const brigadeOnly = (ids: number[]) => ids.every((id) => id >= 10_000);
    // a quarter of the poems: the brigade's poems alone, and nothing to measure a taste model on
    const byPoems = splitByTime(ratings, 0.25);
    expect(brigadeOnly(byPoems.test)).toBe(true);
    // a quarter of the evidence: the honest readers' last poems are held out too, liked and disliked
    const byWeight = splitByTime(ratings, 0.25, (id) => {
      const p = scores.poems.get(id);
      return p ? exampleWeight(p) : 0;
    });
    const honestHeldOut = byWeight.test.filter((id) => id < 10_000);
    expect(honestHeldOut.length).toBeGreaterThan(30);
    const labels = new Set(tasteExamples(scores, texts, honestHeldOut).map((e) => e.label));
    expect([...labels].sort()).toEqual([0, 1]);
    expect(byWeight.train.length + byWeight.test.length).toBe(texts.size);
  });
});

describe('the taste model', () => {
  it('learns a taste from noisy readers: its AUC on later poems is high, and ranks unseen liked poems first', () => {
    const { ratings, texts, liked } = simulatedNight(400, 1);
    const scores = fairScores(ratings, [], { maxReaderShare: 0.2 });
    const { train, test } = splitByTime(ratings, 0.25);
    const model = TasteModel.train(tasteExamples(scores, texts, train));
    const heldOut = tasteExamples(scores, texts, test);
    expect(model.auc(heldOut)!).toBeGreaterThan(0.7); // (against noisy labels: a quarter of the ratings are random)
    // against the readers' own taste on poems nobody rated
    const unseen = loadTangCorpus().train.slice(5000, 5300);
    const truth = unseen.map((p) => ({ score: model.score(poemText(p.lines), p.form).conservative, label: (liked(poemText(p.lines)) ? 1 : 0) as 0 | 1 }));
    expect(rocAuc(truth)!).toBeGreaterThan(0.85);
  });

  it('is unsure of what it has barely seen: the conservative score sits below the mean', () => {
    const { ratings, texts } = simulatedNight(60, 2);
    const model = TasteModel.train(tasteExamples(fairScores(ratings, [], { maxReaderShare: 1 }), texts));
    const s = model.score('月落烏啼霜滿天，江楓漁火對愁眠。', 'qijue');
    expect(s.spread).toBeGreaterThan(0);
    expect(s.conservative).toBeLessThan(s.mean);
  });

  it('learns from 🔄 pairs alone: the kept poem over the replaced one', () => {
    const poems = loadTangCorpus().train.slice(200, 400);
    const withMoon = poems.filter((p) => p.lines.join('').includes('月'));
    const without = poems.filter((p) => !p.lines.join('').includes('月'));
    const pairs = withMoon.map((p, k) => ({
      kept: { text: poemText(p.lines), form: p.form },
      replaced: { text: poemText(without[k]!.lines), form: without[k]!.form },
      weight: 1,
    }));
    const model = TasteModel.train([], pairs);
    expect(model.score('明月', 'wujue').mean).toBeGreaterThan(model.score('白日', 'wujue').mean);
  });

  it('is deterministic for its seed, and refuses a damaged file', () => {
    const { ratings, texts } = simulatedNight(100, 3);
    const examples: TasteExample[] = tasteExamples(fairScores(ratings, [], { maxReaderShare: 1 }), texts);
    const a = TasteModel.train(examples, [], { seed: 5, version: 't1' });
    const b = TasteModel.train(examples, [], { seed: 5, version: 't1' });
    expect(b.file.members).toEqual(a.file.members);
    const dir = tempDir();
    const json = a.toJSON();
    writeFileSync(join(dir, 'taste.json'), json);
    expect(TasteModel.load(join(dir, 'taste.json'), TasteModel.sha256(json)).score('月', 'wujue')).toEqual(a.score('月', 'wujue'));
    writeFileSync(join(dir, 'taste.json'), json.replace('"kappa":1', '"kappa":0'));
    expect(() => TasteModel.load(join(dir, 'taste.json'), TasteModel.sha256(json))).toThrow(/damaged/);
  });
});
