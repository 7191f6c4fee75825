// Worker threads start from plain JavaScript: register tsx, then load the TypeScript module named in
// workerData.module (the bin does the same for the main thread).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
