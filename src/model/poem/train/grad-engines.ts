/**
 * Gradient engines: loss sums and gradient sums for a batch, in this thread or data-parallel over worker
 * threads (each a share of the batch's rows, its gradient sums in shared memory; the optimizer adds them up).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { initBackendInfo } from '../../runtime/backend.js';
import { type Sequence, toBatch } from './batches.js';
import { countParams, type Dropout, lossAndGrads, paramViews, toTensors, type Batch, type ModelConfig, type ModelParams } from '../network.js';
import { startWorker } from '../../runtime/threads.js';

type StepResult = { nllSum: number; weightSum: number; perToken?: Float32Array[] };
type RunOptions = { grads: boolean; perToken?: boolean; handGrad?: boolean; dropout?: Dropout };

/** Computes loss sums (and gradient sums, one set per worker, in `gradParts`) for a batch, in-process or over worker threads. */
export interface GradEngine {
  readonly params: ModelParams;
  /** each worker's gradient sums for its share of the last batch: the optimizer adds them up */
  readonly gradParts: readonly ModelParams[];
  run(seqs: Sequence[], opts: RunOptions): Promise<StepResult & { batches: Batch[] }>;
  close(): Promise<void>;
}

function allocate(config: ModelConfig, shared: boolean): { buffer: ArrayBufferLike; views: ModelParams } {
  const buffer = shared ? new SharedArrayBuffer(countParams(config) * 4) : new ArrayBuffer(countParams(config) * 4);
  return { buffer, views: paramViews(config, buffer) };
}

function splitRows(seqs: Sequence[], parts: number): Sequence[][] {
  const size = Math.ceil(seqs.length / parts);
  return Array.from({ length: parts }, (_, k) => seqs.slice(k * size, (k + 1) * size)).filter((s) => s.length > 0);
}

class InProcessEngine implements GradEngine {
  readonly params: ModelParams;
  readonly gradParts: ModelParams[];
  constructor(private config: ModelConfig) {
    this.params = allocate(config, false).views;
    this.gradParts = [allocate(config, false).views];
  }
  async run(seqs: Sequence[], opts: RunOptions) {
    const batch = toBatch(seqs);
    const tensors = toTensors(this.config, this.params);
    try {
      const r = lossAndGrads(this.config, tensors, batch, opts);
      if (r.grads) for (const [name, g] of r.grads) this.gradParts[0]!.get(name)!.set(g);
      return { nllSum: r.nllSum, weightSum: r.weightSum, perToken: r.perToken && [r.perToken], batches: [batch] };
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  async close() {}
}

class WorkerEngine implements GradEngine {
  readonly params: ModelParams;
  /** the workers' gradient sums of the last batch (the shards it had: fewer rows than workers leave some out) */
  gradParts: ModelParams[] = [];
  private workerGrads: ModelParams[] = [];
  private workers: Worker[] = [];

  private constructor(config: ModelConfig) {
    this.params = allocate(config, true).views;
  }

  /** Starts the workers one after another: tfjs-node crashed (SIGSEGV) when two threads loaded it at once. */
  static async start(config: ModelConfig, count: number, backend: string): Promise<WorkerEngine> {
    const engine = new WorkerEngine(config);
    const module = new URL('./grad-worker.ts', import.meta.url).href;
    const paramsBuffer = engine.params.values().next().value!.buffer;
    try {
      for (let k = 0; k < count; k++) {
        const grads = allocate(config, true);
        engine.workerGrads.push(grads.views);
        const worker = startWorker(module, { config, params: paramsBuffer, grads: grads.buffer, backend });
        engine.workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          const settle = (error?: Error) => {
            cleanup();
            if (error) reject(error);
            else resolve();
          };
          const onMessage = (m: { ready: boolean; error?: string }) => settle(m.ready ? undefined : new Error(`training worker: ${m.error}`));
          const onError = (e: Error) => settle(e);
          const onExit = (code: number) => settle(new Error(`training worker exited with code ${code} while starting`));
          const cleanup = () => worker.off('message', onMessage).off('error', onError).off('exit', onExit);
          worker.on('message', onMessage).on('error', onError).on('exit', onExit);
        });
      }
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  private call(worker: Worker, message: unknown): Promise<{ nllSum: number; weightSum: number; perToken?: Float32Array }> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { error?: string; nllSum: number; weightSum: number; perToken?: Float32Array }) => {
        cleanup();
        if (m.error) reject(new Error(`training worker: ${m.error}`));
        else resolve(m);
      };
      const fail = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onError = (e: Error) => fail(e);
      const onExit = (code: number) => fail(new Error(`training worker exited with code ${code}`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage(message);
    });
  }

  async run(seqs: Sequence[], opts: RunOptions) {
    const shards = splitRows(seqs, this.workers.length).map(toBatch);
    const results = await Promise.all(shards.map((batch, k) => this.call(this.workers[k]!, { batch, ...opts })));
    if (opts.grads) this.gradParts = this.workerGrads.slice(0, shards.length);
    return {
      nllSum: results.reduce((a, r) => a + r.nllSum, 0),
      weightSum: results.reduce((a, r) => a + r.weightSum, 0),
      perToken: opts.perToken ? results.map((r) => r.perToken!) : undefined,
      batches: shards,
    };
  }

  async close() {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Data-parallel workers: on wasm/cpu each runs one thread, and on native TensorFlow too they beat one thread
 * driving both cores (each op's dispatch from JavaScript costs time, and two threads dispatch at once;
 * `tangshi bench`). A GPU gets one.
 */
export async function createEngine(config: ModelConfig, workers?: number, backendChoice?: string): Promise<GradEngine> {
  const { name: backend, threadSafe } = await initBackendInfo(backendChoice);
  // an unpatched native binding crashes when two threads run ops at once: one thread drives every core then
  const count = workers ?? (backend === 'node-gpu' || !threadSafe ? 1 : Math.min(2, availableParallelism()));
  return count > 1 ? WorkerEngine.start(config, count, backend) : new InProcessEngine(config);
}
