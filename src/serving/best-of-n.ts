/**
 * Best-of-n when serving: a /poem is written as n candidates in the same batched steps, every one keeping the
 * rules, and the one the taste model scores best is served (by its conservative score: a candidate is chosen
 * for what readers clearly liked, not for what the model is unsure of). Candidate 0 is the request's own seed,
 * so with n = 1 (BEST_OF_N=1, no taste model, or a full batch) a seed gives the poem it always gave; for a
 * given n and taste model, the same seed gives the same poem.
 */
import type { TasteModel } from '../model/taste/taste-model.js';
import type { Form } from '../shared/verse.js';

/** the seeds of n candidates: the request's own first, then ones drawn from it (distinct, repeatable) */
export function candidateSeeds(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, k) => (k === 0 ? seed : (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + k * 0x6a09e667) | 0));
}

/**
 * How many candidates a request gets: `bestOf` while the batch has room for them, fewer as it fills (each
 * waiting request keeps a place), 1 under a burst, so a burst is written as fast as without best-of-n.
 */
export function candidatesNow(bestOf: number, free: number, waiting: number): number {
  return Math.max(1, Math.min(bestOf, Math.floor(free / Math.max(1, waiting))));
}

/** the index of the candidate to serve: the best conservative score (the first on a tie) */
export function chooseCandidate(candidates: { text: string; form: Form }[], taste: TasteModel): { index: number; score: number } {
  let best = { index: 0, score: Number.NEGATIVE_INFINITY };
  candidates.forEach((c, index) => {
    const score = taste.score(c.text, c.form).conservative;
    if (score > best.score) best = { index, score };
  });
  return best;
}
