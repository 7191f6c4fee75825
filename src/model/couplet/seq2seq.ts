/**
 * The couplet model (对对子): an LSTM encoder–decoder, as in the course report it comes from. The
 * encoder reads the upper line; its final (h, c) starts the decoder, which writes the lower line one
 * character at a time. With attention (Luong et al. 2015, "general" score), each decoder step also looks at
 * the encoder's states: a couplet is aligned position by position, so the character opposite matters most.
 * Trained here with TensorFlow.js's autograd; served by decode.ts without TensorFlow.
 */
import prand from 'pure-rand';
import { z } from 'zod';
import { tf } from '../runtime/backend.js';
import { outputNll } from '../poem/network.js';
import { BOS } from '../verse/vocab.js';

export const CoupletConfig = z.object({
  vocabSize: z.number().int().positive(),
  embedDim: z.number().int().positive(),
  hiddenDim: z.number().int().positive(),
  attention: z.boolean(),
});
export type CoupletConfig = z.infer<typeof CoupletConfig>;
export type CoupletParams = Map<string, Float32Array>;

export function paramSpecs(c: CoupletConfig): { name: string; shape: number[] }[] {
  const { vocabSize: V, embedDim: E, hiddenDim: H } = c;
  return [
    { name: 'embedding', shape: [V, E] },
    ...['encoder', 'decoder'].flatMap((part) => [
      { name: `${part}.wx`, shape: [E, 4 * H] },
      { name: `${part}.wh`, shape: [H, 4 * H] },
      { name: `${part}.b`, shape: [4 * H] },
    ]),
    ...(c.attention
      ? [
          { name: 'attention.wa', shape: [H, H] },
          { name: 'attention.wc', shape: [2 * H, H] },
          { name: 'attention.bc', shape: [H] },
        ]
      : []),
    { name: 'out.w', shape: [H, V] },
    { name: 'out.b', shape: [V] },
  ];
}

/** Xavier (Glorot) uniform for matrices, unit-variance embeddings, forget-gate biases at 1 (as the poem model). */
export function initParams(c: CoupletConfig, seed = 1): CoupletParams {
  const rng = prand.xoroshiro128plus(seed);
  const uniform = () => (2 * prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng)) / 0x7fffffff - 1;
  return new Map(
    paramSpecs(c).map(({ name, shape }) => {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (name === 'embedding') values.forEach((_, i) => (values[i] = uniform() * Math.sqrt(3)));
      else if (shape.length === 2) values.forEach((_, i) => (values[i] = uniform() * Math.sqrt(6 / (shape[0]! + shape[1]!))));
      else if (name === 'encoder.b' || name === 'decoder.b') values.fill(1, c.hiddenDim, 2 * c.hiddenDim);
      return [name, values];
    }),
  );
}

type Weights = Map<string, tf.Tensor>;

function lstmStep(x: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D, w: Weights, part: string): [tf.Tensor2D, tf.Tensor2D] {
  const z = tf.add(tf.add(tf.matMul(x, w.get(`${part}.wx`) as tf.Tensor2D), tf.matMul(h, w.get(`${part}.wh`) as tf.Tensor2D)), w.get(`${part}.b`)!);
  const [i, f, g, o] = tf.split(z, 4, 1) as tf.Tensor2D[];
  const cNext = tf.add(tf.mul(tf.sigmoid(f!), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!))) as tf.Tensor2D;
  return [tf.mul(tf.sigmoid(o!), tf.tanh(cNext)) as tf.Tensor2D, cNext];
}

/**
 * Mean cross-entropy of the lower lines given the upper lines ([B, n] ids each, one length per batch).
 * `teacherForcing` is the chance that a decoder step is fed the true previous character rather than its
 * own best guess (1: always the truth; 0: always its own output, as when it writes).
 */
export function coupletLoss(c: CoupletConfig, w: Weights, upper: tf.Tensor2D, lower: tf.Tensor2D, teacherForcing = 1, dropout = 0): tf.Scalar {
  // dropout (training only) on every input embedding and on the state the output layer reads, as the poem model
  const drop = <T extends tf.Tensor>(x: T): T => (dropout > 0 ? (tf.dropout(x, dropout) as T) : x);
  const [B, n] = upper.shape;
  const embedding = w.get('embedding') as tf.Tensor2D;
  const uppers = tf.unstack(upper, 1) as tf.Tensor1D[];
  const lowers = tf.unstack(lower, 1) as tf.Tensor1D[];
  let h = tf.zeros([B, c.hiddenDim]) as tf.Tensor2D;
  let cell = tf.zeros([B, c.hiddenDim]) as tf.Tensor2D;
  const states: tf.Tensor2D[] = [];
  for (const ids of uppers) {
    [h, cell] = lstmStep(drop(tf.gather(embedding, ids)), h, cell, w, 'encoder');
    states.push(h);
  }
  const encoded = tf.stack(states, 1) as tf.Tensor3D; // [B, n, H]
  let previous = tf.fill([B], BOS, 'int32') as tf.Tensor1D;
  const outputs: tf.Tensor2D[] = [];
  const outW = tf.concat([w.get('out.w') as tf.Tensor2D, tf.reshape(w.get('out.b')!, [1, -1])], 0) as tf.Tensor2D; // bias as the last row
  for (let t = 0; t < n; t++) {
    [h, cell] = lstmStep(drop(tf.gather(embedding, previous)), h, cell, w, 'decoder');
    const hidden = tf.concat([drop(attend(c, w, h, encoded)), tf.ones([B, 1])], 1) as tf.Tensor2D;
    outputs.push(hidden);
    if (teacherForcing >= 1) previous = lowers[t]!;
    else {
      // its own best guess, as a new tensor: no gradient flows back through the choice
      const guess = tf.tensor1d(tf.tidy(() => tf.argMax(tf.matMul(hidden, outW), 1)).dataSync(), 'int32');
      previous = teacherForcing <= 0 ? guess : (tf.where(tf.less(tf.randomUniform([B]), teacherForcing), lowers[t]!, guess) as tf.Tensor1D);
    }
  }
  // the output layer and its loss once for all steps, fused (the poem model's outputNll)
  return tf.mean(outputNll(tf.concat(outputs, 0) as tf.Tensor2D, outW, tf.concat(lowers, 0) as tf.Tensor1D)) as tf.Scalar;
}

/** Luong's attentional hidden state tanh(Wc·[h; context]) over the encoder's states, or h without attention. */
function attend(c: CoupletConfig, w: Weights, h: tf.Tensor2D, encoded: tf.Tensor3D): tf.Tensor2D {
  if (!c.attention) return h;
  const query = tf.matMul(h, w.get('attention.wa') as tf.Tensor2D); // [B, H]
  const scores = tf.sum(tf.mul(encoded, tf.expandDims(query, 1)), 2); // [B, n]
  const weights = tf.softmax(scores);
  const context = tf.sum(tf.mul(encoded, tf.expandDims(weights, 2)), 1) as tf.Tensor2D;
  return tf.tanh(tf.add(tf.matMul(tf.concat([h, context], 1), w.get('attention.wc') as tf.Tensor2D), w.get('attention.bc')!)) as tf.Tensor2D;
}
