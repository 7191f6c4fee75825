/** Shared fixtures: a tiny, randomly initialised checkpoint built from a slice of the real corpus. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpoint, type Manifest } from '../src/model/poem/checkpoint.js';
import { loadTangCorpus, SPLIT } from '../src/model/verse/corpus.js';
import { initParams, type ModelConfig } from '../src/model/poem/network.js';
import { Vocab } from '../src/model/verse/vocab.js';

export function tempDir(prefix = 'tangshi-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes an untrained checkpoint (vocabulary from the first `poems` training poems) and returns its path. */
export function makeTinyCheckpoint(
  opts: { hidden?: number; embed?: number; layers?: number; tied?: boolean; poems?: number; dtype?: 'float32' | 'float16'; dir?: string } = {},
): { dir: string; manifest: Manifest; vocab: Vocab } {
  const corpus = loadTangCorpus();
  const vocab = Vocab.build(corpus.train.slice(0, opts.poems ?? 3000), 2);
  const config: ModelConfig = {
    vocabSize: vocab.size,
    embedDim: opts.embed ?? 16, // with hidden 16: multiples of 16, so the LSTM runs kernels/x86/train-lstm.c where it is built
    hiddenDim: opts.hidden ?? 16,
    layers: opts.layers ?? 1,
    ...(opts.tied ? { tied: true } : {}),
  };
  const dir = opts.dir ?? join(tempDir(), 'checkpoint');
  const manifest = saveCheckpoint(dir, {
    parent: null,
    vocab,
    params: initParams(config, 7),
    dtype: opts.dtype,
    config: { model: config, training: {} },
    split: { ...SPLIT, trainPoems: corpus.train.length, devPoems: corpus.dev.length },
    metrics: { devPerplexity: null, devContentPerplexity: null, devTokens: null },
    training: { step: 0, epoch: 0, batchInEpoch: 0, tokensSeen: 0, seconds: 0, history: [] },
  });
  return { dir, manifest, vocab };
}

/** A small deterministic generator of numbers in [0, 1) (a linear congruential one: tests need repeatable inputs, not quality). */
export function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * A tiny checkpoint trained for `steps` steps (the gate compares a candidate's diversity with its base's:
 * an untrained model's random characters are no base to compare with).
 */
export async function makeTrainedTinyCheckpoint(dir: string, steps = 60): Promise<{ dir: string; manifest: Manifest }> {
  const { train } = await import('../src/model/poem/train/train.js');
  const { corpusTrainData } = await import('../src/model/poem/train/train-data.js');
  const untrained = makeTinyCheckpoint({ dir: `${dir}.untrained` });
  const manifest = await train({ from: untrained.dir, out: dir, maxSteps: steps, lr: 0.01, workers: 1, dtype: 'float16', evalDev: false }, corpusTrainData());
  return { dir, manifest };
}
