/**
 * The training loop: teacher forcing on length-bucketed batches (batches.ts), gradient clipping, Adam /
 * SGD+momentum / Adagrad written out on plain arrays (optimizer.ts), data-parallel over worker threads
 * (grad-engines.ts; wasm runs one thread per worker), periodic atomic checkpoints and dev perplexity
 * (perplexity.ts). Resumes from any checkpoint.
 */
import { z } from 'zod';
import { epochBatches, type Example } from './batches.js';
import { loadCheckpoint, saveCheckpoint, type Manifest } from '../checkpoint.js';
import { SPLIT } from '../../verse/corpus.js';
import { createEngine } from './grad-engines.js';
import { countParams, type Dropout, initParams, type ModelConfig, type ModelParams } from '../network.js';
import { DEFAULT_LR, Optimizer, ParamOptimizer } from './optimizer.js';
import { perplexity } from './perplexity.js';
import type { TrainData } from './train-data.js';
import { Vocab } from '../../verse/vocab.js';

export { Optimizer };
export type { Example, TrainData };

export const TrainOptions = z.object({
  out: z.string(),
  from: z.string().optional(),
  epochs: z.number().positive().optional(),
  maxSteps: z.number().int().positive().optional(),
  maxMinutes: z.number().positive().optional(),
  optimizer: Optimizer.default('adam'),
  lr: z.number().positive().optional(),
  embedDim: z.number().int().positive().default(128),
  hiddenDim: z.number().int().positive().default(256),
  layers: z.number().int().min(1).max(2).default(1),
  /** a new model with tied input and output embeddings (model.ts); a checkpoint resumed keeps its own */
  tied: z.boolean().optional(),
  batchTokens: z.number().int().positive().default(3072),
  clip: z.number().positive().default(5),
  // Regularisation; each one not given is what the `from` checkpoint was trained with, else none.
  /** dropout rate on the embedding and the LSTM outputs while training */
  dropout: z.number().min(0).max(0.9).optional(),
  /** one dropout mask per sequence for all its steps (variational) instead of one per step */
  lockedDropout: z.boolean().optional(),
  /** weight-drop: the share of each recurrent matrix's entries dropped, one mask per batch (AWD-LSTM) */
  weightDrop: z.number().min(0).max(0.9).optional(),
  /** the share of characters dropped from the embedding, one mask per batch (AWD-LSTM) */
  embeddingDrop: z.number().min(0).max(0.9).optional(),
  minCount: z.number().int().positive().default(3),
  seed: z.number().int().default(1),
  workers: z.number().int().min(1).optional(),
  saveEveryMinutes: z.number().positive().default(10),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  evalDev: z.boolean().default(true),
  backend: z.string().optional(),
});
export type TrainOptions = z.input<typeof TrainOptions>;

export type Progress = {
  step: number;
  epoch: number;
  fraction: number;
  loss: number;
  tokensPerSecond: number;
  etaSeconds: number | null;
  tokensSeen: number;
};
export type TrainHooks = {
  onProgress?: (p: Progress) => void;
  onLog?: (message: string) => void;
  signal?: AbortSignal;
};

/**
 * A new model's output bias starts at the log unigram frequencies of the training tokens, so the first
 * steps are not spent learning how common each character is (Adam moves a bias by about lr per step: with
 * log-frequencies spanning ~10 nats that takes thousands of steps). Add-one smoothed.
 */
export function withUnigramBias(params: ModelParams, examples: Example[], vocab: Vocab): ModelParams {
  const counts = new Float64Array(vocab.size).fill(1);
  for (const { poem } of examples) for (const id of vocab.encodePoem(poem).slice(2)) counts[id]!++;
  const total = counts.reduce((a, b) => a + b, 0);
  const bias = params.get('out.b')!;
  for (let id = 0; id < vocab.size; id++) bias[id] = Math.log(counts[id]! / total);
  return params;
}

