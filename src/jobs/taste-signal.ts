/**
 * Readers' ratings into a fair signal for the night's learning.
 *
 * - **Each reader's offset removed, few-rating poems shrunk** (Koren 2008's baseline predictor): stars ≈ μ +
 *   b_reader + b_poem, fitted by alternating ridge updates. b_poem is the poem's score: a harsh reader's 3 and a
 *   generous reader's 5 mean what they mean to each, and a poem with one rating is pulled towards 0.
 * - **A rating tells what it tells against its reader's other ratings**: a reader whose stars never vary (5 to
 *   everything) says nothing about which poems are better, and weighs accordingly: each reader's ratings weigh
 *   v / (v + ½), v the variance of their stars shrunk towards everyone's (2 ratings' worth), so one rating
 *   from a new reader still counts and a hundred fives count for little.
 * - **No reader steers the night**: every reader's ratings (and 🔄 replacements) together weigh at most
 *   `maxReaderShare` of the night's weight (more when there are fewer readers than 1 / share), their own weights
 *   scaled down. A handful of accounts rating hundreds of poems count as a handful of readers.
 * - **Liked and disliked both count**: a poem is liked when its score is above 0, disliked below; how much it
 *   counts grows with the weight of its ratings and how far its score is from 0.
 * - Held out by time: the poems first rated last are the taste model's test (AUC), never its training.
 */
import type { Form } from '../shared/verse.js';
import type { TasteExample, TastePair } from '../model/taste/taste-model.js';

export type StarRating = { poemId: number; userId: string; stars: number; at: Date };
/** `userId` asked for `replacedId`, asked for another (🔄) and got `keptId` */
export type Replacement = { keptId: number; replacedId: number; userId: string; at: Date };
export type RatedText = { id: number; text: string; form: Form };

export type SignalOptions = {
  /** the most one reader's ratings may weigh of the night's (READER_MAX_SHARE) */
  maxReaderShare: number;
  /** ridge shrinkage of a poem's and a reader's offset (in ratings' worth) */
  poemShrink?: number;
  readerShrink?: number;
};

/**
 * Per reader, the factor that scales each of their ratings so that no reader's total weight is more than
 * `maxShare` of everyone's (water-filling: the cap is a share of the capped total). With fewer readers than
 * 1 / maxShare the cap is an equal share each.
 */
export function readerWeights(countsByReader: Map<string, number>, maxShare: number): Map<string, number> {
  const readers = [...countsByReader.keys()];
  if (readers.length === 0) return new Map();
  const share = Math.max(maxShare, 1 / readers.length);
  let total = [...countsByReader.values()].reduce((a, b) => a + b, 0);
  for (let k = 0; k < 100; k++) {
    const next = readers.reduce((s, r) => s + Math.min(countsByReader.get(r)!, share * total), 0);
    if (Math.abs(next - total) < 1e-9 * total) break;
    total = next;
  }
  const cap = share * total;
  return new Map(readers.map((r) => [r, Math.min(1, cap / countsByReader.get(r)!)]));
}

/**
 * Per reader, how much their ratings can tell: v / (v + ½), v the variance of their stars shrunk towards the
 * variance of everyone's with the weight of `prior` ratings.
 */
export function readerInformativeness(ratings: StarRating[], prior = 2): Map<string, number> {
  const byReader = new Map<string, number[]>();
  for (const r of ratings) byReader.set(r.userId, [...(byReader.get(r.userId) ?? []), r.stars]);
  const all = ratings.map((r) => r.stars);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const overall = all.length > 1 ? all.reduce((s, x) => s + (x - mean(all)) ** 2, 0) / all.length : 1;
  return new Map(
    [...byReader].map(([reader, stars]) => {
      const m = mean(stars);
      const v = (stars.reduce((s, x) => s + (x - m) ** 2, 0) + prior * overall) / (stars.length + prior);
      return [reader, v / (v + 0.5)];
    }),
  );
}

export type FairScores = {
  mean: number;
  readerOffset: Map<string, number>;
  /** per poem: its score (b_poem), the weight of its ratings, and how many readers rated it */
  poems: Map<number, { score: number; weight: number; raters: number }>;
  /** per reader: the factor their ratings were scaled by */
  readerScale: Map<string, number>;
};

