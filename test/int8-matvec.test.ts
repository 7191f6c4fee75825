import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Int8Matrix } from '../src/model/kernels/int8-matvec.js';
import { ProductHelper, SPLIT_MAX_INPUTS, SPLIT_MIN_MACS } from '../src/model/kernels/product-helper.js';
import { lcg } from './helpers.js';

/** x·W in float64, W row-major K×N. */
function exact(x: Float32Array, w: Float32Array, K: number, N: number): Float64Array {
  const out = new Float64Array(N);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) out[j]! += x[k]! * w[k * N + j]!;
  return out;
}

describe('Int8Matrix with a helper thread', () => {
  it('gives every product bit for bit as one thread does: one input or many, all columns or some', async () => {
    const K = 300,
      N = 1100; // K·N above the split size; K not a multiple of 16, N odd halves
    expect(K * N).toBeGreaterThan(SPLIT_MIN_MACS);
    const next = lcg(11);
    const w = Float32Array.from({ length: K * N }, () => next() - 0.5);
    const bias = Float32Array.from({ length: N }, () => next());
    const helper = await ProductHelper.start();
    try {
      const [alone, shared] = await Promise.all([Int8Matrix.create(w, K, N, bias), Int8Matrix.create(w, K, N, bias, helper)]);
      const columns = Int32Array.from({ length: 517 }, (_, c) => (c * 13) % N);
      for (const B of [1, 3, 4, 8, 9]) {
        const xs = Array.from({ length: B }, () => Float32Array.from({ length: K }, () => next() * 2 - 1));
        const posted = helper.jobsPosted;
        expect(shared.applyMany(xs), `B = ${B}`).toEqual(alone.applyMany(xs));
        // shared up to SPLIT_MAX_INPUTS inputs; a burst's batch runs on the caller alone
        expect(helper.jobsPosted - posted, `B = ${B}`).toBe(B <= SPLIT_MAX_INPUTS ? 1 : 0);
        const [one, two] = [alone.applyMany(xs, columns), shared.applyMany(xs, columns)];
        for (let b = 0; b < B; b++) for (const j of columns) expect(two[b]![j]).toBe(one[b]![j]);
      }
    } finally {
      await helper.close();
    }
  });

  it('does every product on the caller alone while the helper is paused, the same outputs, and shares again once resumed', async () => {
    const K = 300,
      N = 1100;
    const next = lcg(12);
    const w = Float32Array.from({ length: K * N }, () => next() - 0.5);
    const helper = await ProductHelper.start();
    try {
      const [alone, shared] = await Promise.all([Int8Matrix.create(w, K, N), Int8Matrix.create(w, K, N, undefined, helper)]);
      const xs = [Float32Array.from({ length: K }, () => next() * 2 - 1)];
      helper.paused = true;
      const posted = helper.jobsPosted;
      expect(shared.applyMany(xs)).toEqual(alone.applyMany(xs));
      expect(helper.jobsPosted).toBe(posted);
      helper.paused = false;
      expect(shared.applyMany(xs)).toEqual(alone.applyMany(xs));
      expect(helper.jobsPosted).toBe(posted + 1);
    } finally {
      await helper.close();
    }
  });
});

