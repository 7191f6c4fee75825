/**
 * Why a burst is not served at 200 poems/s with the E256/H512 model: the multiply-adds a burst of 200 poems
 * needs (counted on the shipped model, the bench's burst of free forms in batches of 64), against what the
 * int8 kernel does on one thread for the model's three matrix shapes at 1, 16 and 64 inputs a product.
 *
 *   npx tsx bench/int8-kernel.ts
 */
import { Int8Matrix } from '../src/model/int8-matvec.js';
import { PoemModel } from '../src/model/generate.js';
import { lcg } from '../test/helpers.js';

// 1. the kernel alone: GMAC/s (10⁹ multiply-adds a second), one thread, best of 5 after 2 warm-ups
const next = lcg(5);
const model = await PoemModel.load(undefined, { threads: 1 });
const { embedDim: E, hiddenDim: H, vocabSize: V } = model.manifest.config.model;
const shapes: [string, number, number][] = [
  ['layer 0, h·Wh', H, 4 * H],
  ['layer 1, [x, h]·[Wx; Wh]', 2 * H, 4 * H],
  ['output, h·W', H, V],
];
console.log(`model E${E}/H${H}, vocabulary ${V}`);
const kernelGmacs: Record<string, Record<number, number>> = {};
for (const [name, K, N] of shapes) {
  const matrix = await Int8Matrix.create(
    Float32Array.from({ length: K * N }, () => next() - 0.5),
    K,
    N,
  );
  kernelGmacs[name] = {};
  for (const B of [1, 16, 64]) {
    const xs = Array.from({ length: B }, () => Float32Array.from({ length: K }, () => next() * 2 - 1));
    matrix.applyMany(xs);
    matrix.applyMany(xs);
    const reps = Math.max(3, Math.round(2e8 / (K * N * B)));
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) matrix.applyMany(xs);
      best = Math.min(best, (performance.now() - t) / reps);
    }
    kernelGmacs[name]![B] = +((K * N * B) / best / 1e6).toFixed(1);
  }
  console.log(
    `${name} [${K} × ${N}]: ${Object.entries(kernelGmacs[name]!)
      .map(([B, g]) => `B=${B} ${g} GMAC/s`)
      .join(', ')}`,
  );
}

// 2. a burst: every product of the poem model counted (a wrapper around Int8Matrix.applyMany)
let macs = 0;
let outputMacs = 0;
const applyMany = Int8Matrix.prototype.applyMany;
Int8Matrix.prototype.applyMany = function (this: Int8Matrix, inputs: Float32Array[], columns?: Int32Array) {
  const n = (columns ? columns.length : this.cols) * this.rows * inputs.length;
  macs += n;
  if (this.cols === V) outputMacs += n;
  return applyMany.call(this, inputs, columns);
};
const starts = ['日', '月', '山', '水', '風', '花', '雪'];
const burst = starts.flatMap((start) => Array.from({ length: 30 }, (_, k) => ({ start, seed: 7000 + k }))).slice(0, 200);
const t = performance.now();
for (let k = 0; k < burst.length; k += 64) model.generateMany(burst.slice(k, k + 64));
const ms = performance.now() - t;
Int8Matrix.prototype.applyMany = applyMany;
model.dispose();
const ceiling = Math.max(...Object.values(kernelGmacs).map((g) => g[64]!));
console.log(
  `a burst of 200 poems: ${(macs / 1e9).toFixed(1)} G multiply-adds (${((100 * outputMacs) / macs).toFixed(0)}% in the output layer), ${ms.toFixed(0)} ms on one thread (${(macs / ms / 1e6).toFixed(1)} GMAC/s, ${((200 / ms) * 1000).toFixed(0)} poems/s); ` +
    `200 poems/s needs ${(macs / 1e9).toFixed(1)} GMAC/s, the kernel's best at 64 inputs is ${ceiling} GMAC/s a thread`,
);
