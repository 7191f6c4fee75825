/**
 * Writes poems on a worker thread, so the thread that talks to Discord never blocks on the model: a burst
 * of requests queues in the worker while acknowledgements and replies keep flowing.
 */
import type { Worker } from 'node:worker_threads';
import type { Manifest } from './checkpoint.js';
import { PoemInputError, type GeneratedPoem, type PoemRequest } from './poem-request.js';
import { BASE_CHECKPOINT, startWorker } from './workers.js';

type Pending = { resolve: (p: GeneratedPoem) => void; reject: (e: Error) => void };

export class PoemWriter {
  private nextId = 0;
  private pending = new Map<number, Pending>();

  private idle?: () => void;

  private constructor(
    private worker: Worker,
    readonly manifest: Manifest,
    /** e.g. "node (TensorFlow 2.21.0, 2 threads)" */
    readonly backend: string,
    /** why native TensorFlow is not the backend, when auto passed it (null otherwise) */
    readonly backendFallback: string | null,
    readonly checkpoint: string,
  ) {
    worker.on('message', (m: { id: number; poem?: GeneratedPoem; error?: string; inputError?: boolean }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.idle?.();
      if (m.poem) p.resolve(m.poem);
      else p.reject(m.inputError ? new PoemInputError(m.error) : new Error(`poem worker: ${m.error}`));
    });
    const failAll = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.idle?.();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`poem worker exited (code ${code})`)));
  }

  /** Starts a worker and loads the checkpoint there (verified, as loadCheckpoint does). */
  static start(checkpoint = BASE_CHECKPOINT): Promise<PoemWriter> {
    const worker = startWorker(new URL('./poem-worker.ts', import.meta.url).href, { checkpoint });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      const onExit = (code: number) => reject(new Error(`poem worker exited while loading ${checkpoint} (code ${code})`));
      worker.once('error', onError).once('exit', onExit);
      worker.once('message', (m: { manifest: Manifest; backend: string; fallback: string | null }) => {
        worker.off('error', onError).off('exit', onExit);
        resolve(new PoemWriter(worker, m.manifest, m.backend, m.fallback, checkpoint));
      });
    });
  }

  get version(): string {
    return this.manifest.version;
  }

  /** Writes one poem; rejects with PoemInputError for bad input. */
  generate(request: PoemRequest): Promise<GeneratedPoem> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, request });
    });
  }

  /** Poems being written now. */
  get busy(): number {
    return this.pending.size;
  }

  /** Lets the poems in flight finish (a hot swap closes the old model this way), then stops the worker. */
  async close(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await this.worker.terminate();
  }
}
