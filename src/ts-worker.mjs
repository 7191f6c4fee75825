// Worker threads start from plain JavaScript: register tsx, then load the TypeScript module named in
// workerData.module (the bin does the same for the main thread).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
// before the module loads anything: the threads it starts (TensorFlow's, gradient workers) inherit the priority
if (workerData.lowPriority) (await import('./model/runtime/threads.ts')).lowerThisThreadsPriority();
await import(workerData.module);
