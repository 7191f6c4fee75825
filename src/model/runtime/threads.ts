/** How a worker thread starts: from a module that loads nothing (no TensorFlow.js), so the bot's main thread can use it. */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { setNativeEnv } from './native-env.js';
import { TS_WORKER } from './paths.js';

/** nice 19: the thread runs when no thread of normal priority wants its core */
export const LOWEST_PRIORITY = 19;

/**
 * Starts a worker thread running the TypeScript module `module` (a URL) with `data` beside it. Native
 * TensorFlow reads its settings from the process environment, which a worker's process.env never reaches:
 * they are set here first, on the thread that starts the worker.
 *
 * `lowPriority`: the thread lowers its own CPU priority before it loads anything, and the threads it starts
 * inherit it (the bot's fine-tune: /poem and Discord keep their cores while it trains).
 */
export function startWorker(module: string, data: Record<string, unknown> = {}, options: { lowPriority?: boolean } = {}): Worker {
  setNativeEnv();
  return new Worker(TS_WORKER, { workerData: { ...data, module, lowPriority: options.lowPriority ?? false } });
}

/**
 * Lowers the calling thread's CPU priority to LOWEST_PRIORITY. On Linux the nice value belongs to a thread
 * (setpriority on a thread id), and a thread starts with its creator's. False where that is not so (other
 * systems, no /proc): the thread then runs at its normal priority.
 */
export function lowerThisThreadsPriority(): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, LOWEST_PRIORITY);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads native TensorFlow first on a thread of the lowest priority, then ends it. Native TensorFlow has one
 * intra-op pool per process, started by the first thread that loads it, whose priority its threads keep: so
 * the fine-tune's products run on threads that yield to /poem, while the poem threads' own work (int8 kernels
 * in WebAssembly, on their own threads) keeps its priority. Call it before anything else loads TensorFlow.js;
 * resolves to the native backend's name, or null where none loads (wasm and cpu have no pool to start). It
 * costs a thread loading TensorFlow.js at start.
 */
export async function startNativePoolAtLowPriority(): Promise<string | null> {
  const choice = process.env.TFJS_BACKEND ?? 'auto';
  if (choice === 'wasm' || choice === 'cpu') return null; // (and a thread's start saved)
  const worker = startWorker(new URL('./native-pool-worker.ts', import.meta.url).href, { choice }, { lowPriority: true });
  try {
    return await new Promise<string | null>((resolve, reject) => {
      worker.once('message', (m: { backend: string | null }) => resolve(m.backend));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the thread that loads TensorFlow exited (code ${code})`)));
    });
  } finally {
    await worker.terminate();
  }
}
