/**
 * The poem model: embedding → LSTM (1–2 layers) → softmax over characters.
 *
 * Parameters live as plain Float32Arrays (ModelParams) so the optimizer, checkpoints and the data-parallel
 * workers can share them without TensorFlow.js; tensors are made from them where the math runs.
 *
 * The LSTM's backward pass is derived by hand (BPTT through h and c, as in the course reports) and
 * plugged in with tf.customGrad; test/gradcheck.test.ts checks it against TensorFlow.js autograd.
 * Gate order in every [*, 4H] matrix: input i, forget f, candidate g, output o.
 */
import { z } from 'zod';
import prand from 'pure-rand';
import { createRequire } from 'node:module';
import { runsOnGpu, tf } from './backend.js';
import { nativeLstmKernels, type LstmKernels } from './native-kernels.js';

const nativeRequire = createRequire(import.meta.url);

export const ModelConfig = z.object({
  vocabSize: z.number().int().positive(),
  embedDim: z.number().int().positive(),
  hiddenDim: z.number().int().positive(),
  layers: z.number().int().min(1).max(2),
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

/** One LSTM layer's step loop. xProj: [T, B, 4H] = x·Wx + b. Returns h, c, tanh(c) and the gates of every step, stacked [T, B, H]. */
export function lstmForwardSteps(xProj: tf.Tensor3D, wh: tf.Tensor2D) {
  const [T, B, H4] = xProj.shape;
  const H = H4 / 4;
  let h = tf.zeros([B, H]) as tf.Tensor2D;
  let c = tf.zeros([B, H]) as tf.Tensor2D;
  const steps: tf.Tensor2D[][] = [];
  const xs = tf.unstack(xProj) as tf.Tensor2D[];
  for (let t = 0; t < T; t++) {
    const z = tf.add(xs[t]!, tf.matMul(h, wh));
    const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    const i = tf.sigmoid(zi!),
      f = tf.sigmoid(zf!),
      g = tf.tanh(zg!),
      o = tf.sigmoid(zo!);
    c = tf.add(tf.mul(f, c), tf.mul(i, g));
    const tanhC = tf.tanh(c);
    h = tf.mul(o, tanhC);
    steps.push([h, c, tanhC, i, f, g, o]);
  }
  const [hs, cs, tanhCs, is, fs, gs, os] = steps[0]!.map((_, k) => tf.stack(steps.map((step) => step[k]!)) as tf.Tensor3D);
  return { hs: hs!, cs: cs!, tanhCs: tanhCs!, gates: [is!, fs!, gs!, os!] };
}

type LstmLayer = (x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor3D;

const xProjection = (x: tf.Tensor3D, wx: tf.Tensor2D, b: tf.Tensor1D) => {
  const [T, B, I] = x.shape;
  return tf.reshape(tf.add(tf.matMul(tf.reshape(x, [T * B, I]), wx), b), [T, B, wx.shape[1]]) as tf.Tensor3D;
};

/** Autograd version: TensorFlow.js differentiates the unrolled loop itself (the reference for the gradient check). */
export const lstmLayerAutograd: LstmLayer = (x, wx, wh, b) => lstmForwardSteps(xProjection(x, wx, b), wh).hs;

/**
 * The forward pass of a layer, as the step loop above or, on native TensorFlow, as its fused BlockLSTMV2
 * kernel (gate order i f g o, no peepholes, no clipping: the same LSTM; 46 vs 77 ms for a 34-step batch of
 * 90 at H = 256), which returns the same gates and cells the backward pass needs.
 */
export function lstmForward(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) {
  const native = nativeBackend();
  if (!native) return lstmForwardSteps(xProjection(x, wx, b), wh);
  const [, B] = x.shape;
  const H = wh.shape[0];
  const n = native.binding;
  const attrs = [
    { name: 'cell_clip', type: n.TF_ATTR_FLOAT, value: 0 },
    { name: 'use_peephole', type: n.TF_ATTR_BOOL, value: false },
    { name: 'T', type: n.TF_ATTR_TYPE, value: n.TF_FLOAT },
  ];
  const zeros = tf.zeros([B, H]);
  const noPeephole = tf.zeros([H]);
  const [i, cs, f, o, g, tanhCs, hs] = native.executeMultipleOutputs(
    'BlockLSTMV2',
    attrs,
    [int64(x.shape[0]), x, zeros, zeros, tf.concat([wx, wh], 0), noPeephole, noPeephole, noPeephole, b],
    7,
  ) as tf.Tensor3D[];
  return { hs: hs!, cs: cs!, tanhCs: tanhCs!, gates: [i!, f!, g!, o!] };
}

/**
 * One LSTM layer over a sequence, x: [T, B, I] → h: [T, B, H], with its backward pass derived by hand (BPTT,
 * as in the course reports). With z = x·Wx + h_{t-1}·Wh + b, i,f,o = σ(z_·), g = tanh(z_g),
 * c_t = f⊙c_{t-1} + i⊙g, h_t = o⊙tanh(c_t), going backwards from t = T-1:
 *   dh   = dL/dh_t (from above) + dh_next            dc = dh⊙o⊙(1 − tanh²c_t) + dc_next
 *   dz_o = dh⊙tanh(c_t)⊙o(1−o)   dz_i = dc⊙g⊙i(1−i)   dz_f = dc⊙c_{t-1}⊙f(1−f)   dz_g = dc⊙i⊙(1−g²)
 *   dh_next = dz·Whᵀ             dc_next = dc⊙f
 * and, over all steps in one matmul each: dWh = Σ h_{t-1}ᵀ·dz_t, dWx = Σ x_tᵀ·dz_t, db = Σ dz_t, dx_t = dz_t·Wxᵀ.
 * Every factor that does not depend on dh or dc (o⊙(1 − tanh²c), g⊙i(1−i), …) is computed for all steps at
 * once before the loop, so each step is 7 small ops: on a native backend each op costs tens of µs of
 * dispatch, and the per-step loop, not the arithmetic, set the pace. (TensorFlow's own fused gradient,
 * BlockLSTMGradV2, was slower: 203 vs 139 ms for a layer's forward + backward, bench/lstm-kernels.ts.)
 */
export const lstmLayerTensorFlow = tf.customGrad(((x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const { hs, cs, tanhCs, gates } = lstmForward(x, wx, wh, b);
  save([x, wx, wh, hs, cs, tanhCs, ...gates]);
  return {
    value: hs,
    gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
      const [xS, wxS, whS, hsS, csS, tanhCS, iS, fS, gS, oS] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, ...tf.Tensor3D[]];
      const [T, B, H] = hsS!.shape;
      const sigmoidGrad = (s: tf.Tensor) => tf.mul(s, tf.sub(1, s));
      const previous = (s: tf.Tensor3D) => tf.concat([tf.zeros([1, B, H]), tf.slice(s, [0, 0, 0], [T - 1, B, H])], 0);
      // dc gets dh⊙a; dz = [dc, dc, dc, dh]⊙factors, in gate order i f g o
      const a = tf.unstack(tf.mul(oS!, tf.sub(1, tf.square(tanhCS!)))) as tf.Tensor2D[];
      const factors = tf.unstack(
        tf.concat(
          [tf.mul(gS!, sigmoidGrad(iS!)), tf.mul(previous(csS!), sigmoidGrad(fS!)), tf.mul(iS!, tf.sub(1, tf.square(gS!))), tf.mul(tanhCS!, sigmoidGrad(oS!))],
          2,
        ),
      ) as tf.Tensor2D[];
      const fT = tf.unstack(fS!) as tf.Tensor2D[];
      const dyT = tf.unstack(dy) as tf.Tensor2D[];
      const whT = tf.transpose(whS) as tf.Tensor2D; // once, not a transposed product per step (faster on wasm)
      const dz: tf.Tensor2D[] = new Array(T);
      let dhNext: tf.Tensor2D | undefined;
      let dcNext: tf.Tensor2D | undefined;
      for (let t = T - 1; t >= 0; t--) {
        const dh: tf.Tensor2D = dhNext ? tf.add(dyT[t]!, dhNext) : dyT[t]!;
        const dc: tf.Tensor2D = dcNext ? tf.add(tf.mul(dh, a[t]!), dcNext) : tf.mul(dh, a[t]!);
        dz[t] = tf.mul(tf.concat([dc, dc, dc, dh], 1), factors[t]!) as tf.Tensor2D;
        if (t > 0) {
          dhNext = matMul(dz[t]!, whT);
          dcNext = tf.mul(dc, fT[t]!) as tf.Tensor2D;
        }
      }
      const dzAll = tf.reshape(tf.stack(dz), [T * B, 4 * H]) as tf.Tensor2D;
      const flat = (s: tf.Tensor3D) => tf.reshape(s, [T * B, s.shape[2]]) as tf.Tensor2D;
      const dx = tf.reshape(matMul(dzAll, wxS, false, true), xS!.shape);
      const dWx = matMul(flat(xS!), dzAll, true, false);
      const dWh = matMul(flat(previous(hsS!) as tf.Tensor3D), dzAll, true, false);
      return [dx, dWx, dWh, tf.sum(dzAll, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as LstmLayer;

/**
 * The same layer as native code (native-lstm.c: 6 × 16 AVX2 + FMA tiles; per step one product and the gates),
 * forward and backward, the large products included. The gates and cells the backward pass needs stay in
 * plain arrays between the two.
 */
export function lstmLayerNative(kernels: LstmKernels): LstmLayer {
  return tf.customGrad(((x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) => {
    const [T, B, I] = x.shape;
    const H = wh.shape[0];
    const [xValues, wxValues, whValues] = [x, wx, wh].map((t) => t.dataSync() as Float32Array) as [Float32Array, Float32Array, Float32Array];
    const gates = new Float32Array(T * B * 4 * H);
    const [cells, tanhCells, hs] = [0, 1, 2].map(() => new Float32Array(T * B * H)) as [Float32Array, Float32Array, Float32Array];
    kernels.lstmForward(T, B, I, H, xValues, wxValues, b.dataSync() as Float32Array, whValues, gates, cells, tanhCells, hs);
    return {
      value: tf.tensor3d(hs, [T, B, H]),
      gradFunc: (dy: tf.Tensor3D) => {
        const [dx, dWx, dWh, db] = [T * B * I, I * 4 * H, H * 4 * H, 4 * H].map((n) => new Float32Array(n)) as Float32Array[];
        kernels.lstmBackward(T, B, I, H, dy.dataSync() as Float32Array, xValues, wxValues, whValues, gates, cells, tanhCells, hs, dx!, dWx!, dWh!, db!);
        return [tf.tensor3d(dx!, [T, B, I]), tf.tensor2d(dWx!, [I, 4 * H]), tf.tensor2d(dWh!, [H, 4 * H]), tf.tensor1d(db!)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as LstmLayer;
}
let nativeLayer: LstmLayer | undefined;

/**
 * The layer with the hand-derived backward pass: native-lstm.c where it loads and I and H are multiples of 16
 * (on the CPU, whatever the backend), else TensorFlow's ops (always on a GPU).
 */
export const lstmLayer: LstmLayer = (x, wx, wh, b) => {
  const kernels = wh.shape[0] % 16 === 0 && x.shape[2] % 16 === 0 && !runsOnGpu() ? nativeLstmKernels() : undefined;
  if (!kernels) return lstmLayerTensorFlow(x, wx, wh, b);
  nativeLayer ??= lstmLayerNative(kernels);
  return nativeLayer(x, wx, wh, b);
};

/** Whether the native TensorFlow backend runs this thread (its fused kernels can then be called by name). */
type NativeBackend = {
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], outputs: number): tf.Tensor[];
  binding: Record<string, number>;
};
function nativeBackend(): NativeBackend | undefined {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as NativeBackend) : undefined;
}

/** An int64 scalar input for a native op (TF.js has no int64 tensors; tfjs-node has its own class for them). */
function int64(value: number): unknown {
  return new (nativeRequire('@tensorflow/tfjs-node/dist/int64_tensors.js').Int64Scalar)(value);
}

/**
 * a·b (either transposed) inside our own gradients, where no tape records it: on native TensorFlow its
 * MatMul kernel, which beat the BatchMatMulV2 that tf.matMul runs by 26% for a backward step's
 * [90, 2048]·[2048, 512] and 12% for the large products.
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  const native = nativeBackend();
  if (!native) return tf.matMul(a, b, transposeA, transposeB);
  const n = native.binding;
  const attrs = [
    { name: 'transpose_a', type: n.TF_ATTR_BOOL, value: transposeA },
    { name: 'transpose_b', type: n.TF_ATTR_BOOL, value: transposeB },
    { name: 'T', type: n.TF_ATTR_TYPE, value: n.TF_FLOAT },
  ];
  return native.executeMultipleOutputs('MatMul', attrs, [a, b], 1)[0] as tf.Tensor2D;
}

/**
 * softmax(logits) − onehot(targets) and −log softmax(logits)[target] for each row. On native TensorFlow
 * both come out of its fused SparseSoftmaxCrossEntropyWithLogits kernel, one pass over [N, V]; elsewhere
 * from one fused softmax (XNNPACK on wasm).
 */
function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): { nll: tf.Tensor1D; dLogits: tf.Tensor2D } {
  const native = nativeBackend();
  if (native) {
    const b = native.binding;
    const attrs = [
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: 'Tlabels', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    ];
    const [nll, dLogits] = native.executeMultipleOutputs('SparseSoftmaxCrossEntropyWithLogits', attrs, [logits, targets], 2);
    return { nll: nll as tf.Tensor1D, dLogits: dLogits as tf.Tensor2D };
  }
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
 * A mask of 0 and 1/(1 − rate). On a native backend it is drawn by TensorFlow's StatelessRandomUniform
 * (tf.randomUniform draws every number in JavaScript, which cost a fifth of a native training step; the
 * stateful RandomUniform kernel is cached between calls, so a seed would not repeat its mask).
 */
function keepMask(shape: number[], rate: number, seed?: number): tf.Tensor {
  const native = nativeBackend();
  let uniform: tf.Tensor;
  if (native) {
    const b = native.binding;
    const fresh = () => Math.floor(Math.random() * 2 ** 31);
    const seeds = seed === undefined ? [fresh(), fresh()] : [seed, seed + 1];
    const attrs = [
      { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
      { name: 'Tseed', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    ];
    uniform = native.executeMultipleOutputs('StatelessRandomUniform', attrs, [tf.tensor1d(shape, 'int32'), tf.tensor1d(seeds, 'int32')], 1)[0]!;
  } else {
    uniform = tf.randomUniform(shape, 0, 1, 'float32', seed);
  }
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
  return tf.tidy(() => {
    const proj = tf.tensor2d(params.get('out.proj')!, [c.hiddenDim, c.embedDim]);
    const embedding = tf.tensor2d(params.get('embedding')!, [c.vocabSize, c.embedDim]);
    return outputMatrix(
      c,
      new Map([
        ['out.proj', proj],
        ['embedding', embedding],
      ]),
    ).dataSync() as Float32Array;
  });
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
