/**
 * The sampler: temperature, then top-k, then top-p (nucleus), over the ids a position allows. Shared by the
 * poem writer (generate.ts) and the couplet decoder.
 */
import prand from 'pure-rand';
import { nativeTopK } from '../../kernels/native-kernels.js';

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
  const k = Math.min(opts.topK, allowed.length);
  const ids = new Int32Array(k);
  const values = new Float64Array(k).fill(-Infinity);
  const native = nativeTopK();
  const count =
    native && allowed instanceof Int32Array
      ? native(logits, allowed, skip?.banned ?? null, skip?.except ?? -1, k, ids, values)
      : topK(logits, allowed, skip, k, ids, values);
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

/**
 * The k best allowed ids that are not banned, into ids/values, best first (ties in the order of `allowed`);
 * returns how many. One pass over the allowed ids into a small sorted array, no sort of the whole
 * vocabulary. The native kernels (kernels/x86/poem-kernels.c) do the same pass with the same comparisons, where built.
 */
export function topK(
  logits: Float32Array,
  allowed: ArrayLike<number>,
  skip: { banned: Uint8Array; except?: number } | undefined,
  k: number,
  ids: Int32Array,
  values: Float64Array,
): number {
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
  return count;
}
