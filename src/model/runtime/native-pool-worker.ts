/**
 * Loads native TensorFlow on this (low-priority) thread, so its threads start here (see
 * startNativePoolAtLowPriority). Only a native backend: without one there is no pool to start, and loading
 * wasm here would cost the bot's start a second and memory for nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, tf, useBackend } from './backend.js';

const tried: BackendName[] = workerData.choice === 'auto' ? ['node-gpu', 'node'] : [workerData.choice];
let backend: BackendName | null = null;
for (const name of tried) {
  try {
    backend = (await useBackend(name)).name;
    break;
  } catch {
    // not here: the model's own load, on its thread, says why in its one line
  }
}
// one op: a native backend that was loaded but never ran one crashes the process at exit once this thread has ended
if (backend) tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
parentPort!.postMessage({ backend });
