/**
 * The poem kernels side by side: the native ones (kernels/x86/poem-kernels.c: the int8 products, the LSTM cell, the
 * sampler's top-k) and the WebAssembly ones (int8-matvec.wat, lstm-cell.wat, sampler.ts's JavaScript), each
 * in its own child process (POEM_KERNELS chooses), alternated `--rounds` times so that both see the
 * machine in the same state. Each round measures, on one thread: GMAC/s (10⁹ multiply-adds a second) of the
 * model's three matrix shapes at 1, 16 and 64 inputs a product (best of 5 after 2 warm-ups), and a burst of
 * 200 poems written in batches of 64, with the multiply-adds it needed (counted on the shipped model).
 *
 *   npx tsx bench/int8-kernel.ts [--rounds 2]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Int8Matrix, type ProductOptions } from '../src/model/kernels/int8-matvec.js';
import { describeKernels } from '../src/model/kernels/native-kernels.js';
import { PoemModel } from '../src/model/poem/decode/generate.js';
import { lcg } from '../test/helpers.js';

type Round = { kernel: string; gmacs: Record<string, Record<number, number>>; burstMs: number; burstGmac: number; outputShare: number };
const BATCHES = [1, 16, 64];

async function measure(): Promise<Round> {
  const next = lcg(5);
  const model = await PoemModel.load(undefined, { threads: 1 });
  const { hiddenDim: H, vocabSize: V } = model.manifest.config.model;
  const shapes: [string, number, number][] = [
    ['layer 0, h·Wh', H, 4 * H],
    ['layer 1, [x, h]·[Wx; Wh]', 2 * H, 4 * H],
    ['output, h·W', H, V],
  ];
  const gmacs: Round['gmacs'] = {};
  for (const [name, K, N] of shapes) {
    const matrix = await Int8Matrix.create(
      Float32Array.from({ length: K * N }, () => next() - 0.5),
      K,
      N,
    );
    gmacs[`${name} [${K} × ${N}]`] = {};
    for (const B of BATCHES) {
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
      gmacs[`${name} [${K} × ${N}]`]![B] = (K * N * B) / best / 1e6;
    }
  }
  // a burst: every product of the poem model counted (a wrapper around Int8Matrix.productViews)
  let macs = 0;
  let outputMacs = 0;
  const productViews = Int8Matrix.prototype.productViews;
  Int8Matrix.prototype.productViews = function (this: Int8Matrix, inputs: readonly Float32Array[], options?: ProductOptions) {
    const n = (options?.columns ? options.columns.length : this.cols) * this.rows * inputs.length;
    macs += n;
    if (this.cols === V) outputMacs += n;
    return productViews.call(this, inputs, options);
  };
  const starts = ['日', '月', '山', '水', '風', '花', '雪'];
  const burst = starts.flatMap((start) => Array.from({ length: 30 }, (_, k) => ({ start, seed: 7000 + k }))).slice(0, 200);
  const t = performance.now();
  for (let k = 0; k < burst.length; k += 64) model.generateMany(burst.slice(k, k + 64));
  const burstMs = performance.now() - t;
  Int8Matrix.prototype.productViews = productViews;
  model.dispose();
  return { kernel: describeKernels(true), gmacs, burstMs, burstGmac: macs / 1e9, outputShare: outputMacs / macs };
}

if (process.env.POEM_KERNELS) {
  console.log(`ROUND ${JSON.stringify(await measure())}`);
} else {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' } } });
  const rounds: Record<'native' | 'wasm', Round[]> = { native: [], wasm: [] };
  for (let r = 0; r < Number(values.rounds); r++)
    for (const kernel of ['native', 'wasm'] as const) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname], {
        encoding: 'utf8',
        env: { ...process.env, POEM_KERNELS: kernel, TF_CPP_MIN_LOG_LEVEL: '3' },
      });
      const line = /ROUND (.*)/.exec(child.stdout)?.[1];
      if (!line) throw new Error(`the ${kernel} round failed: ${child.stderr.trim().split('\n').slice(-3).join(' ')}`);
      rounds[kernel].push(JSON.parse(line));
    }
  const range = (xs: number[], digits = 0) => {
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)].map((x) => x.toFixed(digits));
    return lo === hi ? lo : `${lo}–${hi}`;
  };
  console.log(`native: ${rounds.native[0]!.kernel}; WebAssembly; ${values.rounds} rounds each, alternated, one thread`);
  for (const shape of Object.keys(rounds.native[0]!.gmacs)) {
    const cells = BATCHES.map((B) => {
      const n = rounds.native.map((r) => r.gmacs[shape]![B]!);
      const w = rounds.wasm.map((r) => r.gmacs[shape]![B]!);
      return `B=${B} ${range(n, 1)} vs ${range(w, 1)} (${range(
        n.map((x, i) => x / w[i]!),
        2,
      )}×)`;
    });
    console.log(`${shape}, GMAC/s native vs WebAssembly: ${cells.join(' · ')}`);
  }
  const { burstGmac, outputShare } = rounds.native[0]!;
  const rate = (r: Round) => (200 / r.burstMs) * 1000;
  console.log(
    `a burst of 200 poems in batches of 64, one thread: ${burstGmac.toFixed(1)} G multiply-adds (${(100 * outputShare).toFixed(0)}% in the output layer); ` +
      `native ${range(rounds.native.map(rate))} poems/s (${range(rounds.native.map((r) => burstGmac / (r.burstMs / 1000), 1))} GMAC/s over the whole burst), ` +
      `WebAssembly ${range(rounds.wasm.map(rate))} poems/s; ${range(
        rounds.native.map((r, i) => rate(r) / rate(rounds.wasm[i]!)),
        2,
      )}×`,
  );
}
