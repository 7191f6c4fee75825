/**
 * Chooses the TensorFlow.js backend at run time: TFJS_BACKEND=auto|node-gpu|node|wasm|cpu.
 * auto tries node-gpu → node → wasm → cpu. The native backends are optional packages whose binding
 * `npm install` builds where it can (scripts/setup-native.mjs); when absent or broken, loading them fails in
 * several ways (MODULE_NOT_FOUND, "native addon … can not be found", a damaged .so), so any error means "not
 * available here": auto says why in one line and goes on, a named backend fails with that reason.
 */
// the full package: it registers the gradients, the cpu backend and the chained ops
import * as tf from '@tensorflow/tfjs';
import { isMainThread } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { quietlyLoading } from './native-addon.js';
import { nativeThreads, setNativeEnv } from './native-env.js';
import { applyWasmFixes } from './wasm-fixes.js';

export const BackendChoice = z.enum(['auto', 'node-gpu', 'node', 'wasm', 'cpu']);
export type BackendChoice = z.infer<typeof BackendChoice>;
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** What runs the model in this thread: the backend, the TensorFlow behind a native one, why auto passed others. */
export type BackendInfo = {
  name: BackendName;
  tensorflow: string | null;
  threads: number;
  fallback: string | null;
  /** whether several threads may run ops at once (a native binding needs the patch scripts/setup-native.mjs applies) */
  threadSafe: boolean;
};

const require = createRequire(import.meta.url);
const NATIVE_PACKAGES = { 'node-gpu': '@tensorflow/tfjs-node-gpu', node: '@tensorflow/tfjs-node' } as const;
let active: Promise<BackendInfo> | undefined;
let onGpu = false;

/** Whether this thread's model runs on a GPU (node-gpu): then every op stays in TensorFlow, none in kernels/x86/train-lstm.c. */
export function runsOnGpu(): boolean {
  return onGpu;
}

/** The first line of a load error, which names what is missing (a file, a symbol, the package). */
function reasonOf(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && /Cannot find module '@tensorflow\/tfjs-node/.test(message)) return 'the package is not installed';
  return message.split('\n')[0]!.slice(0, 300);
}

/** The marker scripts/setup-native.mjs leaves when it built the binding with its attribute-name lock. */
function nativeThreadSafe(pkg: string): boolean {
  try {
    return existsSync(join(dirname(require.resolve(`${pkg}/package.json`)), 'tangshi-thread-safe-binding'));
  } catch {
    return false;
  }
}

async function tryNative(name: keyof typeof NATIVE_PACKAGES): Promise<string | null> {
  const pkg = NATIVE_PACKAGES[name];
  if (isMainThread) setNativeEnv(); // in a worker the main thread has done it (native code never sees a worker's env)
  let version: string | undefined;
  try {
    quietlyLoading(() => require(pkg)); // registers the 'tensorflow' backend on the shared tfjs-core
    if (!(await tf.setBackend('tensorflow'))) throw new Error('its backend did not initialise');
    version = (tf.backend() as unknown as { binding: { TF_Version: string } }).binding.TF_Version;
  } catch (e) {
    throw new Error(`${pkg} cannot be loaded: ${reasonOf(e)}`);
  }
  return version;
}

async function tryWasm(): Promise<null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    applyWasmFixes();
    if (!(await tf.setBackend('wasm'))) throw new Error('its backend did not initialise');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm cannot be loaded: ${reasonOf(e)}`);
  }
  return null;
}

const loaders: Record<BackendName, () => Promise<string | null>> = {
  'node-gpu': () => tryNative('node-gpu'),
  node: () => tryNative('node'),
  wasm: tryWasm,
  cpu: async () => {
    await tf.setBackend('cpu');
    return null;
  },
};

async function choose(choice: BackendChoice): Promise<BackendInfo> {
  const order: BackendName[] = choice === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [choice];
  const passed: string[] = [];
  for (const name of order) {
    try {
      const tensorflow = await loaders[name]();
      await tf.ready();
      const fallback = passed.length > 0 && name !== 'node' ? passed.join('; ') : null;
      // node-gpu is skipped silently on machines without it; falling back past node is worth a line
      if (fallback) console.warn(`tangshi: TensorFlow.js runs on ${name}, not native TensorFlow: ${fallback}`);
      const threadSafe = name in NATIVE_PACKAGES ? nativeThreadSafe(NATIVE_PACKAGES[name as keyof typeof NATIVE_PACKAGES]) : true;
      onGpu = name === 'node-gpu';
      return { name, tensorflow, threads: tensorflow ? nativeThreads() : 1, fallback, threadSafe };
    } catch (e) {
      if (choice !== 'auto') {
        const hint = name.startsWith('node') ? ' Build it with `node scripts/setup-native.mjs` (npm install runs it), or use TFJS_BACKEND=auto.' : '';
        throw new Error(`TFJS_BACKEND=${choice}: ${(e as Error).message}.${hint}`);
      }
      // node-gpu not installed or never built (no GPU here) is the normal case, not worth a line
      if (name !== 'node-gpu' || !/not installed|can not be found/.test((e as Error).message)) passed.push((e as Error).message);
    }
  }
  throw new Error(`TFJS_BACKEND=auto: no backend could be loaded (${passed.join('; ')})`);
}

/** Initialises the backend once per thread and describes it. */
export function initBackendInfo(choice?: string): Promise<BackendInfo> {
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

/** Switches this thread to another backend, loading it if needed (tests and benchmarks that compare backends). */
export function useBackend(choice: BackendChoice): Promise<BackendInfo> {
  tf.env().set('PROD', true);
  active = choose(choice);
  active.catch(() => (active = undefined));
  return active;
}

/** Initialises the backend once per thread and returns its name (node-gpu, node, wasm or cpu). */
export async function initBackend(choice?: string): Promise<BackendName> {
  return (await initBackendInfo(choice)).name;
}

/** "node (TensorFlow 2.21.0, 2 threads)" or "wasm": for logs, the bench and /model status. */
export function describeBackend(info: BackendInfo): string {
  return info.tensorflow ? `${info.name} (TensorFlow ${info.tensorflow}, ${info.threads} threads)` : info.name;
}

export { tf };
