import { describe, expect, it } from 'vitest';
import { LstmCells } from '../src/model/kernels/lstm-cell.js';
import { lcg } from './helpers.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The cell in float64: i f g o gates over z + bias. */
function reference(z: Float32Array, bias: Float32Array, c: Float32Array, H: number): { c: number[]; h: number[] } {
  const out = { c: [] as number[], h: [] as number[] };
  for (let j = 0; j < H; j++) {
    const i = sigmoid(z[j]! + bias[j]!),
      f = sigmoid(z[H + j]! + bias[H + j]!);
    const g = Math.tanh(z[2 * H + j]! + bias[2 * H + j]!),
      o = sigmoid(z[3 * H + j]! + bias[3 * H + j]!);
    out.c.push(f * c[j]! + i * g);
    out.h.push(o * Math.tanh(out.c[j]!));
  }
  return out;
}

describe('LstmCells', () => {
  it('steps many cells as the LSTM equations do, with one bias per sequence or one for all', async () => {
    const H = 12,
      B = 5;
    const cells = await LstmCells.create(H);
    const uniform = lcg(3);
    const rand = (scale: number) => (uniform() - 0.5) * 2 * scale;
    for (const shared of [false, true]) {
      const z = Array.from({ length: B }, () => Float32Array.from({ length: 4 * H }, () => rand(12))); // past tanh's clamp at ±7.9 too
      const bias = shared ? Float32Array.from({ length: 4 * H }, () => rand(1)) : z.map(() => Float32Array.from({ length: 4 * H }, () => rand(1)));
      const states = z.map(() => ({ c: Float32Array.from({ length: H }, () => rand(3)), h: new Float32Array(H) }));
      const want = states.map((s, b) => reference(z[b]!, Array.isArray(bias) ? bias[b]! : bias, s.c, H));
      cells.step(z, bias, states);
      states.forEach((s, b) => {
        for (let j = 0; j < H; j++) {
          expect(s.c[j]).toBeCloseTo(want[b]!.c[j]!, 5);
          expect(s.h[j]).toBeCloseTo(want[b]!.h[j]!, 5);
        }
      });
    }
  });

  it('takes a hidden size that is not a multiple of four (the kernel works four cells at a time)', async () => {
    const H = 7;
    const cells = await LstmCells.create(H);
    const z = [Float32Array.from({ length: 4 * H }, (_, k) => Math.sin(k)), Float32Array.from({ length: 4 * H }, (_, k) => Math.cos(k))];
    const bias = Float32Array.from({ length: 4 * H }, (_, k) => k / 40);
    const states = z.map((_, b) => ({ c: Float32Array.from({ length: H }, (_, j) => j - b), h: new Float32Array(H) }));
    const want = states.map((s, b) => reference(z[b]!, bias, s.c, H));
    cells.step(z, bias, states);
    states.forEach((s, b) => want[b]!.h.forEach((h, j) => expect(s.h[j]).toBeCloseTo(h, 5)));
  });
});
