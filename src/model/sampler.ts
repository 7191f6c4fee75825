/**
 * The sampler: temperature, then top-k, then top-p (nucleus), over the ids a position allows. Shared by the
 * poem writer (generate.ts) and the couplet decoder.
 */
import prand from 'pure-rand';

/** Temperature, then top-k, then top-p (nucleus) sampling over the allowed ids only. */
export function sample(
  logits: Float32Array,
  allowed: ArrayLike<number>,
  opts: { temperature: number; topK: number; topP: number },
  rng: prand.RandomGenerator,
  /** ids to pass over (banned[id] = 1) but `except`; if that leaves none, none is passed over */
  skip?: { banned: Uint8Array; except?: number },
): number {
  if (allowed.length === 0) throw new Error('sampler: no token is allowed here');
  // Keep the k best in a small sorted array: one pass over the allowed ids, no sort of the whole vocabulary.
  const k = Math.min(opts.topK, allowed.length);
  const ids = new Int32Array(k);
  const values = new Float64Array(k).fill(-Infinity);
  let count = 0;
  let floor = -Infinity; // the k-th best so far, once k are kept
  for (let a = 0; a < allowed.length; a++) {
    const id = allowed[a]!;
    const v = logits[id]!;
    if (v <= floor || (skip?.banned[id] && id !== skip.except)) continue;
    let j = count < k ? count++ : k - 1;
    while (j > 0 && values[j - 1]! < v) {
      values[j] = values[j - 1]!;
      ids[j] = ids[j - 1]!;
      j--;
    }
    values[j] = v;
    ids[j] = id;
    if (count === k) floor = values[k - 1]!;
  }
  if (count === 0) return sample(logits, allowed, opts, rng); // every allowed id was banned
  const weights = Array.from(values.subarray(0, count), (v) => Math.exp((v - values[0]!) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = 0,
    mass = 0;
  while (kept < count && mass < opts.topP * total) mass += weights[kept++]!;
  const r = (prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x80000000) * mass;
  let acc = 0;
  for (let j = 0; j < kept; j++) {
    acc += weights[j]!;
    if (acc > r) return ids[j]!;
  }
  return ids[kept - 1]!;
}
