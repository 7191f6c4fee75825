/**
 * The native poem kernels (native-kernels.c, built at install into build/native-kernels.node): the WebAssembly
 * kernels' matmul (int8-matvec.wat) and LSTM cells (lstm-cell.wat) with the same arguments and bit for bit
 * the same results, on AVX-512 VNNI or AVX2, and the sampler's top-k pass (sampler.ts), the same ids.
 * `POEM_KERNELS` chooses: `auto` (default: native where it loads, else WebAssembly), `native` (an error
 * that names what is missing when it cannot), `wasm`; `TANGSHI_NATIVE_KERNELS_FILE` names another build of it.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const NATIVE_KERNELS_FILE = fileURLToPath(new URL('../../build/native-kernels.node', import.meta.url));
const kernelFile = () => (process.env.TANGSHI_NATIVE_KERNELS_FILE ? resolve(process.env.TANGSHI_NATIVE_KERNELS_FILE) : NATIVE_KERNELS_FILE); // (relative to the working directory)
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
type Addon = { isa: string; matmul?: Kernel; cells?: Kernel; topK?: TopK };
/** a kernel of the addon bound to one WebAssembly memory: the .wat kernel's own arguments */
export type BoundKernel = (...args: number[]) => void;
/** which kernels this thread's poems run on, and why when they are not the native ones */
export type KernelsInfo = { kernel: 'native'; isa: string } | { kernel: 'wasm'; why: string };

let loaded: { addon?: Addon; info: KernelsInfo } | undefined;

function load(): { addon?: Addon; info: KernelsInfo } {
  const parsed = KernelsChoice.safeParse(process.env.POEM_KERNELS ?? 'auto');
  if (!parsed.success) throw new Error(`POEM_KERNELS must be auto, native or wasm, not ${JSON.stringify(process.env.POEM_KERNELS)}`);
  if (parsed.data === 'wasm') return { info: { kernel: 'wasm', why: 'POEM_KERNELS=wasm' } };
  let why: string;
  try {
    const addon = createRequire(import.meta.url)(kernelFile()) as Addon;
    if (addon.matmul) return { addon, info: { kernel: 'native', isa: addon.isa } };
    why = 'this CPU has neither AVX-512 VNNI nor AVX2';
  } catch (error) {
    // any failure (missing, built for another Node, a damaged file) leaves the WebAssembly kernels
    why = `${kernelFile()} did not load (${String((error as Error).message ?? error).split('\n')[0]}); \`npm run build:native-kernels\` builds it`;
  }
  if (parsed.data === 'native') throw new Error(`POEM_KERNELS=native, but ${why}`);
  return { info: { kernel: 'wasm', why } };
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
