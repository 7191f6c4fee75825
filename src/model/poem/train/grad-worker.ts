/** A data-parallel training worker: computes loss and gradients for its shard of each batch. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../runtime/backend.js';
import { type Dropout, lossAndGrads, paramViews, toTensors, type Batch, type ModelConfig } from '../network.js';

const {
  config,
  params: paramsBuffer,
  grads: gradsBuffer,
  backend,
} = workerData as {
  config: ModelConfig;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  backend: string;
};

const params = paramViews(config, paramsBuffer);
const grads = paramViews(config, gradsBuffer);
const ready = initBackend(backend);
// tell the engine when the backend is up: native TensorFlow must not start in two threads at once
ready.then(
  () => parentPort!.postMessage({ ready: true }),
  (e) => parentPort!.postMessage({ ready: false, error: (e as Error).message }),
);

parentPort!.on('message', async (m: { batch: Batch; grads: boolean; perToken?: boolean; handGrad?: boolean; dropout?: Dropout }) => {
  try {
    await ready;
    const tensors = toTensors(config, params);
    try {
      const r = lossAndGrads(config, tensors, m.batch, m);
      if (r.grads) for (const [name, g] of r.grads) grads.get(name)!.set(g);
      parentPort!.postMessage({ nllSum: r.nllSum, weightSum: r.weightSum, perToken: r.perToken });
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).stack ?? String(e) });
  }
});
