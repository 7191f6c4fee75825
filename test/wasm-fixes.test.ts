/**
 * The kernels that wasm-fixes.ts adds to or replaces in the wasm backend, against plain-JS (and cpu) results.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend, tf } from '../src/model/runtime/backend.js';
import { PATCHED_KERNELS } from '../src/model/runtime/wasm-fixes.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  return strides;
}

/** x[begin : begin + size] element by element (size -1: to the end). */
function jsSlice(x: ArrayLike<number>, shape: number[], begin: number[], sizeIn: number[]): number[] {
  const sz = sizeIn.map((s, d) => (s === -1 ? shape[d]! - begin[d]! : s));
  const strides = stridesOf(shape);
  const out: number[] = [];
  const index = new Array<number>(shape.length).fill(0);
  for (let n = 0; n < size(sz); n++) {
    let rest = n;
    for (let d = sz.length - 1; d >= 0; d--) {
      index[d] = rest % sz[d]!;
      rest = Math.floor(rest / sz[d]!);
    }
    out.push(x[index.reduce((o, i, d) => o + (begin[d]! + i) * strides[d]!, 0)]!);
  }
  return out;
}

/** Batched matmul of row-major [batch, rows, cols] arrays, with the transposes applied before multiplying. */
function jsMatMul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean) {
  const [batch, ar, ac] = aShape.length === 3 ? aShape : [1, ...aShape];
  const [, br, bc] = bShape.length === 3 ? bShape : [1, ...bShape];
  const m = tA ? ac! : ar!,
    k = tA ? ar! : ac!,
    n = tB ? br! : bc!;
  expect(tB ? bc : br).toBe(k);
  const A = (p: number, i: number, j: number) => a[p * ar! * ac! + (tA ? j * ac! + i : i * ac! + j)]!;
  const B = (p: number, i: number, j: number) => b[p * br! * bc! + (tB ? j * bc! + i : i * bc! + j)]!;
  const out: number[] = [];
  for (let p = 0; p < batch!; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += A(p, i, q) * B(p, q, j);
        out.push(sum);
      }
  return { values: out, shape: aShape.length === 3 ? [batch!, m, n] : [m, n] };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)))) bad.push(`[${i}] ${actual[i]} ≠ ${expected[i]}`);
  }
  expect(bad).toEqual([]);
}

/** Exact comparison with the float32 rounding of the expected values. */
function expectExact(t: tf.Tensor, shape: number[], expected: number[]) {
  expect(t.shape).toEqual(shape);
  expect(Array.from(t.dataSync())).toEqual(Array.from(Float32Array.from(expected)));
}

const numDataIds = () => tf.engine().backend.numDataIds();

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  await tf.setBackend('wasm');
});

