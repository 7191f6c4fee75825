/**
 * Training batches: poems as token sequences, bucketed by length (every regular form has one length, so a
 * bucket is a form and batches carry no padding), about `batchTokens` tokens each, in seeded random order.
 */
import prand from 'pure-rand';
import type { Poem } from '../../verse/corpus.js';
import type { Batch } from '../network.js';
import { PAD, type Vocab } from '../../verse/vocab.js';

/** a poem to train on, and how much its tokens count (rated poems weigh more in a fine-tune) */
export type Example = { poem: Poem; weight: number };

export type Sequence = { ids: number[]; weight: number };

/** Time-major batch of equal-length sequences; the first target (the given form token) is not scored. */
export function toBatch(seqs: Sequence[]): Batch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.ids.length)) - 1;
  const batch: Batch = { inputs: new Int32Array(T * B), targets: new Int32Array(T * B), weights: new Float32Array(T * B), T, B };
  seqs.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      const k = t * B + b;
      batch.inputs[k] = s.ids[t] ?? PAD;
      batch.targets[k] = s.ids[t + 1] ?? PAD;
      batch.weights[k] = t === 0 || t + 1 >= s.ids.length ? 0 : s.weight;
    }
  });
  return batch;
}

function shuffle<T>(items: T[], rng: prand.RandomGenerator): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prand.unsafeUniformIntDistribution(0, i, rng);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** One epoch of batches: sequences bucketed by length, about `batchTokens` tokens each, in seeded random order. */
export function epochBatches(examples: Example[], vocab: Vocab, batchTokens: number, seed: number): Sequence[][] {
  const rng = prand.xoroshiro128plus(seed);
  const buckets = new Map<number, Sequence[]>();
  for (const { poem, weight } of examples) {
    const ids = vocab.encodePoem(poem);
    if (!buckets.has(ids.length)) buckets.set(ids.length, []);
    buckets.get(ids.length)!.push({ ids, weight });
  }
  const batches: Sequence[][] = [];
  for (const [length, seqs] of [...buckets].sort((a, b) => a[0] - b[0])) {
    shuffle(seqs, rng);
    const size = Math.max(1, Math.floor(batchTokens / (length - 1)));
    for (let i = 0; i < seqs.length; i += size) batches.push(seqs.slice(i, i + size));
  }
  return shuffle(batches, rng);
}
