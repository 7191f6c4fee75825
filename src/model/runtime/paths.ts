/** Where the shipped models and the worker entry point are, in a module that loads nothing (no TensorFlow.js). */
import { fileURLToPath } from 'node:url';

/** Worker threads start from src/ts-worker.mjs, which registers tsx and loads the TypeScript module named in workerData.module. */
export const TS_WORKER = new URL('../../ts-worker.mjs', import.meta.url);
/** The checkpoint shipped in the repository. */
export const BASE_CHECKPOINT = fileURLToPath(new URL('../../../models/base', import.meta.url));
export const COUPLET_CHECKPOINT = fileURLToPath(new URL('../../../models/couplet', import.meta.url));
