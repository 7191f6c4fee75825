/**
 * The training loop: teacher forcing on length-bucketed batches (every regular form has one length, so a
 * bucket is a form and batches carry no padding), gradient clipping, Adam / SGD+momentum / Adagrad written
 * out on plain arrays, data-parallel over worker threads (wasm runs one thread per worker), periodic
 * atomic checkpoints and dev perplexity. Resumes from any checkpoint.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from './workers.js';
import prand from 'pure-rand';
import { z } from 'zod';
import { initBackendInfo } from './backend.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type Manifest } from './checkpoint.js';
import { SPLIT, type Poem } from './corpus.js';
import { countParams, initParams, lossAndGrads, paramViews, toTensors, type Batch, type ModelConfig, type ModelParams } from './model.js';
import { DEFAULT_LR, Optimizer, ParamOptimizer } from './optimizer.js';
import { PAD, Vocab } from './vocab.js';

export { Optimizer };

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
  batchTokens: z.number().int().positive().default(3072),
  clip: z.number().positive().default(5),
  /** dropout rate on the embedding and the LSTM outputs while training (0: none) */
  dropout: z.number().min(0).max(0.9).default(0),
  minCount: z.number().int().positive().default(3),
  seed: z.number().int().default(1),
  workers: z.number().int().min(1).optional(),
  saveEveryMinutes: z.number().positive().default(10),
  dtype: z.enum(['float32', 'float16']).default('float32'),
  evalDev: z.boolean().default(true),
  backend: z.string().optional(),
});
export type TrainOptions = z.input<typeof TrainOptions>;

export type Example = { poem: Poem; weight: number };
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

// ---------------------------------------------------------------- batches

type Sequence = { ids: number[]; weight: number };

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

// ---------------------------------------------------------------- gradient engines

type StepResult = { nllSum: number; weightSum: number; perToken?: Float32Array[] };
type RunOptions = { grads: boolean; perToken?: boolean; handGrad?: boolean; dropout?: number };

/** Computes loss sums (and gradients, summed, into `grads`) for a batch, in-process or over worker threads. */
export interface GradEngine {
  readonly params: ModelParams;
  readonly grads: ModelParams;
  run(seqs: Sequence[], opts: RunOptions): Promise<StepResult & { batches: Batch[] }>;
  close(): Promise<void>;
}

function allocate(config: ModelConfig, shared: boolean): { buffer: ArrayBufferLike; views: ModelParams } {
  const buffer = shared ? new SharedArrayBuffer(countParams(config) * 4) : new ArrayBuffer(countParams(config) * 4);
  return { buffer, views: paramViews(config, buffer) };
}

function splitRows(seqs: Sequence[], parts: number): Sequence[][] {
  const size = Math.ceil(seqs.length / parts);
  return Array.from({ length: parts }, (_, k) => seqs.slice(k * size, (k + 1) * size)).filter((s) => s.length > 0);
}

class InProcessEngine implements GradEngine {
  readonly params: ModelParams;
  readonly grads: ModelParams;
  constructor(private config: ModelConfig) {
    this.params = allocate(config, false).views;
    this.grads = allocate(config, false).views;
  }
  async run(seqs: Sequence[], opts: RunOptions) {
    const batch = toBatch(seqs);
    const tensors = toTensors(this.config, this.params);
    try {
      const r = lossAndGrads(this.config, tensors, batch, opts);
      if (r.grads) for (const [name, g] of r.grads) this.grads.get(name)!.set(g);
      return { nllSum: r.nllSum, weightSum: r.weightSum, perToken: r.perToken && [r.perToken], batches: [batch] };
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  async close() {}
}

class WorkerEngine implements GradEngine {
  readonly params: ModelParams;
  readonly grads: ModelParams;
  private workerGrads: ModelParams[] = [];
  private workers: Worker[] = [];

  private constructor(config: ModelConfig) {
    this.params = allocate(config, true).views;
    this.grads = allocate(config, false).views;
  }

  /** Starts the workers one after another: tfjs-node crashed (SIGSEGV) when two threads loaded it at once. */
  static async start(config: ModelConfig, count: number, backend: string): Promise<WorkerEngine> {
    const engine = new WorkerEngine(config);
    const module = new URL('./train-worker.ts', import.meta.url).href;
    const paramsBuffer = engine.params.values().next().value!.buffer;
    try {
      for (let k = 0; k < count; k++) {
        const grads = allocate(config, true);
        engine.workerGrads.push(grads.views);
        const worker = startWorker(module, { config, params: paramsBuffer, grads: grads.buffer, backend });
        engine.workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          const settle = (error?: Error) => {
            cleanup();
            if (error) reject(error);
            else resolve();
          };
          const onMessage = (m: { ready: boolean; error?: string }) => settle(m.ready ? undefined : new Error(`training worker: ${m.error}`));
          const onError = (e: Error) => settle(e);
          const onExit = (code: number) => settle(new Error(`training worker exited with code ${code} while starting`));
          const cleanup = () => worker.off('message', onMessage).off('error', onError).off('exit', onExit);
          worker.on('message', onMessage).on('error', onError).on('exit', onExit);
        });
      }
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  private call(worker: Worker, message: unknown): Promise<{ nllSum: number; weightSum: number; perToken?: Float32Array }> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { error?: string; nllSum: number; weightSum: number; perToken?: Float32Array }) => {
        cleanup();
        if (m.error) reject(new Error(`training worker: ${m.error}`));
        else resolve(m);
      };
      const fail = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onError = (e: Error) => fail(e);
      const onExit = (code: number) => fail(new Error(`training worker exited with code ${code}`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage(message);
    });
  }

