/**
 * Scoring lower lines against the corpus's own: BLEU-4 and the rules of a couplet (对仗), for the model
 * and two baselines.
 *
 * BLEU-4 here is corpus BLEU (Papineni et al. 2002) at the character level with one reference per line:
 * clipped n-gram precisions for n = 1…4 summed over the whole test split, their geometric mean with equal
 * weights, times the brevity penalty; smoothed as BLEU+1 (Lin & Och 2004): 1 added to the matches and the
 * total for n ≥ 2. A 5-character line has only two 4-grams, and a young model's lines matched none in a
 * thousand, which unsmoothed BLEU scores 0 whatever their 1- to 3-grams.
 */
import { clearTone } from '../verse/tones.js';
import { keyPositions } from './decode.js';
import type { Couplet } from './pairs.js';

function ngrams(chars: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = chars.slice(i, i + n).join('');
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  return counts;
}

/** Corpus BLEU-4 of `candidates` against `references` (one each), as a fraction in [0, 1]. */
export function bleu4(candidates: string[], references: string[]): number {
  const matched = [0, 0, 0, 0],
    total = [0, 0, 0, 0];
  let candidateLength = 0,
    referenceLength = 0;
  candidates.forEach((candidate, k) => {
    const c = [...candidate],
      r = [...references[k]!];
    candidateLength += c.length;
    referenceLength += r.length;
    for (let n = 1; n <= 4; n++) {
      const ref = ngrams(r, n);
      for (const [g, count] of ngrams(c, n)) matched[n - 1]! += Math.min(count, ref.get(g) ?? 0);
      total[n - 1]! += Math.max(0, c.length - n + 1);
    }
  });
  if (matched[0] === 0) return 0;
  const logPrecision = matched.reduce((s, m, i) => s + Math.log(i === 0 ? m / total[0]! : (m + 1) / (total[i]! + 1)), 0) / 4;
  const brevity = candidateLength >= referenceLength ? 1 : Math.exp(1 - referenceLength / candidateLength);
  return brevity * Math.exp(logPrecision);
}

/** Share of key positions (2nd, 4th, 6th, last) with opposite tones, among those where both tones are clear. */
export function toneOpposition(pairs: Couplet[]): number {
  let opposed = 0,
    checked = 0;
  for (const { upper, lower } of pairs) {
    const u = [...upper],
      l = [...lower];
    if (u.length !== l.length) continue;
    for (const k of keyPositions(u.length)) {
      const [a, b] = [clearTone(u[k]!), clearTone(l[k]!)];
      if (!a || !b) continue;
      checked++;
      if (a !== b) opposed++;
    }
  }
  return checked ? opposed / checked : NaN;
}

/** Share of lower lines that reuse no character of their upper line, beyond the upper line's own repeats. */
export function noReuse(pairs: Couplet[]): number {
  const ok = pairs.filter(({ upper, lower }) => {
    const u = [...upper],
      l = [...lower];
    return l.every((ch, k) => !u.includes(ch) || (u[k] === ch && u.indexOf(ch) !== u.lastIndexOf(ch)));
  });
  return pairs.length ? ok.length / pairs.length : NaN;
}

export type CoupletScore = { pairs: number; bleu4: number; tone_opposition: number; last_tone_opposed: number; no_reuse: number; same_length: number };

/** Every measure, for lower lines written for the test split's upper lines. */
export function scoreCouplets(test: Couplet[], written: string[]): CoupletScore {
  const pairs = test.map((t, k) => ({ upper: t.upper, lower: written[k]! }));
  const lastOpposed = pairs.filter(({ upper, lower }) => {
    const [a, b] = [clearTone([...upper].at(-1)!), clearTone([...lower].at(-1) ?? '')];
    return a && b && a !== b;
  }).length;
  const lastChecked = pairs.filter(({ upper, lower }) => clearTone([...upper].at(-1)!) && clearTone([...lower].at(-1) ?? '')).length;
  return {
    pairs: test.length,
    bleu4: bleu4(
      written,
      test.map((t) => t.lower),
    ),
    tone_opposition: toneOpposition(pairs),
    last_tone_opposed: lastChecked ? lastOpposed / lastChecked : NaN,
    no_reuse: noReuse(pairs),
    same_length: pairs.filter((p) => [...p.upper].length === [...p.lower].length).length / Math.max(1, pairs.length),
  };
}

/**
 * The retrieval baseline: the lower line of the most similar training upper line of the same length —
 * the most characters in the same places, then the most characters shared; the first such pair on a tie.
 */
export function retrievalBaseline(train: Couplet[]): (upper: string) => string {
  const byChar = new Map<string, number[]>();
  train.forEach((pair, k) => {
    for (const ch of new Set(pair.upper)) {
      const ks = byChar.get(ch);
      if (ks) ks.push(k);
      else byChar.set(ch, [k]);
    }
  });
  return (upper) => {
    const u = [...upper];
    const score = new Map<number, number>();
    for (const ch of new Set(u)) for (const k of byChar.get(ch) ?? []) score.set(k, (score.get(k) ?? 0) + 1);
    let best = -1,
      bestScore = -1;
    for (const [k, shared] of score) {
      const t = [...train[k]!.upper];
      if (t.length !== u.length) continue;
      const s = 100 * t.filter((ch, i) => ch === u[i]).length + shared;
      if (s > bestScore || (s === bestScore && k < best)) [best, bestScore] = [k, s];
    }
    return best >= 0 ? train[best]!.lower : train.find((p) => [...p.upper].length === u.length)!.lower;
  };
}
