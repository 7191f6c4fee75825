/** How a worker thread starts: from a module that loads nothing (no TensorFlow.js), so the bot's main thread can use it. */
import { Worker } from 'node:worker_threads';
import { setNativeEnv } from './native-env.js';
import { TS_WORKER } from './paths.js';

/**
 * Starts a worker thread running the TypeScript module `module` (a URL) with `data` beside it. Native
 * TensorFlow reads its settings from the process environment, which a worker's process.env never reaches:
 * they are set here first, on the thread that starts the worker.
 */
export function startWorker(module: string, data: Record<string, unknown> = {}): Worker {
  setNativeEnv();
  return new Worker(TS_WORKER, { workerData: { ...data, module } });
}
