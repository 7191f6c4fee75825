/**
 * Two builds of the native poem kernels (build/native-kernels.node and another, e.g. one compiled from a
 * changed kernels/x86/poem-kernels.c) against each other in one process: each int8 product shape of the poem model
 * (K = 512 for the output layer, K = 1024 for layer 1; all columns or a tone mask's share of them) run by the
 * two in turn, 15 rounds, the best round of each kept. Turns that alternate within a second see the same
 * machine state, so the ratio holds where the machine's speed varies by a fifth between runs.
 * `TANGSHI_KERNELS_ISA=avx2` runs both on their AVX2 tiles.
 *
 *   cc -O3 -shared -fPIC -ffp-contract=off -I/usr/include/node src/model/kernels/x86/poem-kernels.c src/model/kernels/x86/train-lstm.c -o /tmp/new.node
 *   npx tsx bench/kernel-ab.ts --against /tmp/new.node [--shapes 512x5286:64:0.65,1024x2048:64:1]
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NATIVE_KERNELS_FILE } from '../src/model/kernels/native-kernels.js';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: NATIVE_KERNELS_FILE },
    against: { type: 'string' },
    // KxN:inputs:share of the columns
    shapes: { type: 'string', default: '512x5286:64:0.65,512x5286:64:1,512x5286:16:0.65,512x5286:4:0.65,1024x2048:64:1,1024x2048:16:1,1024x2048:4:1' },
  },
});
if (!values.against) throw new Error('--against FILE: the other build of native-kernels.node');
type Matmul = (memory: Uint8Array, ...offsetsAndSizes: number[]) => void;
const load = (file: string) => createRequire(import.meta.url)(resolve(file)) as { isa: string; matmul?: Matmul };
const builds = [load(values.base), load(values.against)];
const matmuls = builds.map(
  (b, k) =>
    b.matmul ??
    (() => {
      throw new Error(`${k ? values.against : values.base}: no matmul (isa "${b.isa}")`);
    })(),
);
console.log(`base ${values.base} (${builds[0]!.isa}) · against ${values.against} (${builds[1]!.isa})`);

const memory = new Uint8Array(32 << 20);
const view = new DataView(memory.buffer);
let free = 0;
const alloc = (bytes: number) => {
  const at = free;
  free += (bytes + 63) & ~63;
  if (free > memory.length) throw new Error('kernel-ab: the shapes need more than 32 MB');
  return at;
};
const hash = (i: number) => Math.imul(i, 2654435761) >>> 0; // fixed pseudo-random numbers: the same inputs for both builds

for (const shape of values.shapes.split(',')) {
  const [kn, inputs, share] = shape.split(':');
  const [K, N] = kn!.split('x').map(Number) as [number, number];
  const B = Number(inputs);
  free = 0;
  const [w, rowScale, bias, x, xScale, out] = [alloc(K * N), alloc(4 * N), alloc(4 * N), alloc(2 * K * B), alloc(4 * B), alloc(4 * N * B)];
  for (let i = 0; i < K * N; i++) memory[w + i] = hash(i) >>> 24;
  for (let j = 0; j < N; j++) {
    view.setFloat32(rowScale + 4 * j, 0.01, true);
    view.setFloat32(bias + 4 * j, 0.1, true);
  }
  for (let i = 0; i < K * B; i++) view.setInt16(x + 2 * i, (hash(i + 7) >>> 16) - 32768, true);
  for (let b = 0; b < B; b++) view.setFloat32(xScale + 4 * b, 0.001, true);
  // a tone mask's columns: a fixed pseudo-random share of them, in order (a mask lists its ids sorted)
  const columns = Array.from({ length: N }, (_, j) => j).filter((j) => Number(share) >= 1 || hash(j) / 2 ** 32 < Number(share));
  const columnsAt = alloc(4 * columns.length);
  columns.forEach((c, i) => view.setInt32(columnsAt + 4 * i, c, true));
  const macs = K * columns.length * B;
  const reps = Math.max(3, Math.round(3e8 / macs));
  const best = [Infinity, Infinity];
  for (let round = 0; round < 15; round++)
    matmuls.forEach((matmul, k) => {
      const t = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) matmul(memory, w, rowScale, bias, x, xScale, out, K, N, B, columnsAt, columns.length);
      best[k] = Math.min(best[k]!, Number(process.hrtime.bigint() - t) / 1e6 / reps);
    });
  const gmacs = (ms: number) => (macs / ms / 1e6).toFixed(1);
  console.log(
    `K ${K} × ${columns.length} of ${N} columns, ${B} inputs: base ${gmacs(best[0]!)} · against ${gmacs(best[1]!)} GMAC/s (×${(best[0]! / best[1]!).toFixed(3)})`,
  );
}
