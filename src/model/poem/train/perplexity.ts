/** Perplexity, as every figure in this project defines it, on the training engines' forward pass. */
import type { Checkpoint } from '../checkpoint.js';
import type { Poem } from '../../verse/corpus.js';
import { epochBatches } from './batches.js';
import { createEngine, type GradEngine } from './grad-engines.js';
import type { Vocab } from '../../verse/vocab.js';

export const PERPLEXITY_DEFINITION =
  'perplexity = exp(mean negative log-likelihood per predicted token) over all non-pad tokens of the poems: ' +
  'characters, the ，/。 after each line and the end token (the form token is given to the model, not predicted); ' +
  'content perplexity counts the characters only.';

export type PerplexityResult = { perplexity: number; contentPerplexity: number; tokens: number; contentTokens: number; poems: number };

export async function perplexity(engine: GradEngine, vocab: Vocab, poems: Poem[], batchTokens = 4096): Promise<PerplexityResult> {
  const batches = epochBatches(
    poems.map((poem) => ({ poem, weight: 1 })),
    vocab,
    batchTokens,
    0,
  );
  let nll = 0,
    tokens = 0,
    contentNll = 0,
    contentTokens = 0;
  for (const seqs of batches) {
    const r = await engine.run(seqs, { grads: false, perToken: true });
    r.batches.forEach((batch, k) => {
      const per = r.perToken![k]!;
      for (let i = 0; i < per.length; i++) {
        if (batch.weights[i] === 0) continue;
        nll += per[i]!;
        tokens++;
        if (batch.targets[i]! >= vocab.firstChar || batch.targets[i] === vocab.id('<unk>')) {
          contentNll += per[i]!;
          contentTokens++;
        }
      }
    });
  }
  return { perplexity: Math.exp(nll / tokens), contentPerplexity: Math.exp(contentNll / contentTokens), tokens, contentTokens, poems: poems.length };
}

/** Perplexity of a loaded checkpoint's weights on some poems (eval, export). */
export async function checkpointPerplexity(ck: Checkpoint, poems: Poem[], workers?: number): Promise<PerplexityResult> {
  const engine = await createEngine(ck.manifest.config.model, workers);
  try {
    for (const [name, p] of engine.params) p.set(ck.params.get(name)!);
    return await perplexity(engine, ck.vocab, poems);
  } finally {
    await engine.close();
  }
}