/** Runs `f` on the cpu backend and switches back to wasm. */
async function onCpu<T>(f: () => T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return f();
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('wasm kernel patches', () => {
  it('registers every patched kernel for wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(PATCHED_KERNELS.length).toBeGreaterThan(0);
    for (const name of PATCHED_KERNELS) {
      const kernel = tf.getKernel(name, 'wasm');
      expect(kernel, name).toBeDefined();
      expect(kernel!.backendName).toBe('wasm');
      expect(typeof kernel!.kernelFunc, name).toBe('function');
    }
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('sums a vector by segment, with repeated ids and an empty segment', () => {
    const x = tf.tensor1d([1, 2, 3, 4, 5, 6]);
    const out = tf.unsortedSegmentSum(x, tf.tensor1d([0, 2, 0, 1, 2, 2], 'int32'), 4);
    expectExact(out, [4], [1 + 3, 4, 2 + 5 + 6, 0]);
  });

  it('sums rank-2 and rank-3 data row by row', () => {
    const ids = [3, 1, 3, 3, 0, 1];
    for (const shape of [
      [6, 4],
      [6, 2, 3],
    ]) {
      const data = values(size(shape), 5);
      const inner = size(shape.slice(1));
      const expected = new Array<number>(5 * inner).fill(0);
      ids.forEach((seg, row) => {
        for (let k = 0; k < inner; k++) expected[seg * inner + k]! += data[row * inner + k]!;
      });
      const out = tf.unsortedSegmentSum(tf.tensor(data, shape), tf.tensor1d(ids, 'int32'), 5);
      expect(out.shape).toEqual([5, ...shape.slice(1)]);
      expectClose(out.dataSync(), expected);
      // segments 2 and 4 receive nothing
      expect(Array.from(out.dataSync().slice(2 * inner, 3 * inner))).toEqual(new Array(inner).fill(0));
      expect(Array.from(out.dataSync().slice(4 * inner))).toEqual(new Array(inner).fill(0));
    }
  });

  it('sums int32 data exactly', () => {
    const out = tf.unsortedSegmentSum(
      tf.tensor2d(
        [
          [1, 2],
          [30, 40],
          [500, 600],
        ],
        [3, 2],
        'int32',
      ),
      tf.tensor1d([1, 1, 0], 'int32'),
      2,
    );
    expect(out.dtype).toBe('int32');
    expect(out.arraySync()).toEqual([
      [500, 600],
      [31, 42],
    ]);
  });

  it('agrees with the cpu backend', async () => {
    const data = values(7 * 3, 11);
    const ids = [2, 0, 2, 5, 5, 5, 1];
    const wasm = tf.unsortedSegmentSum(tf.tensor2d(data, [7, 3]), tf.tensor1d(ids, 'int32'), 6).dataSync();
    const cpu = await onCpu(() => tf.unsortedSegmentSum(tf.tensor2d(data, [7, 3]), tf.tensor1d(ids, 'int32'), 6).dataSync());
    expectClose(wasm, cpu);
  });
});

describe('the gradient of gather (embedding lookup) on wasm', () => {
  const V = 6,
    E = 3;
  const table = values(V * E, 1);

  function expectedGrad(ids: number[], w: Float32Array) {
    const g = new Array<number>(V * E).fill(0);
    ids.forEach((id, j) => {
      for (let k = 0; k < E; k++) g[id * E + k]! += w[j * E + k]!;
    });
    return g;
  }

  it('adds the upstream gradient of every lookup into its row (repeated ids included)', () => {
    const ids = [1, 4, 1, 0, 1, 5, 4];
    const w = values(ids.length * E, 2);
    const grad = tf.grad((emb: tf.Tensor) => tf.sum(tf.mul(tf.gather(emb, tf.tensor1d(ids, 'int32')), tf.tensor2d(w, [ids.length, E]))));
    const g = grad(tf.tensor2d(table, [V, E]));
    expect(g.shape).toEqual([V, E]);
    expectClose(g.dataSync(), expectedGrad(ids, w));
    // rows 2 and 3 were never looked up
    expect(Array.from(g.dataSync().slice(2 * E, 4 * E))).toEqual(new Array(2 * E).fill(0));
  });

  it('works for a [T, B] matrix of ids, as the model looks them up', () => {
    const ids = [
      [0, 3, 3],
      [5, 0, 3],
    ];
    const w = values(6 * E, 3);
    const g = tf.grad((emb: tf.Tensor) => tf.sum(tf.mul(tf.gather(emb, tf.tensor2d(ids, [2, 3], 'int32')), tf.tensor3d(w, [2, 3, E]))))(
      tf.tensor2d(table, [V, E]),
    );
    expectClose(g.dataSync(), expectedGrad(ids.flat(), w));
  });

  it('works along axis 1', () => {
    const ids = [2, 0, 2];
    const w = values(V * ids.length, 4); // dL/d(gathered) of shape [V, 3]
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor1d(ids, 'int32'), 1), tf.tensor2d(w, [V, ids.length]))))(
      tf.tensor2d(table, [V, E]),
    );
    const expected = new Array<number>(V * E).fill(0);
    for (let r = 0; r < V; r++) ids.forEach((id, j) => (expected[r * E + id]! += w[r * ids.length + j]!));
    expectClose(g.dataSync(), expected);
  });

  it('equals the cpu backend gradient', async () => {
    const ids = [3, 3, 1, 0, 5, 3];
    const w = values(ids.length * E, 9);
    const f = () =>
      tf
        .grad((emb: tf.Tensor) => tf.sum(tf.mul(tf.gather(emb, tf.tensor1d(ids, 'int32')), tf.tensor2d(w, [ids.length, E]))))(tf.tensor2d(table, [V, E]))
        .dataSync();
    const wasm = f();
    const cpu = await onCpu(f);
    expect(tf.getBackend()).toBe('wasm');
    expectClose(wasm, cpu);
  });
});