  async run(seqs: Sequence[], opts: RunOptions) {
    const shards = splitRows(seqs, this.workers.length).map(toBatch);
    const results = await Promise.all(shards.map((batch, k) => this.call(this.workers[k]!, { batch, ...opts })));
    if (opts.grads) {
      for (const [name, sum] of this.grads) {
        sum.set(this.workerGrads[0]!.get(name)!);
        for (let k = 1; k < shards.length; k++) addInPlace(sum, this.workerGrads[k]!.get(name)!);
      }
    }
    return {
      nllSum: results.reduce((a, r) => a + r.nllSum, 0),
      weightSum: results.reduce((a, r) => a + r.weightSum, 0),
      perToken: opts.perToken ? results.map((r) => r.perToken!) : undefined,
      batches: shards,
    };
  }

  async close() {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Data-parallel workers: on wasm/cpu each runs one thread, and on native TensorFlow too they beat one thread
 * driving both cores (5,100–6,300 vs 4,634 tokens/s at the shipped size, 2 cores: each op's dispatch costs tens of µs,
 * and two threads dispatch at once). A GPU gets one.
 */
export async function createEngine(config: ModelConfig, workers?: number, backendChoice?: string): Promise<GradEngine> {
  const { name: backend, threadSafe } = await initBackendInfo(backendChoice);
  // an unpatched native binding crashes when two threads run ops at once: one thread drives every core then
  const count = workers ?? (backend === 'node-gpu' || !threadSafe ? 1 : Math.min(2, availableParallelism()));
  return count > 1 ? WorkerEngine.start(config, count, backend) : new InProcessEngine(config);
}

// ---------------------------------------------------------------- sums

function addInPlace(sum: Float32Array, g: Float32Array) {
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + g[i]!;
}

// ---------------------------------------------------------------- perplexity

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

// ---------------------------------------------------------------- the loop

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

export type TrainData = { train: Example[]; dev: Poem[]; split: { trainPoems: number; devPoems: number; stanzas?: number } };

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
  const config: ModelConfig = start?.manifest.config.model ?? { vocabSize: vocab.size, embedDim: o.embedDim, hiddenDim: o.hiddenDim, layers: o.layers };
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
      `model: ${countParams(config).toLocaleString('en')} parameters, vocabulary ${vocab.size}, ${config.layers}×LSTM(${config.hiddenDim}), embedding ${config.embedDim}`,
    );
    log(
      `data: ${data.train.length} training poems${data.split.stanzas ? ` (${data.split.stanzas} of them stanzas of irregular poems)` : ''}, ${data.dev.length} dev poems; optimizer ${o.optimizer} lr ${lr0}`,
    );

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
          training: { optimizer: o.optimizer, lr: lr0, batchTokens: o.batchTokens, clip: o.clip, dropout: o.dropout, seed: o.seed, minCount: vocab.minCount },
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
      const r = await engine.run(seqs, { grads: true, dropout: o.dropout });
      // cosine decay to 10% of the initial rate over this run
      const lr = lr0 * (0.1 + 0.45 * (1 + Math.cos(Math.PI * fraction())));
      optimizer.step(engine.grads, r.weightSum, o.clip, lr);
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