/** stars ≈ μ + b_reader + b_poem, weighted ridge, by alternating updates (each one exact given the other) */
export function fairScores(ratings: StarRating[], replacements: Replacement[], o: SignalOptions): FairScores {
  const counts = new Map<string, number>();
  for (const r of ratings) counts.set(r.userId, (counts.get(r.userId) ?? 0) + 1);
  for (const p of replacements) counts.set(p.userId, (counts.get(p.userId) ?? 0) + 1);
  const readerScale = readerWeights(counts, o.maxReaderShare);
  const informative = readerInformativeness(ratings);
  const rows = ratings.map((r) => ({ ...r, w: readerScale.get(r.userId)! * informative.get(r.userId)! }));
  const totalWeight = rows.reduce((s, r) => s + r.w, 0);
  const mean = totalWeight > 0 ? rows.reduce((s, r) => s + r.w * r.stars, 0) / totalWeight : 0;
  const [lp, lu] = [o.poemShrink ?? 2, o.readerShrink ?? 3];
  type Row = (typeof rows)[number];
  /** per key, the weighted mean of the residuals, shrunk towards 0 by `shrink` ratings' worth */
  const shrunkMeans = <K>(key: (r: Row) => K, residual: (r: Row) => number, shrink: number) => {
    const sums = new Map<K, [number, number]>();
    for (const r of rows) {
      const s = sums.get(key(r)) ?? [0, 0];
      s[0] += r.w * residual(r);
      s[1] += r.w;
      sums.set(key(r), s);
    }
    return new Map([...sums].map(([k, [sum, w]]) => [k, sum / (shrink + w)]));
  };
  let bPoem = new Map<number, number>();
  let bReader = new Map<string, number>();
  for (let it = 0; it < 20; it++) {
    bPoem = shrunkMeans(
      (r) => r.poemId,
      (r) => r.stars - mean - (bReader.get(r.userId) ?? 0),
      lp,
    );
    bReader = shrunkMeans(
      (r) => r.userId,
      (r) => r.stars - mean - (bPoem.get(r.poemId) ?? 0),
      lu,
    );
  }
  const poems = new Map<number, { score: number; weight: number; raters: number }>();
  for (const r of rows) {
    const p = poems.get(r.poemId) ?? { score: bPoem.get(r.poemId)!, weight: 0, raters: 0 };
    p.weight += r.w;
    p.raters++;
    poems.set(r.poemId, p);
  }
  return { mean, readerOffset: bReader, poems, readerScale };
}

/** what a scored poem weighs as an example: its ratings' weight times how clear its score is */
export function exampleWeight(p: { score: number; weight: number }): number {
  return p.weight * Math.min(1, Math.abs(p.score) / 0.5);
}

/**
 * The taste model's examples from the fair scores: liked (score > 0) or disliked (< 0), each weighing its
 * ratings' weight times how clear its score is (a poem near 0 says little either way). Poems whose text is
 * unknown (deleted) are left out.
 */
export function tasteExamples(scores: FairScores, texts: Map<number, RatedText>, ids: Iterable<number> = scores.poems.keys()): TasteExample[] {
  const examples: TasteExample[] = [];
  for (const id of ids) {
    const p = scores.poems.get(id);
    const poem = texts.get(id);
    if (!p || !poem || p.score === 0) continue;
    examples.push({ text: poem.text, form: poem.form, label: p.score > 0 ? 1 : 0, weight: exampleWeight(p) });
  }
  return examples;
}

/** 🔄 pairs as the taste model's preferences, each weighing its reader's scale */
export function tastePairs(replacements: Replacement[], scores: FairScores, texts: Map<number, RatedText>): TastePair[] {
  return replacements.flatMap((p) => {
    const [kept, replaced] = [texts.get(p.keptId), texts.get(p.replacedId)];
    return kept && replaced ? [{ kept, replaced, weight: scores.readerScale.get(p.userId) ?? 1 }] : [];
  });
}

/**
 * The rated poems split by time: the poems first rated last are held out (the taste model's test), the rest
 * train it. Held out: the share `heldOut` of the poems, or, with `weightOf` (what each poem weighs in the
 * night's signal), of their weight — so poems that weigh next to nothing (a brigade's, rated after everyone
 * else) cannot make up the held-out set on their own. Returns the poem ids of each part.
 */
export function splitByTime(ratings: StarRating[], heldOut: number, weightOf?: (poemId: number) => number): { train: number[]; test: number[] } {
  const first = new Map<number, number>();
  for (const r of ratings) first.set(r.poemId, Math.min(first.get(r.poemId) ?? Number.POSITIVE_INFINITY, r.at.getTime()));
  const ordered = [...first].sort((a, b) => a[1] - b[1] || a[0] - b[0]).map(([id]) => id);
  let cut = Math.round(ordered.length * (1 - heldOut));
  if (weightOf) {
    const total = ordered.reduce((sum, id) => sum + weightOf(id), 0);
    let tail = 0;
    for (cut = ordered.length; cut > 0 && tail < heldOut * total; ) tail += weightOf(ordered[--cut]!);
  }
  return { train: ordered.slice(0, cut), test: ordered.slice(cut) };
}

/** Two disjoint halves of the rated poems by a hash of their id: the policy learns from one, the gate's judge from the other. */
export function halves(ids: Iterable<number>): { a: number[]; b: number[] } {
  const a: number[] = [];
  const b: number[] = [];
  for (const id of ids) (Math.imul(id, 2654435761) >>> 31 === 0 ? a : b).push(id);
  return { a, b };
}
