/**
 * The poem model: embedding → LSTM (1–2 layers) → softmax over characters.
 *
 * Parameters live as plain Float32Arrays (ModelParams) so the optimizer, checkpoints and the data-parallel
 * workers can share them without TensorFlow.js; tensors are made from them where the math runs.
 *
 * The LSTM layer and the output layer have backward passes derived by hand (BPTT through h and c, as in the
 * course reports; the layer is lstm-layer.ts), plugged in with tf.customGrad; test/gradcheck.test.ts checks
 * them against TensorFlow.js autograd. Gate order in every [*, 4H] matrix: input i, forget f, candidate g, output o.
 */
import { z } from 'zod';
import prand from 'pure-rand';
import { tf } from '../runtime/backend.js';
import { matMul, sparseSoftmaxCrossEntropy, statelessUniform } from '../runtime/native-ops.js';
import { lstmLayer, lstmLayerAutograd } from './lstm-layer.js';

export const ModelConfig = z.object({
  vocabSize: z.number().int().positive(),
  embedDim: z.number().int().positive(),
  hiddenDim: z.number().int().positive(),
  layers: z.number().int().min(1).max(3),
  /**
   * Tied input and output embeddings (Press & Wolf 2017, as AWD-LSTM): the output matrix is P·Eᵀ, the
   * embedding E [V, E] through a projection P [H, E], instead of a matrix of its own [H, V].
   */
  tied: z.boolean().optional(),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export type ParamSpec = { name: string; shape: number[] };
export type ModelParams = Map<string, Float32Array>;

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'embedding', shape: [c.vocabSize, c.embedDim] }];
  for (let l = 0; l < c.layers; l++) {
    const inDim = l === 0 ? c.embedDim : c.hiddenDim;
    specs.push(
      { name: `lstm${l}.wx`, shape: [inDim, 4 * c.hiddenDim] },
      { name: `lstm${l}.wh`, shape: [c.hiddenDim, 4 * c.hiddenDim] },
      { name: `lstm${l}.b`, shape: [4 * c.hiddenDim] },
    );
  }
  specs.push(c.tied ? { name: 'out.proj', shape: [c.hiddenDim, c.embedDim] } : { name: 'out.w', shape: [c.hiddenDim, c.vocabSize] }, {
    name: 'out.b',
    shape: [c.vocabSize],
  });
  return specs;
}

/** Every parameter as a view into one buffer (shared with worker threads when it is a SharedArrayBuffer). */
export function paramViews(c: ModelConfig, buffer: ArrayBufferLike): ModelParams {
  const views: ModelParams = new Map();
  let offset = 0;
  for (const { name, shape } of paramSpecs(c)) {
    const size = shape.reduce((a, b) => a * b, 1);
    views.set(name, new Float32Array(buffer, offset * 4, size));
    offset += size;
  }
  return views;
}

export function countParams(c: ModelConfig): number {
  return paramSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Glorot/Xavier-uniform matrices (never zeros: identical units would never break symmetry), a unit-variance
 * embedding, zero biases except the forget gate's = 1 so the cell remembers by default early in training.
 */
export function initParams(c: ModelConfig, seed = 1): ModelParams {
  const rng = prand.xoroshiro128plus(seed);
  const uniform = () => prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x7fffffff;
  const params: ModelParams = new Map();
  for (const { name, shape } of paramSpecs(c)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name === 'embedding') {
      // A lookup reads one row, not a product over V inputs: Glorot with fan-in V would make the inputs ~30×
      // too small for the LSTM to notice (training then sat at unigram perplexity). Unit variance, as
      // PyTorch's nn.Embedding.
      for (let i = 0; i < size; i++) values[i] = (2 * uniform() - 1) * Math.sqrt(3);
    } else if (name === 'out.proj') {
      // P·Eᵀ should start as a Glorot [H, V] matrix would: E has unit variance, so P's variance is that / E
      const limit = Math.sqrt(6 / (c.hiddenDim + c.vocabSize) / c.embedDim);
      for (let i = 0; i < size; i++) values[i] = (2 * uniform() - 1) * limit;
    } else if (shape.length === 2) {
      const limit = Math.sqrt(6 / (shape[0]! + shape[1]!));
      for (let i = 0; i < size; i++) values[i] = (2 * uniform() - 1) * limit;
    } else if (name.endsWith('.b') && name.startsWith('lstm')) {
      values.fill(1, c.hiddenDim, 2 * c.hiddenDim);
    }
    params.set(name, values);
  }
  return params;
}

export type ParamTensors = Map<string, tf.Tensor>;

export function toTensors(c: ModelConfig, params: ModelParams): ParamTensors {
  return new Map(paramSpecs(c).map(({ name, shape }) => [name, tf.tensor(params.get(name)!, shape, 'float32')]));
}

/**
 * softmax(logits) − onehot(targets) and −log softmax(logits)[target] for each row. On native TensorFlow
 * both come out of its fused SparseSoftmaxCrossEntropyWithLogits kernel, one pass over [N, V]; elsewhere
 * from one fused softmax (XNNPACK on wasm).
 */
