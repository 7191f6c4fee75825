/**
 * One LSTM layer on native TensorFlow, the ways it can be run: forward as the step loop (one op at a time
 * from JavaScript) or as TensorFlow's fused BlockLSTMV2; backward as our hand-derived BPTT in TensorFlow's
 * ops or as TensorFlow's BlockLSTMGradV2; and the whole layer in kernels/x86/train-lstm.c (what training runs where it
 * loads). Prints ms per layer for a batch like the trainer's (T steps × B poems).
 *
 *   npx tsx bench/lstm-kernels.ts [--hidden 256] [--input 256] [--steps 34] [--batch 90]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { describeBackend, tf, useBackend } from '../src/model/runtime/backend.js';
import { lstmForward, lstmForwardSteps, lstmLayerNative, lstmLayerTensorFlow } from '../src/model/poem/lstm-layer.js';
import { nativeLstmKernels } from '../src/model/kernels/native-kernels.js';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '256' },
    input: { type: 'string', default: '256' },
    steps: { type: 'string', default: '34' },
    batch: { type: 'string', default: '90' },
  },
});
const [H, I, T, B] = [values.hidden, values.input, values.steps, values.batch].map(Number) as [number, number, number, number];
const info = await useBackend('node');
const native = tf.backend() as unknown as {
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], n: number): tf.Tensor[];
  binding: Record<string, number>;
};
const { Int64Scalar } = createRequire(import.meta.url)('@tensorflow/tfjs-node/dist/int64_tensors.js');
const b = native.binding;

const x = tf.randomNormal([T, B, I]) as tf.Tensor3D;
const wx = tf.mul(tf.randomNormal([I, 4 * H]), 0.05) as tf.Tensor2D;
const wh = tf.mul(tf.randomNormal([H, 4 * H]), 0.05) as tf.Tensor2D;
const bias = tf.zeros([4 * H]) as tf.Tensor1D;
const dy = tf.randomNormal([T, B, H]) as tf.Tensor3D;
const zeros = tf.zeros([B, H]);
const noPeephole = tf.zeros([H]);
const w = tf.concat([wx, wh], 0);

const ms = (f: () => tf.Tensor, n = 5) => {
  tf.tidy(() => void f().dataSync());
  const t0 = performance.now();
  for (let k = 0; k < n; k++) tf.tidy(() => void f().dataSync());
  return (performance.now() - t0) / n;
};
const fusedGrad = () => {
  const outs = native.executeMultipleOutputs(
    'BlockLSTMV2',
    [
      { name: 'cell_clip', type: b.TF_ATTR_FLOAT, value: 0 },
      { name: 'use_peephole', type: b.TF_ATTR_BOOL, value: false },
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    ],
    [new Int64Scalar(T), x, zeros, zeros, w, noPeephole, noPeephole, noPeephole, bias],
    7,
  );
  return native.executeMultipleOutputs(
    'BlockLSTMGradV2',
    [
      { name: 'use_peephole', type: b.TF_ATTR_BOOL, value: false },
      { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    ],
    [new Int64Scalar(T), x, zeros, zeros, w, noPeephole, noPeephole, noPeephole, bias, ...outs, tf.zerosLike(dy), dy],
    8,
  )[3]!;
};
type Layer = typeof lstmLayerTensorFlow;
const lossOf =
  (layer: Layer) =>
  (...a: tf.Tensor[]) =>
    tf.sum(tf.mul(layer(...(a as Parameters<Layer>)), dy));
const kernels = nativeLstmKernels();
const rows = {
  forward_step_loop_ms: ms(() => lstmForwardSteps(tf.reshape(tf.add(tf.matMul(tf.reshape(x, [T * B, I]), wx), bias), [T, B, 4 * H]) as tf.Tensor3D, wh).hs),
  forward_fused_BlockLSTMV2_ms: ms(() => lstmForward(x, wx, wh, bias).hs),
  forward_backward_hand_bptt_ms: ms(() => tf.grads(lossOf(lstmLayerTensorFlow))([x, wx, wh, bias])[2]!),
  forward_backward_BlockLSTMGradV2_ms: ms(fusedGrad),
  ...(kernels && {
    forward_native_lstm_ms: ms(() => lstmLayerNative(kernels)(x, wx, wh, bias)),
    forward_backward_native_lstm_ms: ms(() => tf.grads(lossOf(lstmLayerNative(kernels)))([x, wx, wh, bias])[2]!),
  }),
};
console.log(
  JSON.stringify({
    backend: describeBackend(info),
    T,
    B,
    input: I,
    hidden: H,
    ...Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, +v.toFixed(1)])),
  }),
);
