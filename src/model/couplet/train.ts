/**
 * Training the couplet model: one loop, Adam with the gradient's global norm clipped at 5, batches of one
 * line length, the dev loss measured as it goes and the best parameters kept; a checkpoint at the end.
 */
import prand from 'pure-rand';
import { tf } from '../runtime/backend.js';
import { UNK, Vocab } from '../verse/vocab.js';
import { loadCouplet, saveCouplet, type CoupletManifest } from './checkpoint.js';
import { coupletLoss, initParams, paramSpecs, type CoupletConfig, type CoupletParams } from './seq2seq.js';
import { COUPLET_SPLIT, loadCouplets, loadSongCouplets, type Couplet } from './pairs.js';

export type CoupletTrainOptions = {
  embedDim: number;
  hiddenDim: number;
  attention: boolean;
  /** chance that a decoder step is fed the true previous character (1: always) */
  teacherForcing: number;
  /** dropout rate on the embeddings and the output layer's input (0: none) */
  dropout?: number;
  lr: number;
  /** decays the rate on a cosine to 10% over the run's budget (its steps, else its minutes) */
  cosine?: boolean;
  batchSize: number;
  maxMinutes: number;
  maxSteps?: number;
  evalEvery: number;
  seed: number;
  /** where the checkpoint goes (none: not saved) */
  out?: string;
  /** adds the Song poets' middle couplets whose characters are all in the vocabulary (built from the Tang pairs) */
  song?: boolean;
  /** continues from this checkpoint's weights, config and vocabulary (fresh optimizer state) */
  from?: string;
  /** the first this many training (and dev) pairs only (tests) */
  trainPairs?: number;
  devPairs?: number;
  log?: (line: string) => void;
  /** stops training early; the best checkpoint so far is still saved */
  signal?: AbortSignal;
};

type Encoded = { upper: number[]; lower: number[] };

const encode = (vocab: Vocab, pairs: Couplet[]): Encoded[] =>
  pairs.map((p) => ({
    upper: [...p.upper].map((ch) => (vocab.has(ch) ? vocab.id(ch) : UNK)),
    lower: [...p.lower].map((ch) => (vocab.has(ch) ? vocab.id(ch) : UNK)),
  }));

/** Batches of one line length each, shuffled by `rng`. */
function batches(pairs: Encoded[], size: number, rng: prand.RandomGenerator): Encoded[][] {
  const byLength = new Map<number, Encoded[]>();
  for (const p of pairs) {
    const group = byLength.get(p.upper.length);
    if (group) group.push(p);
    else byLength.set(p.upper.length, [p]);
  }
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = prand.unsafeUniformIntDistribution(0, i, rng);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const out: Encoded[][] = [];
  for (const group of byLength.values()) {
    shuffle(group);
    for (let k = 0; k < group.length; k += size) out.push(group.slice(k, k + size));
  }
  return shuffle(out);
}

const tensors = (batch: Encoded[]) => ({
  upper: tf.tensor2d(
    batch.map((p) => p.upper),
    undefined,
    'int32',
  ),
  lower: tf.tensor2d(
    batch.map((p) => p.lower),
    undefined,
    'int32',
  ),
});

/** Mean teacher-forced cross-entropy over pairs (what the dev curve shows). */
export function coupletDevLoss(config: CoupletConfig, weights: Map<string, tf.Tensor>, pairs: Encoded[]): number {
  let total = 0,
    count = 0;
  for (const batch of batches(pairs, 256, prand.xoroshiro128plus(0))) {
    const { upper, lower } = tensors(batch);
    const loss = tf.tidy(() => coupletLoss(config, weights, upper, lower, 1));
    total += loss.dataSync()[0]! * batch.length;
    count += batch.length;
    tf.dispose([upper, lower, loss]);
  }
  return total / count;
}

