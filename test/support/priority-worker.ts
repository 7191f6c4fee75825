/**
 * A worker for test/threads.test.ts: reports its own nice value, and that of a worker it starts when asked,
 * in a message that is also a fine-tune thread's log line (so it can stand in for finetune-worker.ts).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { startWorker } from '../../src/model/runtime/threads.js';

/** field 19 of /proc/thread-self/stat (after the command name, which may hold spaces) */
const nice = () => Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[16]);

let child: number | null = null;
if (workerData.startChild || workerData.job?.startChild) {
  const worker = startWorker(import.meta.url);
  child = await new Promise<number>((resolve) => worker.once('message', (m: { nice: number }) => resolve(m.nice)));
  await worker.terminate();
}
const report = { nice: nice(), child };
parentPort!.postMessage({ type: 'log', message: JSON.stringify(report), ...report });
