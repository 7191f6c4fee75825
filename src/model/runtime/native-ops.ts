/**
 * TensorFlow kernels called by name on native TensorFlow (tfjs-node), where TensorFlow.js has no op for them
 * or runs a slower one. Each returns undefined on other backends, and the caller computes the same thing
 * with TensorFlow.js's own ops. This is the one file that reaches into tfjs-node's internals (its backend's
 * executeMultipleOutputs and its int64 scalar class).
 */
import { createRequire } from 'node:module';
import { tf } from './backend.js';

const nativeRequire = createRequire(import.meta.url);

type NativeBackend = {
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], outputs: number): tf.Tensor[];
  binding: Record<string, number>;
};

/** The native TensorFlow backend, when it runs this thread (its kernels can then be called by name). */
function nativeBackend(): NativeBackend | undefined {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as NativeBackend) : undefined;
}

/** An int64 scalar input for a native op (TF.js has no int64 tensors; tfjs-node has its own class for them). */
function int64(value: number): unknown {
  return new (nativeRequire('@tensorflow/tfjs-node/dist/int64_tensors.js').Int64Scalar)(value);
}

/**
 * a·b (either transposed) inside our own gradients, where no tape records it: on native TensorFlow its
 * MatMul kernel, faster than the BatchMatMulV2 that tf.matMul runs (bench/matmul-shapes.ts).
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
 * TensorFlow's fused BlockLSTMV2 over a sequence x: [T, B, I] (gate order i f g o, no peepholes, no clipping),
 * from zero state; its outputs in our order: hs, cs, tanh(cs) and the gates, each [T, B, H].
 */
export function blockLstm(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) {
  const native = nativeBackend();
  if (!native) return undefined;
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

/** TensorFlow's fused SparseSoftmaxCrossEntropyWithLogits: −log softmax(logits)[target] and softmax − onehot, one pass over [N, V]. */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): { nll: tf.Tensor1D; dLogits: tf.Tensor2D } | undefined {
  const native = nativeBackend();
  if (!native) return undefined;
  const b = native.binding;
  const attrs = [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'Tlabels', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
  ];
  const [nll, dLogits] = native.executeMultipleOutputs('SparseSoftmaxCrossEntropyWithLogits', attrs, [logits, targets], 2);
  return { nll: nll as tf.Tensor1D, dLogits: dLogits as tf.Tensor2D };
}

/**
 * Uniform numbers in [0, 1) from TensorFlow's StatelessRandomUniform: tf.randomUniform draws every number in
 * JavaScript, and the stateful RandomUniform kernel is cached between calls, so a seed would not repeat.
 */
export function statelessUniform(shape: number[], seeds: [number, number]): tf.Tensor | undefined {
  const native = nativeBackend();
  if (!native) return undefined;
  const b = native.binding;
  const attrs = [
    { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    { name: 'Tseed', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
  ];
  return native.executeMultipleOutputs('StatelessRandomUniform', attrs, [tf.tensor1d(shape, 'int32'), tf.tensor1d(seeds, 'int32')], 1)[0]!;
}
