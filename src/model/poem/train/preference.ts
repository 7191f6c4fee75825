/**
 * Learning from readers' preferences, as batches a training run interleaves with its corpus batches (the
 * corpus replay keeps the verse Tang). Two objectives:
 *
 * - **chosen** (RAFT / ReST, one grow step: Dong et al. 2023, Gulcehre et al. 2023): the model's own poems that
 *   a taste model ranked best, trained on by likelihood. Each batch's loss is the mean over its tokens.
 * - **KTO** (Ethayarajh et al. 2024) on poems readers liked and disliked, unpaired: with r = β·log π(y)/π_ref(y)
 *   (π_ref the model the night started from, frozen) and z₀ the batch's estimate of KL(π‖π_ref) (here the
 *   mean of r over the batch, floored at 0, held constant), a liked poem's loss is λ_D·(1 − σ(r − z₀)) and a
 *   disliked one's λ_U·(1 − σ(z₀ − r)). Its gradient is a weighted sum of the poems' negative log-likelihood
 *   gradients, c·∇(−log π(y)) with c = −λ·s·β·σ'(s·(r − z₀)) per poem (s = +1 liked, −1 disliked), so one extra
 *   forward pass a batch (for r) lets the training engine's own weighted backward pass do the rest. λ_D·n_D
 *   and λ_U·n_U are balanced (HALOs' default range [1, 4/3]: here 1). The loss is a mean over poems.
 */
import prand from 'pure-rand';
import type { Poem } from '../../verse/corpus.js';
import type { Vocab } from '../../verse/vocab.js';
import type { Sequence } from './batches.js';
import type { GradEngine } from './grad-engines.js';

/** a poem to learn from: liked (+1) or disliked (−1), and how much it counts */
export type PreferenceExample = { poem: Poem; sign: 1 | -1; weight: number };

/** A source of preference batches: each with its weights and the number the gradient sum is divided by. */
export type Objective = {
  name: string;
  batch(engine: GradEngine): Promise<{ seqs: Sequence[]; normalizer: number; stats?: Record<string, number> }>;
};

/** Batches of same-length sequences drawn at random, about `batchTokens` tokens each (a bucket chosen by its size). */
function sampler<T extends { ids: number[] }>(items: T[], batchTokens: number, seed: number): () => T[] {
  const rng = prand.xoroshiro128plus(seed);
  const buckets = new Map<number, T[]>();
  for (const item of items) buckets.set(item.ids.length, [...(buckets.get(item.ids.length) ?? []), item]);
  const all = [...buckets.values()];
  return () => {
    // a bucket with the chance of its share of the items
    let pick = prand.unsafeUniformIntDistribution(0, items.length - 1, rng);
    let bucket = all[0]!;
    for (bucket of all) {
      if (pick < bucket.length) break;
      pick -= bucket.length;
    }
    const size = Math.max(1, Math.min(bucket.length, Math.floor(batchTokens / (bucket[0]!.ids.length - 1))));
    const chosen = new Set<number>();
    while (chosen.size < size) chosen.add(prand.unsafeUniformIntDistribution(0, bucket.length - 1, rng));
    return [...chosen].map((k) => bucket[k]!);
  };
}

