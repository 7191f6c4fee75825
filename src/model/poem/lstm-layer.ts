/**
 * One LSTM layer over a sequence, x: [T, B, I] → h: [T, B, H], three ways: the step loop differentiated by
 * TensorFlow.js autograd (the reference for the gradient check); TensorFlow's ops with the backward pass
 * derived by hand (BPTT); and native code (kernels/x86/train-lstm.c), forward and backward. lstmLayer picks
 * the hand-derived one that runs here. Gate order in every [*, 4H] matrix: input i, forget f, candidate g, output o.
 */
import { runsOnGpu, tf } from '../runtime/backend.js';
import { blockLstm, matMul } from '../runtime/native-ops.js';
import { nativeLstmKernels, type LstmKernels } from '../kernels/native-kernels.js';

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

export type LstmLayer = (x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor3D;

const xProjection = (x: tf.Tensor3D, wx: tf.Tensor2D, b: tf.Tensor1D) => {
  const [T, B, I] = x.shape;
  return tf.reshape(tf.add(tf.matMul(tf.reshape(x, [T * B, I]), wx), b), [T, B, wx.shape[1]]) as tf.Tensor3D;
};

/** Autograd version: TensorFlow.js differentiates the unrolled loop itself (the reference for the gradient check). */
export const lstmLayerAutograd: LstmLayer = (x, wx, wh, b) => lstmForwardSteps(xProjection(x, wx, b), wh).hs;

/**
 * The forward pass of a layer, as the step loop above or, on native TensorFlow, as its fused BlockLSTMV2
 * kernel (gate order i f g o, no peepholes, no clipping: the same LSTM, faster: bench/lstm-kernels.ts), which
 * returns the same gates and cells the backward pass needs.
 */
export function lstmForward(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) {
  return blockLstm(x, wx, wh, b) ?? lstmForwardSteps(xProjection(x, wx, b), wh);
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
 * once before the loop, so each step is 7 small ops: on a native backend each op costs its dispatch, and the
 * per-step loop, not the arithmetic, set the pace. (TensorFlow's own fused gradient, BlockLSTMGradV2, is
 * slower: bench/lstm-kernels.ts.)
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
 * The same layer as native code (kernels/x86/train-lstm.c: 6 × 16 AVX2 + FMA tiles; per step one product and the gates),
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
 * The layer with the hand-derived backward pass: kernels/x86/train-lstm.c where it loads and I and H are multiples of 16
 * (on the CPU, whatever the backend), else TensorFlow's ops (always on a GPU).
 */
export const lstmLayer: LstmLayer = (x, wx, wh, b) => {
  const kernels = wh.shape[0] % 16 === 0 && x.shape[2] % 16 === 0 && !runsOnGpu() ? nativeLstmKernels() : undefined;
  if (!kernels) return lstmLayerTensorFlow(x, wx, wh, b);
  nativeLayer ??= lstmLayerNative(kernels);
  return nativeLayer(x, wx, wh, b);
};