describe('BatchMatMul with transposes on wasm', () => {
  const combos = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;

  it.each(combos)('matches plain JS for rank 2 (transposeA=%s, transposeB=%s)', (tA, tB) => {
    const [m, k, n] = [3, 4, 5];
    const aShape = tA ? [k, m] : [m, k];
    const bShape = tB ? [n, k] : [k, n];
    const a = values(size(aShape), 21),
      b = values(size(bShape), 22);
    const expected = jsMatMul(a, aShape, b, bShape, tA, tB);
    const out = tf.matMul(tf.tensor2d(a, aShape as [number, number]), tf.tensor2d(b, bShape as [number, number]), tA, tB);
    expect(out.shape).toEqual(expected.shape);
    expectClose(out.dataSync(), expected.values);
  });

  it.each(combos)('matches plain JS for a batch (transposeA=%s, transposeB=%s)', (tA, tB) => {
    const [batch, m, k, n] = [3, 2, 6, 4];
    const aShape = tA ? [batch, k, m] : [batch, m, k];
    const bShape = tB ? [batch, n, k] : [batch, k, n];
    const a = values(size(aShape), 31),
      b = values(size(bShape), 32);
    const expected = jsMatMul(a, aShape, b, bShape, tA, tB);
    const out = tf.matMul(tf.tensor3d(a, aShape as [number, number, number]), tf.tensor3d(b, bShape as [number, number, number]), tA, tB);
    expect(out.shape).toEqual(expected.shape);
    expectClose(out.dataSync(), expected.values);
  });

  it.each(combos)('handles dimensions of size 1 and leaves its inputs intact (transposeA=%s, transposeB=%s)', (tA, tB) => {
    // a [1, k] row transposed is a no-op reshape for wasm's Transpose: its output shares the input's data
    const shapes = [
      [tA ? [1, 3] : [3, 1], tB ? [4, 1] : [1, 4]],
      [tA ? [5, 1] : [1, 5], tB ? [1, 5] : [5, 1]],
    ];
    for (const [aShape, bShape] of shapes) {
      const a = values(size(aShape!), 41),
        b = values(size(bShape!), 42);
      const at = tf.tensor(a, aShape),
        bt = tf.tensor(b, bShape);
      const expected = jsMatMul(a, aShape!, b, bShape!, tA, tB);
      const out = tf.matMul(at as tf.Tensor2D, bt as tf.Tensor2D, tA, tB);
      expect(out.shape).toEqual(expected.shape);
      expectClose(out.dataSync(), expected.values);
      expect(Array.from(at.dataSync())).toEqual(Array.from(a));
      expect(Array.from(bt.dataSync())).toEqual(Array.from(b));
      // the inputs can still be used
      expectClose(tf.matMul(at as tf.Tensor2D, bt as tf.Tensor2D, tA, tB).dataSync(), expected.values);
    }
  });

  it('gives matmul gradients (which use the transposes) equal to plain JS', () => {
    const [m, k, n] = [4, 3, 5];
    const a = values(m * k, 51),
      b = values(k * n, 52),
      w = values(m * n, 53);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), tf.tensor2d(w, [m, n]))))([
      tf.tensor2d(a, [m, k]),
      tf.tensor2d(b, [k, n]),
    ]);
    expectClose(da!.dataSync(), jsMatMul(w, [m, n], b, [k, n], false, true).values); // W·Bᵀ
    expectClose(db!.dataSync(), jsMatMul(a, [m, k], w, [m, n], true, false).values); // Aᵀ·W
  });

  it.each(combos)('leaks no tensors or backend buffers (transposeA=%s, transposeB=%s)', (tA, tB) => {
    const a = tf.tensor3d(values(2 * 4 * 4, 61), [2, 4, 4]);
    const b = tf.tensor3d(values(2 * 4 * 4, 62), [2, 4, 4]);
    const tensors = tf.memory().numTensors;
    const buffers = numDataIds();
    tf.tidy(() => {
      const out = tf.matMul(a, b, tA, tB);
      out.dataSync();
      // inside the scope: exactly the one result was added, no transposed temporaries
      expect(tf.memory().numTensors).toBe(tensors + 1);
      expect(numDataIds()).toBe(buffers + 1);
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(numDataIds()).toBe(buffers);
    // and the gradient, whose matmuls transpose
    tf.tidy(() => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, tA, tB)))([a, b]);
      ga!.dataSync();
      gb!.dataSync();
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(numDataIds()).toBe(buffers);
    a.dispose();
    b.dispose();
  });
});

