/** Worker threads start from src/ts-worker.mjs, which registers tsx and loads the TypeScript module named in workerData.module. */
export const TS_WORKER = new URL('../ts-worker.mjs', import.meta.url);
