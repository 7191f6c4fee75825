/**
 * Int8 matrix products for writing poems. A generation step reads every weight once, so it is bound by
 * memory traffic, not arithmetic: with float32 weights one 七言绝句 reads the whole model once per character.
 * Stored as int8 with one scale per output, and with each input vector rounded to int16 with its own scale,
 * a step reads a quarter of that. Many poems written together share the step: the
 * kernel (wasm/int8-matvec.wat, assembled from its text once per thread with wabt) takes B inputs at once and
 * loads each weight once for every four of them, and each product is bit for bit what it is alone.
 */
import { type ProductHelper, SPLIT_MAX_INPUTS, SPLIT_MIN_MACS } from './product-helper.js';
import { nativeMatmul } from './native-kernels.js';
import { compileWat } from './wat.js';

type Kernel = {
  matmul: (
    w: number,
    rowScale: number,
    bias: number,
    x: number,
    xScale: number,
    out: number,
    K: number,
    N: number,
    B: number,
    columns: number,
    count: number,
  ) => void;
  quantize: (input: number, x: number, xScale: number, K: number, B: number) => void;
};

/** productViews' options: the columns wanted, the output rows to use, the second part of each input */
export type ProductOptions = {
  /** only these outputs are computed (the rest of each row is unspecified) */
  columns?: Int32Array;
  /** output rows `first`… of the `inAll` that the products of one step share */
  rows?: { first: number; inAll: number };
  /** each input's second part, laid right after it: [x, h] without building the joined array */
  tails?: readonly Float32Array[];
};

/** A K×N matrix W (row-major, as TensorFlow.js stores a dense layer's kernel) and a bias b for products x·W + b. */
export class Int8Matrix {
  /** how many inputs the memory after the weights holds now; it grows with the largest batch seen */
  private capacity = 0;
  private readonly inputsAt: number;

  private constructor(
    private readonly kernel: Kernel,
    private readonly memory: WebAssembly.Memory,
    readonly rows: number,
    readonly cols: number,
    private readonly paddedRows: number,
    /** a second thread for big products, and this matrix's id there */
    private readonly helper?: { thread: ProductHelper; id: number },
  ) {
    this.inputsAt = this.columnsAt + 8 * cols; // after the weights, their scales, the bias, all columns and a column list
  }

  private get scalesAt(): number {
    return this.paddedRows * this.cols;
  }
  private get biasAt(): number {
    return this.scalesAt + 4 * this.cols;
  }
  /** 0, 1, …, N − 1: the columns of a full product */
  private get columnsAt(): number {
    return this.biasAt + 4 * this.cols;
  }

  /**
   * Quantises W: each output column j gets scale max_k |W[k][j]| / 127. Each matrix has its own kernel
   * instance and (shared) memory; given a helper, big products are split with it.
   */
  static async create(weights: Float32Array, rows: number, cols: number, bias?: Float32Array, helper?: ProductHelper): Promise<Int8Matrix> {
    if (weights.length !== rows * cols) throw new Error(`Int8Matrix: ${weights.length} weights for a ${rows}×${cols} matrix`);
    const K = Math.ceil(rows / 16) * 16; // the kernel takes 16 weights at a time: pad with zeros
    const module = await compileWat('int8-matvec.wat');
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
    const wasm = (await WebAssembly.instantiate(module, { env: { memory } })).exports as unknown as Kernel;
    // the native kernel where it loads (native-kernels.ts): the same products, bit for bit, faster
    const kernel: Kernel = { quantize: wasm.quantize, matmul: nativeMatmul(memory) ?? wasm.matmul };
    const matrix = new Int8Matrix(kernel, memory, rows, cols, K, helper ? { thread: helper, id: await helper.register(module, memory) } : undefined);
    matrix.reserve(1);
    const q = new Int8Array(memory.buffer, 0, K * cols);
    const scale = new Float32Array(memory.buffer, matrix.scalesAt, cols);
    if (bias) new Float32Array(memory.buffer, matrix.biasAt, cols).set(bias);
    new Int32Array(memory.buffer, matrix.columnsAt, cols).set(Int32Array.from({ length: cols }, (_, j) => j));
    // row by row, as the weights lie in memory (a column at a time strode across all of them)
    const max = new Float32Array(cols);
    for (let k = 0; k < rows; k++) for (let j = 0; j < cols; j++) max[j] = Math.max(max[j]!, Math.abs(weights[k * cols + j]!));
    for (let j = 0; j < cols; j++) scale[j] = max[j]! / 127;
    for (let k = 0; k < rows; k++) for (let j = 0; j < cols; j++) if (max[j] !== 0) q[j * K + k] = Math.round(weights[k * cols + j]! / scale[j]!);
    return matrix;
  }