describe('Slice on wasm', () => {
  const cases: [string, number[], number[], number[]][] = [
    ['rank 1', [10], [3], [5]],
    ['rank 2, whole rows (contiguous)', [5, 6], [1, 0], [3, 6]],
    ['rank 2, a block (non-contiguous)', [5, 6], [1, 2], [3, 3]],
    ['rank 2, one column', [5, 6], [0, 4], [5, 1]],
    ['rank 2, to the end (size -1)', [5, 6], [2, 1], [-1, -1]],
    ['rank 3, one timestep (contiguous)', [4, 3, 5], [2, 0, 0], [1, 3, 5]],
    ['rank 3, part of one row (contiguous)', [4, 3, 5], [2, 1, 1], [1, 1, 3]],
    ['rank 3, a block (non-contiguous)', [4, 3, 5], [0, 1, 1], [2, 2, 3]],
    ['rank 3, middle axis (non-contiguous)', [4, 3, 5], [0, 1, 0], [4, 1, 5]],
    ['rank 4, contiguous', [3, 2, 4, 5], [1, 0, 0, 0], [2, 2, 4, 5]],
    ['rank 4, non-contiguous', [3, 2, 4, 5], [1, 1, 1, 2], [2, 1, 3, 2]],
    ['rank 4, every axis cut', [3, 2, 4, 5], [0, 0, 1, 1], [3, 2, 2, 3]],
    ['whole tensor', [3, 4], [0, 0], [3, 4]],
  ];

  it.each(cases)('%s', (_, shape, begin, sz) => {
    const x = values(size(shape), 71);
    const out = tf.slice(tf.tensor(x, shape), begin, sz);
    const expectedShape = sz.map((s, d) => (s === -1 ? shape[d]! - begin[d]! : s));
    expectExact(out, expectedShape, jsSlice(x, shape, begin, sz));
  });

  it('slices int32 and bool tensors', () => {
    const shape = [4, 5];
    const ints = Int32Array.from({ length: 20 }, (_, i) => i * 7 - 50);
    const i32 = tf.slice(tf.tensor(ints, shape, 'int32'), [1, 1], [2, 3]);
    expect(i32.dtype).toBe('int32');
    expect(Array.from(i32.dataSync())).toEqual(jsSlice(ints, shape, [1, 1], [2, 3]));
    const bools = Array.from({ length: 20 }, (_, i) => i % 3 === 0);
    const b = tf.slice(tf.tensor(bools, shape, 'bool'), [0, 2], [4, 2]);
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.dataSync())).toEqual(jsSlice(bools.map(Number), shape, [0, 2], [4, 2]));
  });

  it('returns a copy that outlives its input', () => {
    const x = values(60, 72);
    const input = tf.tensor3d(x, [3, 4, 5]);
    const a = tf.slice(input, [1, 0, 0], [1, 4, 5]);
    const b = tf.slice(input, [0, 1, 1], [3, 2, 2]);
    input.dispose();
    tf.tidy(() => tf.ones([1000])); // reuse of freed heap memory must not show through
    expectExact(a, [1, 4, 5], jsSlice(x, [3, 4, 5], [1, 0, 0], [1, 4, 5]));
    expectExact(b, [3, 2, 2], jsSlice(x, [3, 4, 5], [0, 1, 1], [3, 2, 2]));
  });

  it('reads its input through the heap, not with a full readSync copy per piece', () => {
    const input = tf.tensor3d(values(60, 74), [3, 4, 5]);
    const backend = tf.engine().backend;
    const spy = vi.spyOn(backend, 'readSync');
    try {
      const outs = tf.tidy(() => [tf.slice(input, [0, 1, 1], [2, 2, 2]), ...tf.unstack(input), ...tf.split(input, [2, 3], 2)]);
      expect(spy).not.toHaveBeenCalled();
      tf.dispose(outs);
    } finally {
      spy.mockRestore();
    }
    input.dispose();
  });

  it('gives the gradient of a slice (pads back into place)', () => {
    const x = tf.tensor2d(values(12, 73), [3, 4]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.slice(t, [1, 1], [2, 2])))(x);
    expect(g.arraySync()).toEqual([
      [0, 0, 0, 0],
      [0, 1, 1, 0],
      [0, 1, 1, 0],
    ]);
  });
});

