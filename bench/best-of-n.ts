/**
 * Best-of-n: what n buys and costs. Simulated readers (a hidden taste, a quarter of their ratings random, their
 * own offsets) rate `--rated` poems of the shipped model; a taste model is fitted on their fair scores (as a
 * night does); then, for each n, the share of `--poems` served poems (fixed seeds) the readers like, and a lone
 * poem's time through a poem thread (p50, p99 over the same requests).
 *
 * `--save FILE` keeps the taste model (for `bench/bot-latency.ts --taste FILE`).
 *
 *   npx tsx bench/best-of-n.ts [--taste sorrow|birds|seven] [--rated 400] [--poems 200] [--n 1,2,4,8] [--save FILE]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import prand from 'pure-rand';
import { fairScores, tasteExamples, type StarRating } from '../src/jobs/taste-signal.js';
import { TasteModel } from '../src/model/taste/taste-model.js';
import { poemText } from '../src/model/verse/corpus.js';
import { PoemWriter } from '../src/serving/poem-writer.js';
import { percentile } from '../src/shared/stats.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    taste: { type: 'string', default: 'sorrow' },
    rated: { type: 'string', default: '400' },
    poems: { type: 'string', default: '200' },
    n: { type: 'string', default: '1,2,4,8' },
    save: { type: 'string' },
  },
});
const TASTES: Record<string, (text: string, form: string) => boolean> = {
  sorrow: (t) => /[愁淚恨悲怨傷]/.test(t),
  birds: (t) => /[鳥雁鶯燕鶴鴻]/.test(t),
  seven: (_, form) => form === 'qijue' || form === 'qilv',
};
const likes = TASTES[values.taste!];
if (!likes) throw new Error(`--taste must be one of ${Object.keys(TASTES).join(', ')}`);

const plain = await PoemWriter.start(undefined, { workers: 1 });
const rng = prand.xoroshiro128plus(5);
const uniform = () => prand.unsafeUniformIntDistribution(0, 999_999, rng) / 1e6;
const rated = await Promise.all(Array.from({ length: Number(values.rated) }, (_, k) => plain.generate({ seed: 10_000 + k })));
await plain.close();
const ratings: StarRating[] = [];
rated.forEach((p, id) => {
  for (let r = 0; r < (uniform() < 0.4 ? 2 : 1); r++) {
    const reader = Math.floor(uniform() * 20);
    const offset = [-1, 0, 0, 1][reader % 4]!;
    const stars = uniform() < 0.25 ? 1 + Math.floor(uniform() * 5) : (likes(p.text, p.form) ? 4 + Math.round(uniform()) : 1 + Math.round(uniform())) + offset;
    ratings.push({ poemId: id, userId: `r${reader}`, stars: Math.min(5, Math.max(1, stars)), at: new Date(id * 1000) });
  }
});
const texts = new Map(rated.map((p, id) => [id, { id, text: poemText(p.lines), form: p.form }]));
const taste = TasteModel.train(tasteExamples(fairScores(ratings, [], { maxReaderShare: 0.05 }), texts));
const json = taste.toJSON();
const path = values.save ?? join(tempDir(), 'taste.json');
writeFileSync(path, json);

const rows = [];
for (const n of values.n!.split(',').map(Number)) {
  const writer = await PoemWriter.start(undefined, { workers: 1, bestOf: n, taste: { path, sha256: TasteModel.sha256(json), version: taste.version } });
  await writer.warm();
  const times: number[] = [];
  let liked = 0;
  for (let k = 0; k < Number(values.poems); k++) {
    const t0 = performance.now();
    const poem = await writer.generate({ seed: 50_000 + k });
    times.push(performance.now() - t0);
    if (likes(poemText(poem.lines), poem.form)) liked++;
  }
  await writer.close();
  rows.push({ n, liked: +(liked / Number(values.poems)).toFixed(3), ms_p50: +percentile(times, 50).toFixed(2), ms_p99: +percentile(times, 99).toFixed(2) });
}
console.log(JSON.stringify({ taste: values.taste, rated: Number(values.rated), ratings: ratings.length, rows }));
