/**
 * A second thread for the int8 products: each product's output columns are split in two, this thread
 * computes the first half while the helper computes the rest, on the same shared memory, with the same
 * kernel, so every output is bit for bit what one thread gives. Worth it where a product is big (a burst's
 * batch, the wide layers at H = 512); a small one runs alone.
 *
 * The two threads meet on a few Int32 words: the caller writes a job and bumps SEQ; the helper, which spins
 * for a moment after each job (the next one comes within microseconds while a poem is written) and then
 * sleeps, claims it (CLAIM: SEQ − 1 → SEQ, compare-and-swap), computes it and sets DONE = SEQ. A job the
 * helper has not claimed by the time the caller's own half is done is claimed and done by the caller: a
 * sleeping helper never makes a product slower than one thread.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../runtime/threads.js';

/** the control words: the last job posted, the last one done, the last one claimed (by either thread), the job */
export const CTRL = { SEQ: 0, DONE: 1, CLAIM: 2, MATRIX: 3, ARGS: 4 } as const;
/** how long the caller waits for the helper to take a job before it does the job itself (the helper may be asleep) */
const CLAIM_WAIT_SPINS = 2048;
/** a product of fewer multiply-adds than this runs on one thread (the hand-over costs a few microseconds) */
export const SPLIT_MIN_MACS = 1 << 18;
/**
 * A product of more inputs than this runs on one thread too: in a burst the bot's main thread needs the
 * second core (Discord's traffic, the database), and a helper that waits for it stalls the poems
 * (bench/bot-latency.ts, with and without this limit).
 */
export const SPLIT_MAX_INPUTS = 8;

export class ProductHelper {
  /** while paused, every product runs on the caller's thread alone (the bot pauses it while a fine-tune trains) */
  paused = false;
  private seq = 0;
  private matrices = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly ctrl: Int32Array,
  ) {}

  static async start(): Promise<ProductHelper> {
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * 16));
    const worker = startWorker(new URL('./product-helper-worker.ts', import.meta.url).href, { ctrl: ctrl.buffer });
    worker.unref(); // it never keeps a process alive
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new ProductHelper(worker, ctrl);
  }

  /** Gives the helper a matrix's kernel module and memory; returns the id jobs name it by. */
  async register(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<number> {
    const id = this.matrices++;
    const ready = new Promise<void>((resolve) => {
      const onMessage = (m: { registered?: number }) => {
        if (m.registered !== id) return;
        this.worker.off('message', onMessage);
        resolve();
      };
      this.worker.on('message', onMessage);
    });
    this.worker.postMessage({ id, module, memory });
    await ready;
    return id;
  }

  /** Starts the helper on `args` (the kernel's matmul arguments) for matrix `id`; finish() waits for it. */
  begin(id: number, args: readonly number[]): number {
    const { ctrl } = this;
    ctrl[CTRL.MATRIX] = id;
    for (let a = 0; a < args.length; a++) ctrl[CTRL.ARGS + a] = args[a]!;
    const seq = ++this.seq;
    Atomics.store(ctrl, CTRL.SEQ, seq);
    Atomics.notify(ctrl, CTRL.SEQ);
    return seq;
  }

  /** Waits for job `seq`; if the helper has not taken it yet, takes it and runs `doItHere` instead. */
  finish(seq: number, doItHere: () => void): void {
    const { ctrl } = this;
    for (let spins = 0; spins < CLAIM_WAIT_SPINS && Atomics.load(ctrl, CTRL.CLAIM) !== seq; spins++);
    if (Atomics.compareExchange(ctrl, CTRL.CLAIM, seq - 1, seq) === seq - 1) {
      doItHere();
      Atomics.store(ctrl, CTRL.DONE, seq);
      return;
    }
    for (let spins = 0; Atomics.load(ctrl, CTRL.DONE) !== seq; spins++) {
      if (spins > 4096) Atomics.wait(ctrl, CTRL.DONE, Atomics.load(ctrl, CTRL.DONE), 1);
    }
  }

  /** how many jobs were handed to the helper thread so far */
  get jobsPosted(): number {
    return this.seq;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