describe('SplitV on wasm', () => {
  const shape = [4, 6, 5];
  const x = values(size(shape), 81);

  it.each([
    [0, [1, 2, 1]],
    [1, [2, 1, 3]],
    [2, [2, 3]],
    [1, 3],
    [-1, [4, 1]],
    [0, [1, -1]],
  ] as [number, number[] | number][])('splits along axis %i into %j', (axis, split) => {
    const ax = axis < 0 ? axis + shape.length : axis;
    const pieces = tf.split(tf.tensor(x, shape), split, axis);
    const sizes =
      typeof split === 'number'
        ? new Array<number>(split).fill(shape[ax]! / split)
        : split.map((s) => (s === -1 ? shape[ax]! - split.reduce((a, b) => a + (b === -1 ? 0 : b), 0) : s));
    expect(pieces).toHaveLength(sizes.length);
    let offset = 0;
    pieces.forEach((piece, i) => {
      const begin = shape.map((_, d) => (d === ax ? offset : 0));
      const sz = shape.map((s, d) => (d === ax ? sizes[i]! : s));
      expectExact(piece, sz, jsSlice(x, shape, begin, sz));
      offset += sizes[i]!;
    });
    expect(offset).toBe(shape[ax]);
  });

  it('splits the gates of an LSTM pre-activation as the model does', () => {
    const [B, H] = [3, 4];
    const z = values(B * 4 * H, 82);
    const gates = tf.split(tf.tensor2d(z, [B, 4 * H]), 4, 1);
    gates.forEach((g, k) => expectExact(g, [B, H], jsSlice(z, [B, 4 * H], [0, k * H], [B, H])));
  });
});

describe('Unpack on wasm', () => {
  const shape = [3, 4, 5];
  const x = values(size(shape), 91);

  it.each([0, 1, 2, -1])('unstacks along axis %i', (axis) => {
    const ax = axis < 0 ? axis + shape.length : axis;
    const pieces = tf.unstack(tf.tensor(x, shape), axis);
    expect(pieces).toHaveLength(shape[ax]!);
    const outShape = shape.filter((_, d) => d !== ax);
    pieces.forEach((piece, i) => {
      const begin = shape.map((_, d) => (d === ax ? i : 0));
      const sz = shape.map((s, d) => (d === ax ? 1 : s));
      expectExact(piece, outShape, jsSlice(x, shape, begin, sz));
    });
  });

  it('unstacks a rank-2 tensor along both axes', () => {
    const m = values(12, 92);
    const rows = tf.unstack(tf.tensor2d(m, [3, 4]), 0);
    rows.forEach((r, i) => expectExact(r, [4], jsSlice(m, [3, 4], [i, 0], [1, 4])));
    const cols = tf.unstack(tf.tensor2d(m, [3, 4]), 1);
    cols.forEach((c, j) => expectExact(c, [3], jsSlice(m, [3, 4], [0, j], [3, 1])));
  });

  it('gives pieces that outlive the input, and stack undoes it', () => {
    const input = tf.tensor(x, shape);
    const pieces = tf.unstack(input, 1);
    input.dispose();
    tf.tidy(() => tf.ones([2000]));
    expectExact(tf.stack(pieces, 1), shape, Array.from(x));
  });

  it('leaks nothing and leaves its input intact', () => {
    const input = tf.tensor(x, shape);
    const tensors = tf.memory().numTensors;
    const buffers = numDataIds();
    tf.tidy(() => {
      const pieces = tf.unstack(input, 2);
      const parts = tf.split(input, [1, 3], 1);
      const s = tf.slice(input, [0, 1, 1], [2, 2, 2]);
      for (const p of [...pieces, ...parts, s]) p.dataSync();
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(numDataIds()).toBe(buffers);
    expectExact(input, shape, Array.from(x));
    input.dispose();
  });
});
