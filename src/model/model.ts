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
import { tf } from './backend.js';

export const ModelConfig = z.object({
  vocabSize: z.number().int().positive(),
  embedDim: z.number().int().positive(),
  hiddenDim: z.number().int().positive(),
  layers: z.number().int().min(1).max(2),
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
  specs.push({ name: 'out.w', shape: [c.hiddenDim, c.vocabSize] }, { name: 'out.b', shape: [c.vocabSize] });
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

/** One LSTM layer over a whole sequence. xProj: [T, B, 4H] = x·Wx + b. Returns h for every step: [T, B, H]. */
function lstmForwardSteps(xProj: tf.Tensor3D, wh: tf.Tensor2D) {
  const [T, B, H4] = xProj.shape;
  const H = H4 / 4;
  let h = tf.zeros([B, H]) as tf.Tensor2D;
  let c = tf.zeros([B, H]) as tf.Tensor2D;
  const hs: tf.Tensor2D[] = [];
  const cs: tf.Tensor2D[] = [];
  const gates: tf.Tensor2D[][] = [];
  const xs = tf.unstack(xProj) as tf.Tensor2D[];
  for (let t = 0; t < T; t++) {
    const z = tf.add(xs[t]!, tf.matMul(h, wh));
    const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    const i = tf.sigmoid(zi!), f = tf.sigmoid(zf!), g = tf.tanh(zg!), o = tf.sigmoid(zo!);
    c = tf.add(tf.mul(f, c), tf.mul(i, g));
    h = tf.mul(o, tf.tanh(c));
    hs.push(h);
    cs.push(c);
    gates.push([i, f, g, o]);
  }
  return { hs, cs, gates };
}

/** Autograd version: TensorFlow.js differentiates the unrolled loop itself (the reference for the gradient check). */
export function lstmLayerAutograd(xProj: tf.Tensor3D, wh: tf.Tensor2D): tf.Tensor3D {
  return tf.stack(lstmForwardSteps(xProj, wh).hs) as tf.Tensor3D;
}

/**
 * Hand-derived BPTT. With z = x·Wx + h_{t-1}·Wh + b, i,f,o = σ(z_·), g = tanh(z_g),
 * c_t = f⊙c_{t-1} + i⊙g, h_t = o⊙tanh(c_t), going backwards from t = T-1:
 *   dh   = dL/dh_t (from above) + dh_next            dc = dh⊙o⊙(1 − tanh²c_t) + dc_next
 *   dz_o = dh⊙tanh(c_t)⊙o(1−o)   dz_i = dc⊙g⊙i(1−i)   dz_f = dc⊙c_{t-1}⊙f(1−f)   dz_g = dc⊙i⊙(1−g²)
 *   dh_next = dz·Whᵀ             dc_next = dc⊙f
 * and, summed over time in one matmul each: dWh = Σ h_{t-1}ᵀ·dz_t, dxProj_t = dz_t.
 */
export const lstmLayer = tf.customGrad(((xProj: tf.Tensor3D, wh: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const { hs, cs, gates } = lstmForwardSteps(xProj, wh);
  const [T, B, H4] = xProj.shape;
  const H = H4 / 4;
  const out = tf.stack(hs) as tf.Tensor3D;
  // saved: wh, the stacked cells and gates (kept as [T,B,H] tensors; per-step pieces are sliced out below)
  const stackedGates = gates[0]!.map((_, k) => tf.stack(gates.map((g) => g[k]!)));
  save([wh, out, tf.stack(cs), ...stackedGates]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
      const [whS, hsS, csS, iS, fS, gS, oS] = saved as tf.Tensor3D[];
      const cT = tf.unstack(csS!) as tf.Tensor2D[];
      const [iT, fT, gT, oT] = [iS, fS, gS, oS].map((s) => tf.unstack(s!) as tf.Tensor2D[]);
      const dyT = tf.unstack(dy) as tf.Tensor2D[];
      const zeros = tf.zeros([B, H]) as tf.Tensor2D;
      const whT = tf.transpose(whS! as tf.Tensor) as tf.Tensor2D; // once, not a transposed matmul per step
      let dhNext = zeros;
      let dcNext = zeros;
      const dz: tf.Tensor2D[] = new Array(T);
      for (let t = T - 1; t >= 0; t--) {
        const i = iT![t]!, f = fT![t]!, g = gT![t]!, o = oT![t]!;
        const cPrev = t > 0 ? cT[t - 1]! : zeros;
        const tanhC = tf.tanh(cT[t]!);
        const dh = tf.add(dyT[t]!, dhNext);
        const dc = tf.add(tf.mul(tf.mul(dh, o), tf.sub(1, tf.square(tanhC))), dcNext);
        const sigmoidGrad = (s: tf.Tensor) => tf.mul(s, tf.sub(1, s));
        const dzi = tf.mul(tf.mul(dc, g), sigmoidGrad(i));
        const dzf = tf.mul(tf.mul(dc, cPrev), sigmoidGrad(f));
        const dzg = tf.mul(tf.mul(dc, i), tf.sub(1, tf.square(g)));
        const dzo = tf.mul(tf.mul(dh, tanhC), sigmoidGrad(o));
        dz[t] = tf.concat([dzi, dzf, dzg, dzo], 1) as tf.Tensor2D;
        dhNext = tf.matMul(dz[t]!, whT);
        dcNext = tf.mul(dc, f);
      }
      const dzAll = tf.stack(dz) as tf.Tensor3D; // [T,B,4H]
      const hPrev = tf.concat([tf.zeros([1, B, H]), tf.slice(hsS!, [0, 0, 0], [T - 1, B, H])], 0);
      const dWh = tf.matMul(tf.reshape(hPrev, [T * B, H]), tf.reshape(dzAll, [T * B, H4]), true, false);
      return [dzAll, dWh];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (xProj: tf.Tensor3D, wh: tf.Tensor2D) => tf.Tensor3D;

/**
 * Negative log-likelihood of each target under softmax(logits): [N]. The softmax runs as one fused kernel
 * (XNNPACK on wasm, ~8× faster there than exp + sum) and is kept for the backward pass, whose gradient
 * softmax − onehot is written out instead of differentiating log-softmax op by op.
 */
export function tokenNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [N, V] = logits.shape;
  const f = tf.customGrad(((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const probs = tf.softmax(x);
    const flatIndex = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), targets);
    // float32 probabilities can underflow to 0; 1e-30 caps a single token's loss at 69 nats
    const picked = tf.maximum(tf.gather(tf.reshape(probs, [N * V]), flatIndex), 1e-30);
    save([probs]);
    return {
      value: tf.neg(tf.log(picked)),
      gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) =>
        tf.mul(tf.sub(saved[0]!, tf.oneHot(targets, V)), tf.reshape(dy, [N, 1])),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Tensor1D;
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
 * Logits for every position: [T*B, V]. `dropout` (training only) drops units of the non-recurrent
 * connections, the embedding and each layer's output, as Zaremba et al. (2014) regularise LSTM language
 * models; the recurrent path is left whole.
 */
export function forward(c: ModelConfig, p: ParamTensors, inputs: tf.Tensor1D, T: number, B: number, handGrad = true, dropout = 0) {
  const lstm = handGrad ? lstmLayer : lstmLayerAutograd;
  const drop = (t: tf.Tensor2D) => (dropout > 0 ? (tf.dropout(t, dropout) as tf.Tensor2D) : t);
  let x: tf.Tensor2D = drop(tf.gather(p.get('embedding')!, inputs) as tf.Tensor2D); // [T*B, E]
  for (let l = 0; l < c.layers; l++) {
    const xProj = tf.add(tf.matMul(x, p.get(`lstm${l}.wx`) as tf.Tensor2D), p.get(`lstm${l}.b`)!);
    const hs = lstm(tf.reshape(xProj, [T, B, 4 * c.hiddenDim]), p.get(`lstm${l}.wh`) as tf.Tensor2D);
    x = drop(tf.reshape(hs, [T * B, c.hiddenDim]));
  }
  // x·W + b as one matmul of [x, 1]·[W; b]: the bias gradient then comes out of the weight gradient's matmul
  // instead of a column sum over [T*B, V], which is slow on wasm
  const ones = tf.ones([T * B, 1]);
  const wb = tf.concat([p.get('out.w')!, tf.reshape(p.get('out.b')!, [1, c.vocabSize])], 0) as tf.Tensor2D;
  return tf.matMul(tf.concat([x, ones], 1) as tf.Tensor2D, wb) as tf.Tensor2D;
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
  opts: { grads: boolean; perToken?: boolean; handGrad?: boolean; dropout?: number },
): LossResult {
  // a scope rather than tf.tidy: the results are plain arrays, every tensor made here is freed at the end
  tf.engine().startScope();
  try {
    const inputs = tf.tensor1d(batch.inputs, 'int32');
    const targets = tf.tensor1d(batch.targets, 'int32');
    const weights = tf.tensor1d(batch.weights, 'float32');
    const weightSum = batch.weights.reduce((a, b) => a + b, 0);
    const lossOf = (p: ParamTensors) => {
      const nll = tokenNll(forward(c, p, inputs, batch.T, batch.B, opts.handGrad ?? true, opts.grads ? (opts.dropout ?? 0) : 0), targets);
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
