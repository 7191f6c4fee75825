/**
 * Chooses the TensorFlow.js backend at run time: TFJS_BACKEND=auto|node-gpu|node|wasm|cpu.
 * auto tries node-gpu → node → wasm → cpu. The native backends are optional packages that cannot
 * install everywhere; when absent, loading them can fail in several ways (MODULE_NOT_FOUND, "native
 * addon … can not be found"), so any error means "not available here".
 */
// the full package: it registers the gradients, the cpu backend and the chained ops
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { applyWasmFixes } from './wasm-fixes.js';

export const BackendChoice = z.enum(['auto', 'node-gpu', 'node', 'wasm', 'cpu']);
export type BackendChoice = z.infer<typeof BackendChoice>;

const require = createRequire(import.meta.url);
let active: Promise<string> | undefined;

async function tryNative(pkg: string): Promise<boolean> {
  try {
    require(pkg); // registers the 'tensorflow' backend on the shared tfjs-core
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    applyWasmFixes();
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

const loaders: Record<Exclude<BackendChoice, 'auto'>, () => Promise<boolean>> = {
  'node-gpu': () => tryNative('@tensorflow/tfjs-node-gpu'),
  node: () => tryNative('@tensorflow/tfjs-node'),
  wasm: tryWasm,
  cpu: () => tf.setBackend('cpu'),
};

async function choose(choice: BackendChoice): Promise<string> {
  const order = choice === 'auto' ? (['node-gpu', 'node', 'wasm', 'cpu'] as const) : [choice];
  for (const name of order) {
    if (await loaders[name]()) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`TFJS_BACKEND=${choice}: that backend cannot be loaded on this machine (try TFJS_BACKEND=auto)`);
}

/** Initialises the backend once per thread and returns its name (node-gpu, node, wasm or cpu). */
export function initBackend(choice?: string): Promise<string> {
  if (!active) {
    const parsed = BackendChoice.safeParse(choice ?? process.env.TFJS_BACKEND ?? 'auto');
    if (!parsed.success) {
      return Promise.reject(new Error(`TFJS_BACKEND must be one of auto, node-gpu, node, wasm, cpu (got "${choice ?? process.env.TFJS_BACKEND}")`));
    }
    tf.env().set('PROD', true); // skip per-op NaN checks
    active = choose(parsed.data);
    active.catch(() => (active = undefined));
  }
  return active;
}

export { tf };