function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): { nll: tf.Tensor1D; dLogits: tf.Tensor2D } {
  const fused = sparseSoftmaxCrossEntropy(logits, targets);
  if (fused) return fused;
  const [N, V] = logits.shape;
  const probs = tf.softmax(logits);
  const flatIndex = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), targets);
  // float32 probabilities can underflow to 0; 1e-30 caps a single token's loss at 69 nats
  const picked = tf.maximum(tf.gather(tf.reshape(probs, [N * V]), flatIndex), 1e-30);
  return { nll: tf.neg(tf.log(picked)) as tf.Tensor1D, dLogits: tf.sub(probs, tf.oneHot(targets, V)) as tf.Tensor2D };
}

/**
 * The output layer and its loss in one: the negative log-likelihood of each target under softmax(x·W): [N].
 * x carries a column of ones and W the bias as its last row, so the bias gradient comes out of the weight
 * gradient's matmul. Backward by hand, with the per-token weights dy applied to the small operands, never
 * to the [N, V] gradient: dx = dy ⊙ (G·Wᵀ), dW = (dy ⊙ x)ᵀ·G, where G = softmax − onehot.
 */
export function outputNll(x: tf.Tensor2D, w: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const f = tf.customGrad(((xs: tf.Tensor2D, ws: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const { nll, dLogits } = softmaxCrossEntropy(matMul(xs, ws), targets);
    save([xs, ws, dLogits]);
    return {
      value: nll,
      gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
        const [xS, wS, g] = saved as tf.Tensor2D[];
        const rowWeights = tf.reshape(dy, [-1, 1]);
        return [tf.mul(matMul(g!, wS!, false, true), rowWeights), matMul(tf.mul(xS!, rowWeights) as tf.Tensor2D, g!, true, false)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w) as tf.Tensor1D;
}

/** The same loss by TensorFlow.js autograd, op by op (the reference for the gradient check). */
function outputNllAutograd(x: tf.Tensor2D, w: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logProbs = tf.logSoftmax(tf.matMul(x, w));
  return tf.neg(tf.sum(tf.mul(logProbs, tf.oneHot(targets, w.shape[1])), 1)) as tf.Tensor1D;
}

/**
 * Regularisation while training (none when evaluating or writing). `rate` drops units of the
 * non-recurrent connections, the embedding and each layer's output (Zaremba et al. 2014); `locked` draws
 * one mask per sequence for all its steps instead of one per step (variational dropout, Gal & Ghahramani
 * 2016); `recurrent` drops entries of each layer's Wh, one mask per batch (weight-drop, DropConnect on the
 * recurrent matrices, AWD-LSTM, Merity et al. 2017); `embedding` drops whole characters from the
 * embedding matrix (AWD-LSTM). `seed` fixes the masks (the gradient check compares two passes under
 * the same masks).
 */
export const Dropout = z.object({
  rate: z.number().min(0).max(0.9).default(0),
  locked: z.boolean().default(false),
  recurrent: z.number().min(0).max(0.9).default(0),
  embedding: z.number().min(0).max(0.9).default(0),
  seed: z.number().int().positive().optional(),
});
export type Dropout = z.input<typeof Dropout>;

/**
 * A mask of 0 and 1/(1 − rate), drawn by TensorFlow's StatelessRandomUniform on a native backend (native-ops.ts)
 * and by tf.randomUniform elsewhere.
 */
function keepMask(shape: number[], rate: number, seed?: number): tf.Tensor {
  const fresh = () => Math.floor(Math.random() * 2 ** 31);
  const uniform = statelessUniform(shape, seed === undefined ? [fresh(), fresh()] : [seed, seed + 1]) ?? tf.randomUniform(shape, 0, 1, 'float32', seed);
  return tf.mul(tf.cast(tf.greaterEqual(uniform, rate), 'float32'), 1 / (1 - rate));
}

export type Batch = {
  /** time-major token ids [T*B]: position t of sequence b is at t*B + b */
  inputs: Int32Array;
  targets: Int32Array;
  /** per-target weight: 0 for padding (and the given form token), else 1 or a sample weight */
  weights: Float32Array;
  T: number;
  B: number;
};

/**
 * The last LSTM layer's output for every position, with a column of ones for the output bias:
 * [T*B, H + 1]. `drop` (training only) regularises as `Dropout` says; the masks are products outside the
 * hand-derived pieces, so autograd carries them.
 */
export function features(c: ModelConfig, p: ParamTensors, inputs: tf.Tensor1D, T: number, B: number, handGrad = true, drop?: Dropout): tf.Tensor2D {
  const lstm = handGrad ? lstmLayer : lstmLayerAutograd;
  const d = Dropout.parse(drop ?? {});
  let masksDrawn = 0;
  const mask = (shape: number[], rate: number) => keepMask(shape, rate, d.seed === undefined ? undefined : d.seed + 2 * masksDrawn++);
  // [T*B, D] → the same, with units dropped: per position, or one mask per sequence (time-major rows)
  const dropUnits = (x: tf.Tensor2D): tf.Tensor2D => {
    if (d.rate === 0) return x;
    const D = x.shape[1];
    if (!d.locked) return tf.mul(x, mask(x.shape, d.rate)) as tf.Tensor2D;
    return tf.reshape(tf.mul(tf.reshape(x, [T, B, D]), mask([1, B, D], d.rate)), [T * B, D]) as tf.Tensor2D;
  };
  let embedding = p.get('embedding')!;
  if (d.embedding > 0) embedding = tf.mul(embedding, mask([c.vocabSize, 1], d.embedding));
  let x: tf.Tensor2D = dropUnits(tf.gather(embedding, inputs) as tf.Tensor2D); // [T*B, E]
  for (let l = 0; l < c.layers; l++) {
    let wh = p.get(`lstm${l}.wh`) as tf.Tensor2D;
    if (d.recurrent > 0) wh = tf.mul(wh, mask(wh.shape, d.recurrent)) as tf.Tensor2D;
    const hs = lstm(tf.reshape(x, [T, B, x.shape[1]]), p.get(`lstm${l}.wx`) as tf.Tensor2D, wh, p.get(`lstm${l}.b`) as tf.Tensor1D);
    x = dropUnits(tf.reshape(hs, [T * B, c.hiddenDim]));
  }
  return tf.concat([x, tf.ones([T * B, 1])], 1) as tf.Tensor2D;
}

/** The output matrix [H, V]: its own, or P·Eᵀ when tied (autograd carries the product's gradient to both). */
function outputMatrix(c: ModelConfig, p: ParamTensors): tf.Tensor2D {
  return c.tied ? tf.matMul(p.get('out.proj') as tf.Tensor2D, p.get('embedding') as tf.Tensor2D, false, true) : (p.get('out.w') as tf.Tensor2D);
}

/** The output matrix as plain numbers, row-major [H, V] (what generation multiplies by). */
export function outputMatrixValues(c: ModelConfig, params: ModelParams): Float32Array {
  if (!c.tied) return params.get('out.w')!;
  // tidy returns the tensor, not its values: tidy walks whatever it returns looking for tensors, element by
  // element through a typed array of H × V numbers
  const product = tf.tidy(() => {
    const proj = tf.tensor2d(params.get('out.proj')!, [c.hiddenDim, c.embedDim]);
    const embedding = tf.tensor2d(params.get('embedding')!, [c.vocabSize, c.embedDim]);
    return outputMatrix(
      c,
      new Map([
        ['out.proj', proj],
        ['embedding', embedding],
      ]),
    );
  });
  try {
    return product.dataSync() as Float32Array;
  } finally {
    product.dispose();
  }
}

/** The output matrix with the bias as its last row: [H + 1, V]. */
function outputWeights(c: ModelConfig, p: ParamTensors): tf.Tensor2D {
  return tf.concat([outputMatrix(c, p), tf.reshape(p.get('out.b')!, [1, c.vocabSize])], 0) as tf.Tensor2D;
}

/** Logits for every position: [T*B, V] (the serving path's tests compare against these). */
export function forward(c: ModelConfig, p: ParamTensors, inputs: tf.Tensor1D, T: number, B: number): tf.Tensor2D {
  return tf.matMul(features(c, p, inputs, T, B), outputWeights(c, p));
}

export type LossResult = { nllSum: number; weightSum: number; grads?: ModelParams; perToken?: Float32Array };

/**
 * Weighted NLL sum of a batch and, if asked, its gradients (of the sum, not the mean: data-parallel workers
 * add their sums and the trainer divides once by the total weight).
 */
export function lossAndGrads(
  c: ModelConfig,
  params: ParamTensors,
  batch: Batch,
  opts: { grads: boolean; perToken?: boolean; handGrad?: boolean; dropout?: Dropout },
): LossResult {
  // a scope rather than tf.tidy: the results are plain arrays, every tensor made here is freed at the end
  tf.engine().startScope();
  try {
    const inputs = tf.tensor1d(batch.inputs, 'int32');
    const targets = tf.tensor1d(batch.targets, 'int32');
    const weights = tf.tensor1d(batch.weights, 'float32');
    const weightSum = batch.weights.reduce((a, b) => a + b, 0);
    const handGrad = opts.handGrad ?? true;
    const lossOf = (p: ParamTensors) => {
      const x = features(c, p, inputs, batch.T, batch.B, handGrad, opts.grads ? opts.dropout : undefined);
      const nll = (handGrad ? outputNll : outputNllAutograd)(x, outputWeights(c, p), targets);
      return { nll, total: tf.sum(tf.mul(nll, weights)) };
    };
    if (!opts.grads) {
      const { nll, total } = lossOf(params);
      return {
        nllSum: total.dataSync()[0]!,
        weightSum,
        perToken: opts.perToken ? (nll.dataSync() as Float32Array) : undefined,
      };
    }
    const names = [...params.keys()];
    const tensors = names.map((n) => params.get(n)!);
    const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => lossOf(new Map(names.map((n, k) => [n, ts[k]!]))).total)(tensors);
    return {
      nllSum: value.dataSync()[0]!,
      weightSum,
      grads: new Map(names.map((n, k) => [n, grads[k]!.dataSync() as Float32Array])),
    };
  } finally {
    tf.engine().endScope();
  }
}
