/**
 * Run in a child process by native-kernels.test.ts, whose environment chooses the kernel (POEM_KERNELS,
 * TANGSHI_KERNELS_ISA): int8 products of fixed random matrices, the shapes and batches every path of the kernels
 * takes, and LSTM cell steps, printed as one sha256 of all their bits, with the kernel that ran them.
 */
import { createHash } from 'node:crypto';
import { Int8Matrix } from '../../src/model/kernels/int8-matvec.js';
import { nativeKernelsInfo } from '../../src/model/kernels/native-kernels.js';
import { LstmCells } from '../../src/model/kernels/lstm-cell.js';
import { ProductHelper } from '../../src/model/kernels/product-helper.js';
import { lcg } from '../helpers.js';

const next = lcg(21);
const hash = createHash('sha256');
const add = (outputs: Float32Array[]) => {
  for (const o of outputs) hash.update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
};
const helper = await ProductHelper.start();
// K: a multiple of 32, one that pads to an odd 16, K beyond one 2048-chunk; N: not a multiple of 4
for (const [K, N] of [
  [64, 9],
  [70, 23],
  [528, 130],
  [2100, 7],
] as const) {
  const w = Float32Array.from({ length: K * N }, () => next() - 0.5);
  const bias = Float32Array.from({ length: N }, () => next() - 0.5);
  for (const matrix of [await Int8Matrix.create(w, K, N, bias), await Int8Matrix.create(w, K, N, bias, helper)]) {
    for (const B of [1, 2, 3, 4, 6, 9, 11, 17]) {
      // every remainder of B mod 4, in tiles of their own
      const xs = Array.from({ length: B }, (_, b) => (b === 1 ? new Float32Array(K) : Float32Array.from({ length: K }, () => next() * 2 - 1)));
      add(matrix.applyMany(xs));
      const columns = Int32Array.from({ length: Math.ceil(N / 2) + 1 }, (_, c) => (c * 5) % N);
      add(matrix.applyMany(xs, columns).map((o) => Float32Array.from(columns, (j) => o[j]!)));
    }
  }
}
// the largest products there are: 127 · 32767 in every position
const K = 4100;
const w = new Float32Array(K * 5).fill(127);
for (let k = 0; k < K; k++) w[k * 5 + 1] = -127;
add((await Int8Matrix.create(w, K, 5)).applyMany([new Float32Array(K).fill(32767), new Float32Array(K).fill(-32767)]));
await helper.close();
// the LSTM cells (lstm-cell.wat or its native twin): widths that are not a multiple of 16 or 4, one bias
// for all or one per sequence, inputs wide enough to reach the clamp of tanh
for (const H of [36, 37, 100]) {
  const cells = await LstmCells.create(H);
  for (const B of [1, 3, 5]) {
    const z = Array.from({ length: B }, () => Float32Array.from({ length: 4 * H }, () => (next() - 0.5) * 24));
    const biases = Array.from({ length: B }, () => Float32Array.from({ length: 4 * H }, () => next() - 0.5));
    const states = Array.from({ length: B }, () => ({ c: Float32Array.from({ length: H }, () => (next() - 0.5) * 4), h: new Float32Array(H) }));
    cells.step(z, biases, states);
    cells.step(z, biases[0]!, states);
    add(states.flatMap((s) => [s.c, s.h]));
  }
}
console.log(JSON.stringify({ kernel: nativeKernelsInfo(), digest: hash.digest('hex') }));
