/**
 * Couplets (对联) from the corpus: lines 3–4 (颔联) and 5–6 (颈联) of every 律诗 are parallel by rule.
 * The split follows the poem model's: a pair from a dev poem is never trained on. The dev poems' pairs are
 * halved by a second hash bit into dev (to choose a model) and test (to score it).
 */
import { createHash } from 'node:crypto';
import { loadSongPoems, loadTangCorpus, poemText, type Poem } from '../verse/corpus.js';

export type Couplet = { upper: string; lower: string };
export type CoupletSplits = { train: Couplet[]; dev: Couplet[]; test: Couplet[] };

export const COUPLET_SPLIT = {
  method: "lines 3–4 and 5–6 of each 律诗; train from the poem split's train poems; the dev poems' pairs to dev or test by bit 0 of sha256(poemText) byte 4",
};

const pairsOf = (poem: Poem): Couplet[] => [
  { upper: poem.lines[2]!, lower: poem.lines[3]! },
  { upper: poem.lines[4]!, lower: poem.lines[5]! },
];

const regulated = (p: Poem) => p.form === 'wulv' || p.form === 'qilv';
let cached: CoupletSplits | undefined;

/** The corpus's couplets by split (test pairs that also occur in train are dropped: they would score recall, not skill). */
export function loadCouplets(): CoupletSplits {
  if (cached) return cached;
  const corpus = loadTangCorpus();
  const train = corpus.train.filter(regulated).flatMap(pairsOf);
  const seen = new Set(train.map((c) => `${c.upper}|${c.lower}`));
  const dev: Couplet[] = [],
    test: Couplet[] = [];
  for (const poem of corpus.dev.filter(regulated)) {
    const toTest = createHash('sha256').update(poemText(poem.lines)).digest()[4]! % 2 === 1;
    for (const pair of pairsOf(poem)) if (!seen.has(`${pair.upper}|${pair.lower}`)) (toTest ? test : dev).push(pair);
  }
  cached = { train, dev, test };
  return cached;
}

/**
 * The middle couplets of the Song poets' 律诗 (全宋诗), as more training pairs. loadSongPoems already leaves out
 * every Song poem sharing a line with a Tang dev poem; a pair whose upper or lower line is one of the Tang dev
 * or test pairs' lines is left out too, so no scored line is ever trained on.
 */
export function loadSongCouplets(): Couplet[] {
  if (cachedSong) return cachedSong;
  const { dev, test } = loadCouplets();
  const scored = new Set([...dev, ...test].flatMap((p) => [p.upper, p.lower]));
  cachedSong = loadSongPoems()
    .filter(regulated)
    .flatMap(pairsOf)
    .filter((p) => !scored.has(p.upper) && !scored.has(p.lower));
  return cachedSong;
}
let cachedSong: Couplet[] | undefined;
