/** Places the threads and the bot need, and how a thread starts, in a module that loads nothing (no TensorFlow.js). */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setNativeEnv } from './native-env.js';

/** Worker threads start from src/ts-worker.mjs, which registers tsx and loads the TypeScript module named in workerData.module. */
export const TS_WORKER = new URL('../ts-worker.mjs', import.meta.url);
/** The checkpoint shipped in the repository. */
export const BASE_CHECKPOINT = fileURLToPath(new URL('../../models/base', import.meta.url));
export const COUPLET_CHECKPOINT = fileURLToPath(new URL('../../models/couplet', import.meta.url));

/**
 * Starts a worker thread running the TypeScript module `module` (a URL) with `data` beside it. Native
 * TensorFlow reads its settings from the process environment, which a worker's process.env never reaches:
 * they are set here first, on the thread that starts the worker.
 */
export function startWorker(module: string, data: Record<string, unknown> = {}): Worker {
  setNativeEnv();
  return new Worker(TS_WORKER, { workerData: { ...data, module } });
}