export async function trainCouplets(o: CoupletTrainOptions): Promise<{
  manifest?: CoupletManifest;
  config: CoupletConfig;
  params: CoupletParams;
  vocab: Vocab;
  devLoss: number;
  history: { step: number; loss: number; devLoss?: number }[];
  pairsPerSecond: number;
}> {
  const log = o.log ?? (() => {});
  const splits = loadCouplets();
  const tangPairs = splits.train.slice(0, o.trainPairs ?? splits.train.length);
  const start = o.from ? loadCouplet(o.from) : undefined;
  const vocab =
    start?.vocab ??
    Vocab.build(
      tangPairs.map((p) => ({ lines: [p.upper, p.lower], form: 'wulv' })),
      2,
    );
  const config: CoupletConfig = start?.manifest.config ?? { vocabSize: vocab.size, embedDim: o.embedDim, hiddenDim: o.hiddenDim, attention: o.attention };
  const known = (line: string) => [...line].every((ch) => vocab.has(ch));
  const songPairs = o.song ? loadSongCouplets().filter((p) => known(p.upper) && known(p.lower)) : [];
  const train = encode(vocab, [...tangPairs, ...songPairs]);
  const dev = encode(vocab, splits.dev.slice(0, o.devPairs ?? splits.dev.length));
  log(
    `couplets: ${tangPairs.length} Tang${o.song ? ` + ${songPairs.length} Song` : ''} training pairs, ${dev.length} dev, ${splits.test.length} test; vocabulary ${vocab.size}; ${JSON.stringify(config)}${start ? ` from ${o.from} (${start.manifest.version})` : ''}, teacher forcing ${o.teacherForcing}, dropout ${o.dropout ?? 0}`,
  );

  const initial = start?.params ?? initParams(config, o.seed);
  const weights = new Map([...initial].map(([name, values]) => [name, tf.variable(tf.tensor(values, paramSpecs(config).find((s) => s.name === name)!.shape))]));
  const optimizer = tf.train.adam(o.lr);
  const rng = prand.xoroshiro128plus(o.seed);
  const history: { step: number; loss: number; devLoss?: number }[] = [];
  const snapshot = () => new Map([...weights].map(([name, v]) => [name, v.dataSync().slice() as Float32Array]));
  let best = { devLoss: coupletDevLoss(config, weights, dev), params: snapshot(), step: 0 };
  log(`step 0: dev loss ${best.devLoss.toFixed(3)}`);
  const started = performance.now();
  let step = 0,
    pairsSeen = 0;
  // the best checkpoint so far goes to disk at each improvement, so a run cut short (a lost machine) keeps it
  const save = (steps: number, seconds: number) =>
    o.out
      ? saveCouplet(o.out, {
          config,
          vocab,
          params: best.params,
          training: {
            teacherForcing: o.teacherForcing,
            dropout: o.dropout ?? 0,
            lr: o.lr,
            cosine: o.cosine ?? false,
            song: songPairs.length,
            ...(start ? { from: start.manifest.version } : {}),
            batchSize: o.batchSize,
            seed: o.seed,
            steps,
            bestStep: best.step,
            seconds: Math.round(seconds),
            pairsPerSecond: Math.round(pairsSeen / seconds),
            history: history.filter((p) => p.devLoss !== undefined),
          },
          split: {
            ...COUPLET_SPLIT,
            ...(o.song
              ? { song: 'the middle couplets of 全宋诗 律诗 whose characters the vocabulary holds; none sharing a line with a Tang dev or test pair' }
              : {}),
            train: train.length,
            dev: dev.length,
            test: splits.test.length,
          },
          metrics: { devLoss: best.devLoss },
        })
      : undefined;
  outer: for (;;) {
    for (const batch of batches(train, o.batchSize, rng)) {
      const minutes = (performance.now() - started) / 60000;
      if (minutes >= o.maxMinutes || (o.maxSteps !== undefined && step >= o.maxSteps) || o.signal?.aborted) break outer;
      if (o.cosine) {
        const done = o.maxSteps !== undefined ? step / o.maxSteps : minutes / o.maxMinutes;
        // tf.js reads the rate at each update; there is no setter
        (optimizer as unknown as { learningRate: number }).learningRate = o.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, done))));
      }
      const { upper, lower } = tensors(batch);
      const { value, grads } = tf.variableGrads(() => coupletLoss(config, weights, upper, lower, o.teacherForcing, o.dropout ?? 0));
      const norm = Math.sqrt(tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
      const scale = norm > 5 ? 5 / norm : 1;
      optimizer.applyGradients(
        Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, scale === 1 ? g : tf.mul(g, scale)])) as unknown as Parameters<
          typeof optimizer.applyGradients
        >[0],
      );
      const loss = value.dataSync()[0]!;
      tf.dispose([upper, lower, value, ...Object.values(grads)]);
      step++;
      pairsSeen += batch.length;
      const point: { step: number; loss: number; devLoss?: number } = { step, loss };
      if (step % o.evalEvery === 0) {
        point.devLoss = coupletDevLoss(config, weights, dev);
        if (point.devLoss < best.devLoss) {
          best = { devLoss: point.devLoss, params: snapshot(), step };
          save(step, (performance.now() - started) / 1000);
        }
        log(
          `step ${step} (epoch ${(pairsSeen / train.length).toFixed(2)}): loss ${loss.toFixed(3)}, dev loss ${point.devLoss.toFixed(3)}${best.step === step ? ' (best)' : ''}`,
        );
      }
      history.push(point);
      await new Promise((r) => setImmediate(r)); // lets a caller's timers and messages through
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const last = coupletDevLoss(config, weights, dev);
  if (last < best.devLoss) best = { devLoss: last, params: snapshot(), step };
  for (const v of weights.values()) v.dispose();
  optimizer.dispose();
  const pairsPerSecond = pairsSeen / seconds;
  log(`done: ${step} steps in ${seconds.toFixed(0)} s (${pairsPerSecond.toFixed(0)} pairs/s); best dev loss ${best.devLoss.toFixed(3)} at step ${best.step}`);
  const manifest = save(step, seconds);
  return { manifest, config, params: best.params, vocab, devLoss: best.devLoss, history, pairsPerSecond };
}
