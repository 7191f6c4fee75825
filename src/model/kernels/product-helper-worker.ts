/**
 * The helper thread of product-helper.ts: it holds an instance of the int8 kernel on each registered
 * matrix's shared memory and runs the jobs it is given, spinning briefly between them and sleeping (in a
 * way that lets registrations arrive) when none comes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BoundKernel, nativeMatmul } from './native-kernels.js';
import { CTRL } from './product-helper.js';

// (in Node since 16; TypeScript's lib has it from es2024)
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number) => { value: Promise<string> | string } }).waitAsync;
const ctrl = new Int32Array(workerData.ctrl as SharedArrayBuffer);
const kernels: BoundKernel[] = [];

parentPort!.on('message', async (m: { id: number; module: WebAssembly.Module; memory: WebAssembly.Memory }) => {
  const instance = await WebAssembly.instantiate(m.module, { env: { memory: m.memory } });
  kernels[m.id] = nativeMatmul(m.memory) ?? (instance.exports as unknown as { matmul: BoundKernel }).matmul; // as the caller's thread
  parentPort!.postMessage({ registered: m.id });
});
parentPort!.postMessage({ ready: true });

const SPIN_MS = 5;
const args = new Array<number>(11); // a job's matmul arguments, read into the same array each time
let last = 0;
for (;;) {
  // spin a while: during a poem the next job comes within microseconds, in a burst within the time it takes
  // to choose the batch's characters (a few ms); waking from the wait below takes much longer
  const until = performance.now() + SPIN_MS;
  for (let spins = 0; Atomics.load(ctrl, CTRL.SEQ) === last; spins++) if ((spins & 1023) === 0 && performance.now() > until) break;
  if (Atomics.load(ctrl, CTRL.SEQ) === last) await waitAsync(ctrl, CTRL.SEQ, last).value;
  last = Atomics.load(ctrl, CTRL.SEQ);
  // the caller may have done it already (it does when this thread is slow to wake)
  if (Atomics.compareExchange(ctrl, CTRL.CLAIM, last - 1, last) !== last - 1) continue;
  for (let a = 0; a < args.length; a++) args[a] = ctrl[CTRL.ARGS + a]!;
  kernels[ctrl[CTRL.MATRIX]!]!(...args);
  Atomics.store(ctrl, CTRL.DONE, last);
  Atomics.notify(ctrl, CTRL.DONE);
}
