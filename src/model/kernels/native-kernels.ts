/**
 * The native poem kernels (kernels/x86/poem-kernels.c, built at install into build/native-kernels.node): the WebAssembly
 * kernels' matmul (int8-matvec.wat) and LSTM cells (lstm-cell.wat) with the same arguments and bit for bit
 * the same results, on AVX-512 VNNI or AVX2, and the sampler's top-k pass (sampler.ts), the same ids.
 * `POEM_KERNELS` chooses: `auto` (default: native where it loads, else WebAssembly), `native` (an error
 * that names what is missing when it cannot), `wasm`; `TANGSHI_NATIVE_KERNELS_FILE` names another build of it.
 * The same build carries training's LSTM layer (kernels/x86/train-lstm.c), chosen by `LSTM_KERNELS` (nativeLstmKernels).
 */
import { z } from 'zod';
import { nativeAddon } from '../runtime/native-addon.js';

export { NATIVE_KERNELS_FILE } from '../runtime/native-addon.js';
export const KernelsChoice = z.enum(['auto', 'native', 'wasm']);

type Kernel = (memory: Uint8Array, ...args: number[]) => void;
/** the sampler's top-k pass (sampler.ts); returns how many ids it kept in ids/values */
export type TopK = (
  logits: Float32Array,
  allowed: Int32Array,
  banned: Uint8Array | null,
  except: number,
  k: number,
  ids: Int32Array,
  values: Float64Array,
) => number;
type Addon = { isa: string; matmul?: Kernel; cells?: Kernel; topK?: TopK } & Partial<LstmKernels>;
/** a kernel of the addon bound to one WebAssembly memory: the .wat kernel's own arguments */
export type BoundKernel = (...args: number[]) => void;
/** which kernels this thread's poems run on, and why when they are not the native ones */
export type KernelsInfo = { kernel: 'native'; isa: string } | { kernel: 'wasm'; why: string };

let loaded: { addon?: Addon; info: KernelsInfo } | undefined;
/** the addon with its kernels, or why it did not load */
const requireAddon = () => nativeAddon() as { addon: Addon } | { why: string };

function load(): { addon?: Addon; info: KernelsInfo } {
  const parsed = KernelsChoice.safeParse(process.env.POEM_KERNELS ?? 'auto');
  if (!parsed.success) throw new Error(`POEM_KERNELS must be auto, native or wasm, not ${JSON.stringify(process.env.POEM_KERNELS)}`);
  if (parsed.data === 'wasm') return { info: { kernel: 'wasm', why: 'POEM_KERNELS=wasm' } };
  const r = requireAddon();
  const why = 'why' in r ? r.why : 'this CPU has neither AVX-512 VNNI nor AVX2';
  if ('addon' in r && r.addon.matmul) return { addon: r.addon, info: { kernel: 'native', isa: r.addon.isa } };
  if (parsed.data === 'native') throw new Error(`POEM_KERNELS=native, but ${why}`);
  return { info: { kernel: 'wasm', why } };
}

export const LstmKernelsChoice = z.enum(['auto', 'native', 'tensorflow']);
/** training's LSTM layer (kernels/x86/train-lstm.c): T, B, I, H, then Float32Arrays, the results written into the last ones */
export type LstmKernels = {
  /** (T, B, I, H, x, wx, b, wh → gates, cells, tanhCells, hs) */
  lstmForward(T: number, B: number, I: number, H: number, ...arrays: Float32Array[]): void;
  /** (T, B, I, H, dy, x, wx, wh, gates, cells, tanhCells, hs → dx, dWx, dWh, db) */
  lstmBackward(T: number, B: number, I: number, H: number, ...arrays: Float32Array[]): void;
};
let lstmKernels: LstmKernels | null | undefined;

/**
 * The native LSTM layer for training, or undefined where TensorFlow's ops run it. `LSTM_KERNELS`
 * chooses: `auto` (native where the addon loads and the CPU has AVX2 + FMA), `native` (an error naming what is
 * missing), `tensorflow`.
 */
export function nativeLstmKernels(): LstmKernels | undefined {
  if (lstmKernels !== undefined) return lstmKernels ?? undefined;
  const parsed = LstmKernelsChoice.safeParse(process.env.LSTM_KERNELS ?? 'auto');
  if (!parsed.success) throw new Error(`LSTM_KERNELS must be auto, native or tensorflow, not ${JSON.stringify(process.env.LSTM_KERNELS)}`);
  if (parsed.data === 'tensorflow') lstmKernels = null;
  else {
    const r = requireAddon();
    const addon = 'addon' in r ? r.addon : undefined;
    if (addon?.lstmForward && addon.lstmBackward) lstmKernels = { lstmForward: addon.lstmForward, lstmBackward: addon.lstmBackward };
    else if (parsed.data === 'native') throw new Error(`LSTM_KERNELS=native, but ${'why' in r ? r.why : 'this CPU lacks AVX2 or FMA'}`);
    else lstmKernels = null;
  }
  return lstmKernels ?? undefined;
}

/** The kernels this thread's poems run on (loaded once per thread). */
export function nativeKernelsInfo(): KernelsInfo {
  loaded ??= load();
  return loaded.info;
}

/** e.g. "avx512-vnni", or "WebAssembly" (with why, given `why`) */
export function describeKernels(why = false): string {
  const k = nativeKernelsInfo();
  return k.kernel === 'native' ? k.isa : why ? `WebAssembly (${k.why})` : 'WebAssembly';
}

/**
 * The native matmul over `memory` (int8-matvec.wat's, the same arguments), or undefined where the
 * WebAssembly kernel runs.
 */
export function nativeMatmul(memory: WebAssembly.Memory): BoundKernel | undefined {
  return overMemory('matmul', memory);
}

/** The native LSTM cells over `memory` (lstm-cell.wat's, the same arguments), or undefined. */
export function nativeCells(memory: WebAssembly.Memory): BoundKernel | undefined {
  return overMemory('cells', memory);
}

/** The native top-k pass of the sampler, or undefined. */
export function nativeTopK(): TopK | undefined {
  loaded ??= load();
  return loaded.addon?.topK;
}

/** the addon's `name` bound to `memory`: a view of it is made again whenever the memory has grown */
function overMemory(name: 'matmul' | 'cells', memory: WebAssembly.Memory): BoundKernel | undefined {
  loaded ??= load();
  const kernel = loaded.addon?.[name];
  if (!kernel) return undefined;
  let view = new Uint8Array(memory.buffer);
  return (...args: number[]) => {
    if (view.byteLength !== memory.buffer.byteLength) view = new Uint8Array(memory.buffer);
    kernel(view, ...args);
  };
}