  /** x·W + b for a vector x of length `rows`; returns a new array of length `cols`. */
  apply(x: Float32Array): Float32Array {
    return this.applyMany([x])[0]!;
  }

  /**
   * x·W + b for each x in `inputs` (all of length `rows`), in one pass over the weights; new arrays. Given
   * `columns`, only those outputs are computed (the rest of each array is unspecified).
   */
  applyMany(inputs: readonly Float32Array[], columns?: Int32Array): Float32Array[] {
    return this.productViews(inputs, { columns }).map((row) => row.slice());
  }

  /**
   * applyMany's products as views into this matrix's output memory (no copy, no garbage: a poem step takes
   * thousands of numbers a poem), at output rows `rows.first`…; they hold until the next product that writes
   * those rows. Several products of one step share the memory when each names the rows it takes and the rows
   * of the step in all (`rows.inAll`, so that the memory's layout stays put between them).
   */
  productViews(inputs: readonly Float32Array[], { columns, rows, tails }: ProductOptions = {}): Float32Array[] {
    const B = inputs.length,
      K = this.paddedRows,
      N = this.cols;
    if (B === 0) return [];
    const { first, inAll } = rows ?? { first: 0, inAll: B };
    if (first < 0 || first + B > inAll) throw new Error(`Int8Matrix: rows ${first}…${first + B - 1} outside the step's ${inAll}`);
    const at = this.reserve(inAll);
    const buffer = this.memory.buffer;
    const floats = new Float32Array(buffer, at.input, B * K);
    for (let b = 0; b < B; b++) {
      const input = inputs[b]!;
      if (tails) {
        if (input.length + tails[b]!.length !== this.rows)
          throw new Error(`Int8Matrix: input ${b} and its tail hold ${input.length} + ${tails[b]!.length} values, not ${this.rows}`);
        floats.set(input, b * K);
        floats.set(tails[b]!, b * K + input.length);
      } else floats.set(input.length > this.rows ? input.subarray(0, this.rows) : input, b * K);
    }
    const out = at.out + 4 * N * first;
    this.kernel.quantize(at.input, at.x, at.xScale, K, B);
    let listAt = this.columnsAt,
      count = N;
    if (columns) {
      for (let c = 0; c < columns.length; c++)
        if (!(columns[c]! >= 0 && columns[c]! < N)) throw new Error(`Int8Matrix: column ${columns[c]} is outside 0…${N - 1}`);
      listAt = this.columnsAt + 4 * N;
      new Int32Array(buffer, listAt, columns.length).set(columns);
      count = columns.length;
    }
    // a big product: the helper takes the second half of the columns, this thread the first
    const split = this.helper && !this.helper.thread.paused && count >= 2 && count * K * B >= SPLIT_MIN_MACS && B <= SPLIT_MAX_INPUTS ? count >> 1 : count;
    const rest = [0, this.scalesAt, this.biasAt, at.x, at.xScale, out, K, N, B, listAt + 4 * split, count - split] as const;
    const job = split < count ? this.helper!.thread.begin(this.helper!.id, rest) : 0;
    if (split > 0) this.kernel.matmul(0, this.scalesAt, this.biasAt, at.x, at.xScale, out, K, N, B, listAt, split);
    if (job) this.helper!.thread.finish(job, () => this.kernel.matmul(...rest)); // (done here if the helper was asleep)
    return inputs.map((_, b) => new Float32Array(buffer, out + 4 * N * b, N));
  }

  /** Where B inputs (as floats, then int16), their scales and their products lie, growing the memory when needed. */
  private reserve(B: number): { input: number; x: number; xScale: number; out: number } {
    const K = this.paddedRows,
      N = this.cols;
    const layout = (n: number) => {
      const input = this.inputsAt,
        x = input + 4 * K * n,
        xScale = x + 2 * K * n,
        out = xScale + 4 * n;
      return { input, x, xScale, out, end: out + 4 * N * n };
    };
    if (B > this.capacity) {
      const capacity = Math.max(B, 2 * this.capacity);
      const bytes = layout(capacity).end;
      const memory = this.memory;
      if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
      new Uint8Array(memory.buffer, this.inputsAt).fill(0); // the padding of every input row must read 0
      this.capacity = capacity;
    }
    return layout(this.capacity); // fixed while the capacity holds: the input rows' padding stays 0
  }
}
