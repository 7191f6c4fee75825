/**
 * Where E256/H512 training loses to PyTorch: each product of a training step, at its shape, on native
 * TensorFlow's MatMul (model.ts's matMul, the kernel of its own products) and in PyTorch (MKL, the bench's venv,
 * when `npm run bench` has made it), 2 threads each, GMAC/s (10⁹ multiply-adds a second, best of 3 rounds of
 * 20 after 3 warm-ups, the result kept in TensorFlow: no copy out). A batch: 34 steps × 90 poems.
 *
 *   npx tsx bench/matmul-shapes.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TORCH_VENV } from '../src/cli/bench.js';
import { describeBackend, tf, useBackend } from '../src/model/runtime/backend.js';
import { matMul } from '../src/model/runtime/native-ops.js';

const [T, B, E, H, V] = [34, 90, 256, 512, 5286];
const N = T * B;
// [name, M, K, N, transposeA, transposeB]: a·b with a [M, K] (or [K, M] when transposed), b [K, N] (or [N, K])
const shapes: [string, number, number, number, boolean, boolean][] = [
  ['forward, one step: h·Wh', B, H, 4 * H, false, false],
  ['forward, one step, feature-major: Whᵀ·hᵀ', 4 * H, H, B, false, false],
  ['backward, one step: dz·Whᵀ (Whᵀ materialised)', B, 4 * H, H, false, false],
  ['backward, one step: dz·Wh with transpose_b', B, 4 * H, H, false, true],
  ['input projection, all steps: x·Wx', N, E, 4 * H, false, false],
  ['dWh, all steps: h_prevᵀ·dz', H, N, 4 * H, true, false],
  ['output layer: h·Wout', N, H, V, false, false],
  ['output layer: dlogits·Woutᵀ', N, V, H, false, true],
];

const info = await useBackend('node');

const python = `
import json, sys, time, torch
torch.set_num_threads(2)
out = []
for M, K, N, ta, tb in json.loads(sys.argv[1]):
    a = torch.randn(K, M) if ta else torch.randn(M, K)
    b = torch.randn(N, K) if tb else torch.randn(K, N)
    f = lambda: (a.t() if ta else a) @ (b.t() if tb else b)
    for _ in range(3): f()
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(20): f()
        best = min(best, (time.perf_counter() - t0) / 20)
    out.append(M * K * N / best / 1e9)
print(json.dumps(out))
`;
const torchPython = `${TORCH_VENV}bin/python`;
let torch: number[] | undefined;
if (existsSync(torchPython)) {
  const r = spawnSync(torchPython, ['-c', python, JSON.stringify(shapes.map(([, M, K, n, ta, tb]) => [M, K, n, ta, tb]))], { encoding: 'utf8' });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim());
}

console.log(`${describeBackend(info)}; PyTorch: ${torch ? 'the bench venv, 2 threads' : 'not found (run `npm run bench` once to make .venv-bench)'}`);
shapes.forEach(([name, M, K, n, ta, tb], k) => {
  const a = tf.randomNormal(ta ? [K, M] : [M, K]) as tf.Tensor2D;
  const b = tf.randomNormal(tb ? [n, K] : [K, n]) as tf.Tensor2D;
  for (let i = 0; i < 3; i++) matMul(a, b, ta, tb).dispose();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const y = matMul(a, b, ta, tb);
      if (i === 19) y.dataSync(); // waits for the last one (ops run in order)
      y.dispose();
    }
    best = Math.min(best, (performance.now() - t0) / 20);
  }
  const ours = (M * K * n) / best / 1e6;
  const theirs = torch?.[k];
  console.log(
    `${name.padEnd(48)} [${M}×${K}]·[${K}×${n}]  TensorFlow ${ours.toFixed(1)} GMAC/s${theirs ? `, PyTorch ${theirs.toFixed(1)} (${(ours / theirs).toFixed(2)}×)` : ''}`,
  );
  a.dispose();
  b.dispose();
});
