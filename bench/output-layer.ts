/**
 * Why training is not at 1× PyTorch: GFLOPS of the output layer's three products (forward x·W, and the two
 * gradient products g·Wᵀ and xᵀ·g) for one worker's share of a batch, one thread, TensorFlow.js wasm beside
 * PyTorch (OpenBLAS). The output layer is the largest part of every training step.
 *
 *   npx tsx bench/output-layer.ts
 */
import { spawnSync } from 'node:child_process';
import { initBackend, tf } from '../src/model/runtime/backend.js';

const N = 1536,
  K = 257,
  V = 5286; // tokens per worker per step, hidden + bias column, vocabulary
const gflops = (ms: number) => ((2 * N * K * V) / ms / 1e6).toFixed(1);

console.log(`backend ${await initBackend()}, [${N} × ${K}] · [${K} × ${V}], one thread, mean of 6 after 2 warm-ups`);
const x = tf.randomNormal([N, K]),
  w = tf.randomNormal([K, V]),
  g = tf.randomNormal([N, V]);
const time = (f: () => tf.Tensor) => {
  for (let i = 0; i < 2; i++) f().dispose();
  const t0 = performance.now();
  for (let i = 0; i < 6; i++) {
    const r = f();
    r.dataSync();
    r.dispose();
  }
  return (performance.now() - t0) / 6;
};
for (const [name, f] of [
  ['x·W ', () => tf.matMul(x, w)],
  ['g·Wᵀ', () => tf.matMul(g, w, false, true)],
  ['xᵀ·g', () => tf.matMul(x, g, true, false)],
] as const) {
  const ms = time(f);
  console.log(`tfjs    ${name}: ${ms.toFixed(1)} ms, ${gflops(ms)} GFLOPS`);
}

const python = `
import time
import torch  # OPENBLAS_NUM_THREADS=1 comes from the environment below, as it must be set before the import
torch.set_num_threads(1)
N, K, V = ${N}, ${K}, ${V}
x, w, g = torch.randn(N, K), torch.randn(K, V), torch.randn(N, V)
for name, f in [("x·W ", lambda: x @ w), ("g·Wᵀ", lambda: g @ w.t()), ("xᵀ·g", lambda: x.t() @ g)]:
    for _ in range(2): f()
    t0 = time.perf_counter()
    for _ in range(6): f()
    ms = (time.perf_counter() - t0) / 6 * 1e3
    print(f"pytorch {name}: {ms:.1f} ms, {2 * N * K * V / ms / 1e6:.1f} GFLOPS")
`;
const r = spawnSync('/usr/bin/python3', ['-c', python], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
console.log(r.status === 0 ? r.stdout.trimEnd() : `pytorch skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
