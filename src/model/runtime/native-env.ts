/**
 * Settings native TensorFlow reads from the process environment once, when it starts. Worker threads get a
 * copy of process.env that native code never sees, so the main thread sets these before any thread loads
 * TensorFlow (the bot at start-up, the CLI, backend.ts when it runs on the main thread). Loads nothing.
 */
import { availableParallelism } from 'node:os';

/** TensorFlow's intra-op pool (one per process, shared by every thread): from TF_NUM_INTRAOP_THREADS, else every core. */
export function nativeThreads(): number {
  const n = Number(process.env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/** Sets what is not set already; `threads` sizes the intra-op pool (the bot leaves a core to /poem). */
export function setNativeEnv(threads?: number): void {
  if (threads !== undefined && process.env.TF_NUM_INTRAOP_THREADS === undefined) process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  process.env.TF_NUM_INTRAOP_THREADS ??= String(nativeThreads());
  process.env.TF_NUM_INTEROP_THREADS ??= '1'; // TF.js runs eager ops one at a time: nothing to overlap
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'; // TensorFlow's start-up notes (CPU features, oneDNN) are not errors
  // TensorFlow's pooling allocator: plain malloc maps and unmaps every large tensor, and the page faults of a
  // fresh [N, V] buffer cost more than the softmax written into it
  process.env.TF_CPU_ALLOCATOR_USE_BFC ??= 'true';
}
