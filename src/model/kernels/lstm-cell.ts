/**
 * The LSTM cell's elementwise step (gates, then c and h) for many sequences at once, in a small
 * WebAssembly SIMD kernel (lstm-cell.wat): four cells per instruction instead of one call to tanh at a
 * time in JavaScript. The products before it are the int8 kernel's (int8-matvec.ts).
 */
import { nativeCells } from './native-kernels.js';
import { compileWat } from './wat.js';

type Kernel = { memory: WebAssembly.Memory; cells: (z: number, bias: number, biasStride: number, c: number, h: number, H: number, B: number) => void };

export class LstmCells {
  private capacity = 0;

  /** the cell width as the kernel holds it: H rounded up to four (the lanes beyond H are computed and dropped) */
  private readonly padded: number;

  private constructor(
    private readonly kernel: Kernel,
    readonly hidden: number,
  ) {
    this.padded = Math.ceil(hidden / 4) * 4;
  }

  /** For cells of width H. Each instance has its own memory. */
  static async create(hidden: number): Promise<LstmCells> {
    const instance = await WebAssembly.instantiate(await compileWat('lstm-cell.wat'));
    const wasm = instance.exports as unknown as Kernel;
    // the native twin where it loads (native-kernels.ts): the same bits, 16 lanes instead of 4
    const cells = nativeCells(wasm.memory) ?? wasm.cells;
    return new LstmCells({ memory: wasm.memory, cells }, hidden);
  }

  /**
   * One step for each sequence b: z[b] = its gate products (4H), bias[b] its bias (4H, or one bias for
   * all), and its state (c, h), which is updated in place.
   */
  step(z: Float32Array[], bias: Float32Array[] | Float32Array, states: { c: Float32Array; h: Float32Array }[]): void {
    const B = z.length,
      H = this.hidden,
      P = this.padded;
    if (B === 0) return;
    const shared = !Array.isArray(bias);
    const biasRows = shared ? 1 : B;
    // layout (floats): z (B × 4P), bias (rows × 4P), c (B × P), h (B × P)
    const at = { z: 0, bias: 4 * P * B, c: 4 * P * (B + biasRows), h: 4 * P * (B + biasRows) + P * B };
    this.reserve(4 * (at.h + P * B));
    const f32 = new Float32Array(this.kernel.memory.buffer);
    const gates = (row: Float32Array, to: number) => {
      for (let q = 0; q < 4; q++) f32.set(row.subarray(q * H, (q + 1) * H), to + q * P);
    };
    z.forEach((row, b) => gates(row, at.z + b * 4 * P));
    if (shared) gates(bias, at.bias);
    else bias.forEach((row, b) => gates(row, at.bias + b * 4 * P));
    states.forEach((s, b) => f32.set(s.c, at.c + b * P));
    this.kernel.cells(4 * at.z, 4 * at.bias, shared ? 0 : 16 * P, 4 * at.c, 4 * at.h, P, B);
    states.forEach((s, b) => {
      s.c.set(f32.subarray(at.c + b * P, at.c + b * P + H));
      s.h.set(f32.subarray(at.h + b * P, at.h + b * P + H));
    });
  }

  private reserve(bytes: number): void {
    if (bytes <= this.capacity) return;
    const memory = this.kernel.memory;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((Math.max(bytes, 2 * this.capacity) - memory.buffer.byteLength) / 65536));
    this.capacity = memory.buffer.byteLength;
  }
}