export async function train(options: TrainOptions, data: TrainData, hooks: TrainHooks = {}): Promise<Manifest> {
  const o = TrainOptions.parse(options);
  const log = hooks.onLog ?? (() => {});
  if (!o.epochs && !o.maxSteps && !o.maxMinutes) o.epochs = 1;

  const start = o.from ? loadCheckpoint(o.from, { optimizer: true }) : undefined;
  const vocab =
    start?.vocab ??
    Vocab.build(
      data.train.map((e) => e.poem),
      o.minCount,
    );
  if (start && o.tied && !start.manifest.config.model.tied)
    throw new Error(`tied embeddings are chosen when a model is made: ${o.from} has an output matrix of its own`);
  const config: ModelConfig = start?.manifest.config.model ?? {
    vocabSize: vocab.size,
    embedDim: o.embedDim,
    hiddenDim: o.hiddenDim,
    layers: o.layers,
    ...(o.tied ? { tied: true } : {}),
  };
  const engine = await createEngine(config, o.workers, o.backend);
  try {
    const initial = start?.params ?? withUnigramBias(initParams(config, o.seed), data.train, vocab);
    for (const [name, p] of engine.params) p.set(initial.get(name)!);
    const optimizer = await ParamOptimizer.create(o.optimizer, engine.params, start?.optimizerState);
    const lr0 = o.lr ?? DEFAULT_LR[o.optimizer];
    const state = start
      ? { ...start.manifest.training, history: [...start.manifest.training.history] }
      : { step: 0, epoch: 0, batchInEpoch: 0, tokensSeen: 0, seconds: 0, history: [] as Manifest['training']['history'] };
    log(
      `model: ${countParams(config).toLocaleString('en')} parameters, vocabulary ${vocab.size}, ${config.layers}×LSTM(${config.hiddenDim}), embedding ${config.embedDim}${config.tied ? ', tied to the output layer' : ''}`,
    );
    log(
      `data: ${data.train.length} training poems${data.split.stanzas ? ` (${data.split.stanzas} of them stanzas of irregular poems)` : ''}, ${data.dev.length} dev poems; optimizer ${o.optimizer} lr ${lr0}`,
    );

    const trainedWith = start?.manifest.config.training ?? {};
    const regularisation = {
      dropout: o.dropout ?? Number(trainedWith.dropout ?? 0),
      lockedDropout: o.lockedDropout ?? trainedWith.lockedDropout === true,
      weightDrop: o.weightDrop ?? Number(trainedWith.weightDrop ?? 0),
      embeddingDrop: o.embeddingDrop ?? Number(trainedWith.embeddingDrop ?? 0),
    };
    const r = regularisation;
    const dropout: Dropout = { rate: r.dropout, locked: r.lockedDropout, recurrent: r.weightDrop, embedding: r.embeddingDrop };
    const began = performance.now();
    const elapsedMinutes = () => (performance.now() - began) / 60000;
    let batches = epochBatches(data.train, vocab, o.batchTokens, o.seed + state.epoch);
    const stepsPerEpoch = batches.length;
    const firstStep = state.step;
    const firstEpochPos = state.epoch + state.batchInEpoch / stepsPerEpoch;
    const fraction = () =>
      Math.min(
        1,
        Math.max(
          o.maxSteps ? (state.step - firstStep) / o.maxSteps : 0,
          o.maxMinutes ? elapsedMinutes() / o.maxMinutes : 0,
          o.epochs ? (state.epoch + state.batchInEpoch / stepsPerEpoch - firstEpochPos) / o.epochs : 0,
        ),
      );
    let lossAverage = NaN;
    let windowTokens = 0,
      windowStart = performance.now(),
      tokensPerSecond = 0;
    let lastSave = performance.now();
    let parent = start?.manifest.version ?? null;
    let saved: Manifest | undefined;

    const save = async (final: boolean) => {
      const metrics = o.evalDev && data.dev.length > 0 ? await perplexity(engine, vocab, data.dev) : undefined;
      if (metrics) {
        log(`dev perplexity ${metrics.perplexity.toFixed(2)} (content ${metrics.contentPerplexity.toFixed(2)}) at step ${state.step}`);
        state.history.push({ step: state.step, loss: lossAverage, devPerplexity: metrics.perplexity });
      }
      saved = saveCheckpoint(o.out, {
        parent,
        vocab,
        params: engine.params,
        optimizerState: final && o.dtype === 'float16' ? undefined : optimizer.state,
        dtype: o.dtype,
        config: {
          model: config,
          training: {
            optimizer: o.optimizer,
            lr: lr0,
            batchTokens: o.batchTokens,
            clip: o.clip,
            ...regularisation,
            seed: o.seed,
            minCount: vocab.minCount,
          },
        },
        split: { ...SPLIT, ...data.split },
        metrics: { devPerplexity: metrics?.perplexity ?? null, devContentPerplexity: metrics?.contentPerplexity ?? null, devTokens: metrics?.tokens ?? null },
        training: { ...state, seconds: state.seconds + (performance.now() - began) / 1000 },
      });
      parent = saved.version; // a periodic save is the parent of the next one
      lastSave = performance.now();
    };

    while (fraction() < 1 && !hooks.signal?.aborted) {
      if (state.batchInEpoch >= batches.length) {
        state.epoch++;
        state.batchInEpoch = 0;
        batches = epochBatches(data.train, vocab, o.batchTokens, o.seed + state.epoch);
      }
      const seqs = batches[state.batchInEpoch]!;
      const r = await engine.run(seqs, { grads: true, dropout });
      // cosine decay to 10% of the initial rate over this run
      const lr = lr0 * (0.1 + 0.45 * (1 + Math.cos(Math.PI * fraction())));
      optimizer.step(engine.gradParts, r.weightSum, o.clip, lr);
      const loss = r.nllSum / r.weightSum;
      lossAverage = Number.isNaN(lossAverage) ? loss : 0.98 * lossAverage + 0.02 * loss;
      const tokens = seqs.reduce((n, s) => n + s.ids.length - 1, 0);
      state.step++;
      state.batchInEpoch++;
      state.tokensSeen += tokens;
      windowTokens += tokens;
      const now = performance.now();
      if (now - windowStart > 2000) {
        tokensPerSecond = windowTokens / ((now - windowStart) / 1000);
        windowTokens = 0;
        windowStart = now;
      }
      if (state.step % 50 === 0) state.history.push({ step: state.step, loss: lossAverage });
      const f = fraction();
      hooks.onProgress?.({
        step: state.step,
        epoch: state.epoch + state.batchInEpoch / stepsPerEpoch,
        fraction: f,
        loss: lossAverage,
        tokensPerSecond,
        etaSeconds: f > 0 ? (elapsedMinutes() * 60 * (1 - f)) / f : null,
        tokensSeen: state.tokensSeen,
      });
      if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${state.step} (loss ${loss}); try a lower --lr`);
      if ((now - lastSave) / 60000 > o.saveEveryMinutes) await save(false);
    }
    await save(true);
    return saved!;
  } finally {
    await engine.close();
  }
}