/** likelihood on chosen poems (RAFT's fine-tune step) */
export function chosenObjective(poems: Poem[], vocab: Vocab, o: { batchTokens: number; seed: number }): Objective {
  const next = sampler(
    poems.map((poem) => ({ ids: vocab.encodePoem(poem) })),
    o.batchTokens,
    o.seed,
  );
  return {
    name: 'chosen',
    async batch() {
      const seqs = next().map((s) => ({ ids: s.ids, weight: 1 }));
      return { seqs, normalizer: seqs.reduce((n, s) => n + s.ids.length - 2, 0) };
    },
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** each sequence's negative log-likelihood (the form token given, as everywhere) under the engine's weights now */
async function sequenceNll(engine: GradEngine, seqs: Sequence[]): Promise<number[]> {
  const r = await engine.run(
    seqs.map((s) => ({ ids: s.ids, weight: 1 })),
    { grads: false, perToken: true },
  );
  // the engine splits the rows over its workers in order: batch k holds the next rows, time-major
  const nll: number[] = [];
  r.batches.forEach((batch, k) => {
    const per = r.perToken![k]!;
    const sums = new Array<number>(batch.B).fill(0);
    for (let i = 0; i < per.length; i++) if (batch.weights[i]! > 0) sums[i % batch.B]! += per[i]!;
    nll.push(...sums);
  });
  return nll;
}

/**
 * KTO on rated poems. `reference`: each poem's negative log-likelihood under π_ref, measured by the caller with
 * the engine's starting weights (referenceNll), in the examples' order.
 */
export function ktoObjective(
  examples: PreferenceExample[],
  reference: number[],
  vocab: Vocab,
  o: { beta: number; batchTokens: number; seed: number },
): Objective {
  const liked = examples.filter((e) => e.sign > 0).reduce((n, e) => n + e.weight, 0);
  const disliked = examples.filter((e) => e.sign < 0).reduce((n, e) => n + e.weight, 0);
  // λ_D·n_D = λ_U·n_U
  const lambda = { liked: 1, disliked: disliked > 0 ? liked / disliked || 1 : 1 };
  const items = examples.map((e, k) => ({ ids: vocab.encodePoem(e.poem), sign: e.sign, weight: e.weight, ref: reference[k]! }));
  const next = sampler(items, o.batchTokens, o.seed);
  return {
    name: 'kto',
    async batch(engine) {
      const picked = next();
      const nll = await sequenceNll(
        engine,
        picked.map((p) => ({ ids: p.ids, weight: 1 })),
      );
      const r = picked.map((p, k) => o.beta * (p.ref - nll[k]!)); // β·(log π − log π_ref)
      const z0 = Math.max(0, r.reduce((a, b) => a + b, 0) / r.length);
      const seqs = picked.map((p, k) => {
        const s = p.sign;
        const sig = sigmoid(s * (r[k]! - z0));
        const lam = s > 0 ? lambda.liked : lambda.disliked;
        // the weight on −∇log π(y), i.e. on ∇NLL: λ·s·β·σ'(·)·w (a liked poem's NLL is pushed down, a disliked one's up)
        return { ids: p.ids, weight: lam * s * o.beta * sig * (1 - sig) * p.weight };
      });
      const loss = picked.reduce((sum, p, k) => sum + (p.sign > 0 ? lambda.liked : lambda.disliked) * (1 - sigmoid(p.sign * (r[k]! - z0))) * p.weight, 0);
      const normalizer = picked.reduce((n, p) => n + p.weight, 0);
      return { seqs, normalizer, stats: { ktoLoss: loss / normalizer, z0, rewardMean: r.reduce((a, b) => a + b, 0) / r.length } };
    },
  };
}

/** Each example's negative log-likelihood under the engine's weights now (π_ref, before training starts). */
export async function referenceNll(engine: GradEngine, examples: PreferenceExample[], vocab: Vocab, batchTokens = 4096): Promise<number[]> {
  const seqs = examples.map((e) => ({ ids: vocab.encodePoem(e.poem), weight: 1 }));
  const out = new Array<number>(seqs.length);
  // same-length groups, as the engine wants them
  const byLength = new Map<number, number[]>();
  seqs.forEach((s, k) => byLength.set(s.ids.length, [...(byLength.get(s.ids.length) ?? []), k]));
  for (const [length, idx] of byLength) {
    const size = Math.max(1, Math.floor(batchTokens / (length - 1)));
    for (let i = 0; i < idx.length; i += size) {
      const part = idx.slice(i, i + size);
      const nll = await sequenceNll(
        engine,
        part.map((k) => seqs[k]!),
      );
      part.forEach((k, j) => (out[k] = nll[j]!));
    }
  }
  return out;
}
