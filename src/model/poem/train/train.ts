/**
 * The training loop: teacher forcing on length-bucketed batches (batches.ts), gradient clipping, Adam /
 * SGD+momentum / Adagrad written out on plain arrays (optimizer.ts), data-parallel over worker threads
 * (grad-engines.ts; wasm runs one thread per worker), periodic atomic checkpoints and dev perplexity
 * (perplexity.ts). Resumes from any checkpoint.
 */
import { z } from 'zod';
import { epochBatches, type Example } from './batches.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { copyCheckpoint, loadCheckpoint, saveCheckpoint, type Manifest } from '../checkpoint.js';
import { SPLIT } from '../../verse/corpus.js';
import { createEngine } from './grad-engines.js';
import { countParams, type Dropout, initParams, type ModelConfig, type ModelParams } from '../network.js';
import { DEFAULT_LR, Optimizer, ParamOptimizer } from './optimizer.js';
import { perplexity } from './perplexity.js';
import type { Objective } from './preference.js';
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
  layers: z.number().int().min(1).max(3).default(1),
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
  /**
   * Weight averaging (SWA; AWD-LSTM's averaged SGD): from this fraction of the run's budget on, keep the mean
   * of the weights after every step, and measure it beside the weights themselves at each save.
   */
  averageFrom: z.number().min(0).max(1).optional(),
  /**
   * A float16 copy of the best weights seen on dev (the iterate or its average), replaced each time a save
   * beats it: the small snapshot a long run commits, to survive a lost machine (resumable with `--from`).
   */
  snapshot: z.string().optional(),
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
  /**
   * Learning from readers (preference.ts): this share of the steps trains on the objective's batches instead
   * of the corpus's, evenly spaced, so the corpus batches between them replay the Tang verse.
   */
  preference?: { objective: Objective; share: number; onStats?: (stats: Record<string, number>) => void };
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
    // the running mean of the weights since `averageFrom` (SWA), and how many steps it holds
    const average = new Map([...engine.params].map(([name, p]) => [name, new Float32Array(p.length)]));
    let averaged = 0;
    const snapshotBest = o.snapshot && existsSync(join(o.snapshot, 'manifest.json')) ? loadCheckpoint(o.snapshot).manifest.metrics.devPerplexity : null;
    let best = { perplexity: snapshotBest ?? Number.POSITIVE_INFINITY };

    /** dev perplexity of the averaged weights (swapped into the engine and back) */
    const averagePerplexity = async () => {
      const own = new Map([...engine.params].map(([name, p]) => [name, p.slice()]));
      for (const [name, p] of engine.params) p.set(average.get(name)!);
      try {
        return await perplexity(engine, vocab, data.dev);
      } finally {
        for (const [name, p] of engine.params) p.set(own.get(name)!);
      }
    };

    const save = async (final: boolean) => {
      const metrics = o.evalDev && data.dev.length > 0 ? await perplexity(engine, vocab, data.dev) : undefined;
      if (metrics) {
        log(`dev perplexity ${metrics.perplexity.toFixed(2)} (content ${metrics.contentPerplexity.toFixed(2)}) at step ${state.step}`);
        state.history.push({ step: state.step, loss: lossAverage, devPerplexity: metrics.perplexity });
      }
      const averageMetrics = metrics && averaged > 0 ? await averagePerplexity() : undefined;
      if (averageMetrics) log(`dev perplexity of the weights averaged over the last ${averaged} steps ${averageMetrics.perplexity.toFixed(2)}`);
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
      // the snapshot: the better of the iterate and its average, when it beats the best so far
      const candidate =
        averageMetrics && averageMetrics.perplexity < metrics!.perplexity
          ? { m: averageMetrics, params: average }
          : metrics && { m: metrics, params: engine.params };
      if (o.snapshot && candidate && candidate.m.perplexity < best.perplexity) {
        best = { perplexity: candidate.m.perplexity };
        const written = loadCheckpoint(o.out);
        const params = new Map([...candidate.params].map(([name, p]) => [name, p.slice()]));
        copyCheckpoint({ ...written, params }, o.snapshot, {
          dtype: 'float16',
          metrics: { devPerplexity: candidate.m.perplexity, devContentPerplexity: candidate.m.contentPerplexity, devTokens: candidate.m.tokens },
        });
        log(`snapshot ${o.snapshot}: dev perplexity ${candidate.m.perplexity.toFixed(2)}${candidate.params === average ? ' (averaged weights)' : ''}, float16`);
      }
    };

    while (fraction() < 1 && !hooks.signal?.aborted) {
      if (state.batchInEpoch >= batches.length) {
        state.epoch++;
        state.batchInEpoch = 0;
        batches = epochBatches(data.train, vocab, o.batchTokens, o.seed + state.epoch);
      }
      // cosine decay to 10% of the initial rate over this run
      const lr = lr0 * (0.1 + 0.45 * (1 + Math.cos(Math.PI * fraction())));
      const preference = hooks.preference;
      if (preference && Math.floor((state.step + 1) * preference.share) > Math.floor(state.step * preference.share)) {
        // a preference step: the objective's batch, its own weights and divisor; the corpus position stays
        const b = await preference.objective.batch(engine);
        await engine.run(b.seqs, { grads: true, dropout });
        optimizer.step(engine.gradParts, b.normalizer, o.clip, lr);
        if (b.stats) preference.onStats?.(b.stats);
        state.step++;
        state.tokensSeen += b.seqs.reduce((n, s) => n + s.ids.length - 1, 0);
        if (!Number.isFinite(b.normalizer) || b.normalizer <= 0) throw new Error(`the ${preference.objective.name} batch at step ${state.step} has no weight`);
        continue;
      }
      const seqs = batches[state.batchInEpoch]!;
      const r = await engine.run(seqs, { grads: true, dropout });
      optimizer.step(engine.gradParts, r.weightSum, o.clip, lr);
      if (o.averageFrom !== undefined && fraction() >= o.averageFrom) {
        averaged++;
        for (const [name, p] of engine.params) {
          const mean = average.get(name)!;
          for (let i = 0; i < p.length; i++) mean[i]! += (p[i]! - mean[i]!) / averaged;
        }
      }
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