describe('Int8Matrix', () => {
  it('multiplies exactly when weights and input lie on the quantisation grid', async () => {
    // each column's largest |weight| is 127 units, the input's largest |x| is 32767 units: nothing is rounded
    const K = 37,
      N = 19; // K not a multiple of 16: the kernel pads
    const w = Float32Array.from({ length: K * N }, (_, i) => ((i * 7919) % 255) - 127);
    for (let j = 0; j < N; j++) w[j] = 127; // row 0 holds each column's maximum
    const x = Float32Array.from({ length: K }, (_, k) => ((k * 104729) % 65535) - 32767);
    x[0] = 32767;
    const m = await Int8Matrix.create(w, K, N);
    const got = m.apply(x);
    const want = exact(x, w, K, N);
    expect(got).toHaveLength(N);
    for (let j = 0; j < N; j++) expect(got[j]).toBeCloseTo(want[j]!, -1); // float32 result: relative 1e-7 of ~1e8
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(1e6);
  });

  it('does not overflow when every product is the largest there is, 127 · 32767', async () => {
    // 1,024 or 4,100 such products add up beyond int32 (517 already do): the kernel must not hold the total in one
    for (const K of [1024, 4100]) {
      const N = 3;
      const w = new Float32Array(K * N).fill(127);
      for (let k = 0; k < K; k++) w[k * N + 1] = -127;
      const x = new Float32Array(K).fill(32767);
      const got = (await Int8Matrix.create(w, K, N)).apply(x);
      const want = K * 127 * 32767;
      for (const [j, sign] of [
        [0, 1],
        [1, -1],
        [2, 1],
      ] as const)
        expect(got[j]! / (sign * want), `K=${K}, column ${j}`).toBeCloseTo(1, 6);
    }
  });

  it('stays within the rounding bound on random matrices and inputs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (K, N, seed) => {
        const uniform = lcg(seed);
        const rand = () => uniform() * 2 - 1;
        const w = Float32Array.from({ length: K * N }, rand);
        const x = Float32Array.from({ length: K }, rand);
        const got = (await Int8Matrix.create(w, K, N)).apply(x);
        const want = exact(x, w, K, N);
        const xMax = Math.max(...x.map(Math.abs));
        for (let j = 0; j < N; j++) {
          let wMax = 0,
            bound = 0;
          for (let k = 0; k < K; k++) wMax = Math.max(wMax, Math.abs(w[k * N + j]!));
          // each product is off by at most half a weight step times |x| plus half an input step times |w|
          for (let k = 0; k < K; k++) bound += (wMax / 254) * (Math.abs(x[k]!) + xMax / 65534) + (xMax / 65534) * Math.abs(w[k * N + j]!);
          expect(Math.abs(got[j]! - want[j]!)).toBeLessThanOrEqual(bound * 1.001 + 1e-6);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('gives zeros for a zero input or a zero column, and a fresh array each time', async () => {
    const K = 16,
      N = 3;
    const w = Float32Array.from({ length: K * N }, (_, i) => (i % N === 1 ? 0 : (i % 5) - 2));
    const m = await Int8Matrix.create(w, K, N);
    expect([...m.apply(new Float32Array(K))]).toEqual([0, 0, 0]);
    const x = Float32Array.from({ length: K }, (_, k) => k / K);
    const first = m.apply(x);
    expect(first[1]).toBe(0);
    expect(Math.abs(first[0]!)).toBeGreaterThan(0.1);
    const second = m.apply(new Float32Array(K));
    expect(first[0]).not.toBe(0); // not overwritten by the next product
    expect(second[0]).toBe(0);
  });

  it('refuses weights that do not match the shape', async () => {
    await expect(Int8Matrix.create(new Float32Array(10), 3, 4)).rejects.toThrow(/10 weights for a 3×4 matrix/);
  });

  it('gives each input of a batch bit for bit its product alone, for any batch size, with the bias added', async () => {
    const K = 70,
      N = 23; // K pads to 80; batches of 1–9 cover the four-at-a-time path and the rest
    const uniform = lcg(7);
    const rand = () => uniform() * 2 - 1;
    const w = Float32Array.from({ length: K * N }, rand);
    const bias = Float32Array.from({ length: N }, rand);
    const m = await Int8Matrix.create(w, K, N, bias);
    const unbiased = await Int8Matrix.create(w, K, N);
    for (const B of [9, 1, 4, 5, 8, 2]) {
      // a large batch first: the memory then shrinks back to smaller ones
      const xs = Array.from({ length: B }, (_, b) => (b === 2 ? new Float32Array(K) : Float32Array.from({ length: K }, rand)));
      const together = m.applyMany(xs);
      expect(together).toHaveLength(B);
      xs.forEach((x, b) => {
        expect([...together[b]!], `input ${b} of ${B}`).toEqual([...m.apply(x)]);
        const plain = unbiased.apply(x);
        for (let j = 0; j < N; j++) expect(together[b]![j]).toBeCloseTo(plain[j]! + bias[j]!, 5);
      });
    }
  });

  it('computes only the columns asked for, each exactly as in the full product', async () => {
    const K = 32,
      N = 40;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i));
    const m = await Int8Matrix.create(w, K, N);
    const xs = Array.from({ length: 6 }, (_, b) => Float32Array.from({ length: K }, (_, k) => Math.cos(k + b)));
    const full = m.applyMany(xs);
    const columns = Int32Array.from([39, 0, 17, 18, 5]);
    const some = m.applyMany(xs, columns);
    xs.forEach((_, b) => columns.forEach((j) => expect(some[b]![j]).toBe(full[b]![j])));
    expect(m.applyMany(xs, new Int32Array(0))).toHaveLength(6); // nothing asked: nothing computed, no error
    expect(() => m.applyMany(xs, Int32Array.from([3, 40]))).toThrow(/column 40 is outside 0…39/);
    expect(m.applyMany([])).toEqual([]);
  });

  it('gives views that two products of one step share without overwriting each other, inputs given in parts', async () => {
    const K = 32,
      N = 40;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i / 3));
    const m = await Int8Matrix.create(
      w,
      K,
      N,
      Float32Array.from({ length: N }, (_, j) => j / N),
    );
    const xs = Array.from({ length: 5 }, (_, b) => Float32Array.from({ length: K }, (_, k) => Math.sin(k * (b + 1))));
    const expected = m.applyMany(xs);
    const columns = Int32Array.from([3, 9, 31]);
    const first = m.productViews(xs.slice(0, 2), { rows: { first: 0, inAll: 5 } });
    const second = m.productViews(
      xs.slice(2).map((x) => x.subarray(0, 10)),
      { columns, rows: { first: 2, inAll: 5 }, tails: xs.slice(2).map((x) => x.subarray(10)) },
    );
    first.forEach((row, b) => expect([...row]).toEqual([...expected[b]!]));
    second.forEach((row, b) => columns.forEach((j) => expect(row[j]).toBe(expected[b + 2]![j])));
    expect(() => m.productViews(xs, { rows: { first: 1, inAll: 5 } })).toThrow(/rows 1…5 outside the step's 5/);
    expect(() => m.productViews(xs.slice(0, 1), { tails: [new Float32Array(3)] })).toThrow(/input 0 and its tail hold 32 \+ 3 values, not 32/);
  });
});
