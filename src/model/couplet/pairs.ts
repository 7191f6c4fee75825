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
  method:
    "lines 3–4 and 5–6 of each 律诗; train from the poem split's train poems; the dev poems' pairs to dev or test by bit 0 of sha256(poemText) byte 4, less those within 2 characters of a training pair",
};

/**
 * Two couplets that differ in at most this many of their 10 or 14 characters are one couplet: the corpus
 * holds many poems twice, in editions a variant character or two apart (胷/胸, 戟/戢, 嗁/啼).
 */
export const EDITION_DIFFERENCES = 2;

/** Whether a pair is one of `pairs` but for at most EDITION_DIFFERENCES characters (the same couplet in another edition). */
export function copyOfOne(pairs: Couplet[]): (pair: Couplet) => boolean {
  // two such couplets share a line that differs in at most one character: index each line with each character masked
  const masked = (role: string, line: string) => {
    const chars = [...line];
    return chars.map((_, i) => `${role}${chars.map((ch, j) => (i === j ? '?' : ch)).join('')}`);
  };
  const index = new Map<string, number[]>();
  pairs.forEach((p, k) => {
    for (const key of [...masked('u', p.upper), ...masked('l', p.lower)]) {
      const ks = index.get(key);
      if (ks) ks.push(k);
      else index.set(key, [k]);
    }
  });
  const differences = (a: Couplet, b: Couplet) => {
    const x = [...a.upper, ...a.lower],
      y = [...b.upper, ...b.lower];
    return x.length === y.length ? x.filter((ch, i) => ch !== y[i]).length : Infinity;
  };
  return (pair) =>
    [...masked('u', pair.upper), ...masked('l', pair.lower)].some((key) =>
      (index.get(key) ?? []).some((k) => differences(pairs[k]!, pair) <= EDITION_DIFFERENCES),
    );
}

const pairsOf = (poem: Poem): Couplet[] => [
  { upper: poem.lines[2]!, lower: poem.lines[3]! },
  { upper: poem.lines[4]!, lower: poem.lines[5]! },
];

const regulated = (p: Poem) => p.form === 'wulv' || p.form === 'qilv';
let cached: CoupletSplits | undefined;

/**
 * The corpus's couplets by split. Dev and test pairs that are a training pair, in this edition or another
 * (copyOfOne), are dropped: they would score recall, not skill.
 */
export function loadCouplets(): CoupletSplits {
  if (cached) return cached;
  const corpus = loadTangCorpus();
  const train = corpus.train.filter(regulated).flatMap(pairsOf);
  const trained = copyOfOne(train);
  const dev: Couplet[] = [],
    test: Couplet[] = [];
  for (const poem of corpus.dev.filter(regulated)) {
    const toTest = createHash('sha256').update(poemText(poem.lines)).digest()[4]! % 2 === 1;
    for (const pair of pairsOf(poem)) if (!trained(pair)) (toTest ? test : dev).push(pair);
  }
  cached = { train, dev, test };
  return cached;
}

/**
 * The middle couplets of the Song poets' 律诗 (全宋诗), as more training pairs. loadSongPoems already leaves out
 * every Song poem sharing a line with a Tang dev poem; a pair whose upper or lower line is one of the Tang dev
 * or test pairs' lines, or that is one of those pairs in another edition, is left out too, so nothing scored is
 * ever trained on.
 */
export function loadSongCouplets(): Couplet[] {
  if (cachedSong) return cachedSong;
  const { dev, test } = loadCouplets();
  const scored = new Set([...dev, ...test].flatMap((p) => [p.upper, p.lower]));
  const scoredCopy = copyOfOne([...dev, ...test]);
  cachedSong = loadSongPoems()
    .filter(regulated)
    .flatMap(pairsOf)
    .filter((p) => !scored.has(p.upper) && !scored.has(p.lower) && !scoredCopy(p));
  return cachedSong;
}
let cachedSong: Couplet[] | undefined;
