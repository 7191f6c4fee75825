/**
 * Int8 matrix–vector products for writing poems. A generation step reads every weight once, so it is
 * bound by memory traffic, not arithmetic: with float32 weights (8.4 MB for the shipped model) one
 * 七言绝句 reads about 250 MB. Stored as int8 with one scale per output, and with the input vector
 * rounded to int16, a step reads a quarter of that. The product runs in a small WebAssembly SIMD kernel
 * (int8-matvec.wat), assembled from its text once per thread with wabt.
 */
import { compileWat } from './wat.js';

type Kernel = { memory: WebAssembly.Memory; matvec: (w: number, rowScale: number, x: number, out: number, K: number, N: number, xScale: number) => void };

/** A K×N matrix W (row-major, as TensorFlow.js stores a dense layer's kernel) for products x·W. */
export class Int8Matrix {
  private readonly x: Int16Array; // the input, rounded to int16 (zero beyond K)
  private readonly out: Float32Array;

  private constructor(private readonly kernel: Kernel, readonly rows: number, readonly cols: number, private readonly paddedRows: number, private readonly offsets: { w: number; scale: number; x: number; out: number }) {
    this.x = new Int16Array(kernel.memory.buffer, offsets.x, paddedRows);
    this.out = new Float32Array(kernel.memory.buffer, offsets.out, cols);
  }

  /** Quantises W: each output column j gets scale max_k |W[k][j]| / 127. Each matrix has its own kernel instance and memory. */
  static async create(weights: Float32Array, rows: number, cols: number): Promise<Int8Matrix> {
    if (weights.length !== rows * cols) throw new Error(`Int8Matrix: ${weights.length} weights for a ${rows}×${cols} matrix`);
    const K = Math.ceil(rows / 16) * 16; // the kernel takes 16 weights at a time: pad with zeros
    const offsets = { w: 0, scale: K * cols, x: K * cols + 4 * cols, out: K * cols + 4 * cols + 2 * K };
    const bytes = offsets.out + 4 * cols;
    const instance = await WebAssembly.instantiate(await compileWat('int8-matvec.wat'));
    const kernel = instance.exports as unknown as Kernel;
    kernel.memory.grow(Math.ceil(bytes / 65536));
    const q = new Int8Array(kernel.memory.buffer, offsets.w, K * cols);
    const scale = new Float32Array(kernel.memory.buffer, offsets.scale, cols);
    for (let j = 0; j < cols; j++) {
      let max = 0;
      for (let k = 0; k < rows; k++) max = Math.max(max, Math.abs(weights[k * cols + j]!));
      scale[j] = max / 127;
      if (max === 0) continue;
      for (let k = 0; k < rows; k++) q[j * K + k] = Math.round(weights[k * cols + j]! / scale[j]!);
    }
    return new Int8Matrix(kernel, rows, cols, K, offsets);
  }

  /** x·W for a vector x of length `rows`; returns a new array of length `cols`. */
  apply(x: Float32Array): Float32Array {
    let max = 0;
    for (let k = 0; k < this.rows; k++) max = Math.max(max, Math.abs(x[k]!));
    const xScale = max / 32767;
    for (let k = 0; k < this.rows; k++) this.x[k] = max === 0 ? 0 : Math.round(x[k]! / xScale);
    const o = this.offsets;
    this.kernel.matvec(o.w, o.scale, o.x, o.out, this.paddedRows, this.cols, xScale);
    return this.out.slice();
  }
}
