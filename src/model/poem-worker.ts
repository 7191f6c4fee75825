/** Worker thread that owns a PoemModel and writes poems on request (see PoemWriter). */
import { parentPort, workerData } from 'node:worker_threads';
import { PoemInputError, PoemModel, type PoemRequest } from './generate.js';

const model = await PoemModel.load(workerData.checkpoint as string);
parentPort!.postMessage({ ready: true, manifest: model.manifest, backend: model.backend, fallback: model.backendInfo.fallback });

parentPort!.on('message', (m: { id: number; request: PoemRequest }) => {
  try {
    parentPort!.postMessage({ id: m.id, poem: model.generate(m.request) });
  } catch (e) {
    const inputError = e instanceof PoemInputError;
    parentPort!.postMessage({ id: m.id, error: inputError ? (e as Error).message : ((e as Error).stack ?? String(e)), inputError });
  }
});
