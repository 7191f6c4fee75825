/** Loads the backend on this (low-priority) thread, so native TensorFlow's threads start here (see startNativePoolAtLowPriority). */
import { parentPort } from 'node:worker_threads';
import { initBackendInfo, tf } from './backend.js';

const info = await initBackendInfo();
// one op: a native backend that was loaded but never ran one crashes the process at exit once this thread has ended
tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
parentPort!.postMessage({ backend: info.name });
