/**
 * Writes poems on worker threads, so the thread that talks to Discord never blocks on the model: a burst
 * of requests queues in the workers while acknowledgements and replies keep flowing. Each worker writes
 * the poems it is given together, a step for all at a time (poem-worker.ts); a request goes to the worker
 * with the fewest poems in hand, so one poem alone waits for no one and a burst uses every worker.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Manifest } from '../model/poem/checkpoint.js';
import { type GeneratedPoem, type InputProblem, PoemInputError, type PoemRequest } from '../model/poem/decode/poem-request.js';
import { BASE_CHECKPOINT, COUPLET_CHECKPOINT } from '../model/runtime/paths.js';
import { startWorker } from '../model/runtime/threads.js';
import type { CoupletAnswer, CoupletRequest } from '../model/couplet/decode.js';

/** poems a thread writes together at most; more wait for a place (beyond ~64 the batch outgrows the caches) */
export const MAX_BATCH = 64;

type Pending = { resolve: (answer: never) => void; reject: (e: Error) => void };
/** a taste model's file and the sha256 it must have (TasteVersion), for best-of-n */
export type TasteChoice = { path: string; sha256: string; version: string };
type ThreadMessage = {
  id: number;
  poem?: GeneratedPoem;
  couplet?: CoupletAnswer;
  error?: string;
  inputError?: boolean;
  problem?: InputProblem;
  tasteLoaded?: string | null;
  tasteProblem?: string | null;
};
type Ready = { manifest: Manifest; backend: string; fallback: string | null; coupletVersion: string | null; tasteProblem: string | null };

/**
 * Poem threads by default: one per core, at most two. On two cores the second thread makes bursts faster
 * since the poem writes are batched (one INSERT a batch, src/db/poems.ts, so the main thread keeps up); a
 * lone poem then runs without the product helper, a little slower (bench/bot-latency.ts).
 */
export const defaultPoemWorkers = () => Math.max(1, Math.min(2, availableParallelism()));
/** A lone poem thread shares its big products with a helper thread where there is a second core (product-helper.ts). */
export const defaultProductThreads = (workers: number) => (workers === 1 && availableParallelism() >= 2 ? 2 : 1);

class PoemThread {
  private nextId = 0;
  readonly pending = new Map<number, Pending>();
  private idle?: () => void;
  /** why the thread serves without its taste model (damaged, missing), or null */
  tasteProblem: string | null = null;
  private tasteWaiters: ((problem: string | null) => void)[] = [];

  constructor(readonly worker: Worker) {
    worker.on('message', (m: ThreadMessage) => {
      if (m.tasteLoaded !== undefined) {
        this.tasteProblem = m.tasteProblem ?? null;
        this.tasteWaiters.shift()?.(this.tasteProblem);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.idle?.();
      if (m.poem || m.couplet) p.resolve((m.poem ?? m.couplet) as never);
      else p.reject(m.inputError ? new PoemInputError(m.error, m.problem) : new Error(`poem worker: ${m.error}`));
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
  static start(
    checkpoint: string,
    options: { couplet: string; productThreads: number; bestOf: number; taste: TasteChoice | null },
  ): Promise<{ thread: PoemThread; ready: Ready }> {
    const worker = startWorker(new URL('./poem-thread.ts', import.meta.url).href, { checkpoint, ...options });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      const onExit = (code: number) => reject(new Error(`poem worker exited while loading ${checkpoint} (code ${code})`));
      worker.once('error', onError).once('exit', onExit);
      worker.once('message', (ready: Ready) => {
        worker.off('error', onError).off('exit', onExit);
        const thread = new PoemThread(worker);
        thread.tasteProblem = ready.tasteProblem;
        resolve({ thread, ready });
      });
    });
  }

  ask<T>(message: { request: PoemRequest } | { couplet: CoupletRequest }): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (answer: never) => void, reject });
      this.worker.postMessage({ id, ...message });
    });
  }

  /** Loads another taste model (or none); resolves to why it could not, or null. */
  useTaste(choice: TasteChoice | null): Promise<string | null> {
    return new Promise((resolve) => {
      this.tasteWaiters.push(resolve);
      this.worker.postMessage({ taste: choice });
    });
  }

  async close(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await this.worker.terminate();
  }
}

/**
 * how the poems are served: poem threads, threads a poem thread's products use, the couplet model, candidates
 * a poem gets at most (BEST_OF_N) and the taste model that chooses among them
 */
export type ServingOptions = { workers?: number; productThreads?: number; couplet?: string; bestOf?: number; taste?: TasteChoice | null };

/** why the product helpers are paused: a fine-tune runs, or a hot swap loads the next model */
export type HelperPause = 'finetune' | 'swap';

export class PoemWriter {
  private readonly helperPausedFor = new Set<HelperPause>();

  private constructor(
    private readonly threads: PoemThread[],
    readonly manifest: Manifest,
    /** e.g. "node (TensorFlow 2.21.0, 2 threads)" */
    readonly backend: string,
    /** why native TensorFlow is not the backend, when auto passed it (null otherwise) */
    readonly backendFallback: string | null,
    readonly checkpoint: string,
    /** the couplet model's version, or null when there is none (see COUPLET_CHECKPOINT) */
    readonly coupletVersion: string | null,
    /** candidates a poem gets at most, when a taste model is loaded */
    readonly bestOf: number,
    private taste: TasteChoice | null,
  ) {}

  /** Starts `workers` poem threads, each loading the checkpoint (verified, as loadCheckpoint does) and the couplet model if there is one. */
  static async start(checkpoint = BASE_CHECKPOINT, options: ServingOptions = {}): Promise<PoemWriter> {
    const count = Math.max(1, options.workers ?? defaultPoemWorkers());
    const productThreads = options.productThreads ?? defaultProductThreads(count);
    const bestOf = Math.max(1, options.bestOf ?? 1);
    const taste = options.taste ?? null;
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => PoemThread.start(checkpoint, { couplet: options.couplet ?? COUPLET_CHECKPOINT, productThreads, bestOf, taste })),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const threads = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.thread] : []));
    if (failed) {
      await Promise.all(threads.map((t) => t.worker.terminate()));
      throw failed.reason;
    }
    const { ready } = (started[0] as PromiseFulfilledResult<{ ready: Ready }>).value;
    return new PoemWriter(threads, ready.manifest, ready.backend, ready.fallback, checkpoint, ready.coupletVersion, bestOf, taste);
  }

  /** The taste model this writer was asked to use (in use unless tasteProblem says why not). */
  get tasteChoice(): TasteChoice | null {
    return this.taste;
  }

  /** The taste model choosing among candidates, or null (then every poem is its seed's one candidate). */
  get tasteModel(): TasteChoice | null {
    return this.taste && !this.tasteProblem ? this.taste : null;
  }

  /** Why the taste model named is not in use (damaged, missing), or null. */
  get tasteProblem(): string | null {
    return this.threads.find((t) => t.tasteProblem)?.tasteProblem ?? null;
  }

  /** Serves with another taste model (or none), on every thread; resolves to why it could not load, or null. */
  async useTaste(choice: TasteChoice | null): Promise<string | null> {
    this.taste = choice;
    const problems = await Promise.all(this.threads.map((t) => t.useTaste(choice)));
    return problems.find((p) => p !== null) ?? null;
  }

  get version(): string {
    return this.manifest.version;
  }

  /** How many threads write poems. */
  get workers(): number {
    return this.threads.length;
  }

  /** Poems being written at once at most (every thread's batch full); more wait for a place. */
  get batchCapacity(): number {
    return this.threads.length * MAX_BATCH;
  }

  /** Writes one poem; rejects with PoemInputError for bad input. */
  generate(request: PoemRequest): Promise<GeneratedPoem> {
    return this.leastBusy().ask({ request });
  }

  /** Answers an upper line with a lower line; rejects with PoemInputError for bad input. */
  couplet(request: CoupletRequest): Promise<CoupletAnswer> {
    return this.leastBusy().ask({ couplet: request });
  }

  private leastBusy(): PoemThread {
    return this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  /**
   * Pauses (or resumes, for `reason`) the poem threads' product helpers (see ServingOptions.productThreads);
   * they run again once no reason is left. The poems stay
   * the same, written on one thread each. The bot pauses them while it fine-tunes, whose threads then have
   * the helper's core (bench/learning-loop.ts: /poem's p99 while training), and a hot swap while
   * the next model loads.
   */
  pauseProductHelper(reason: HelperPause, paused: boolean): void {
    const before = this.productHelperPaused;
    if (paused) this.helperPausedFor.add(reason);
    else this.helperPausedFor.delete(reason);
    if (this.productHelperPaused !== before) for (const t of this.threads) t.worker.postMessage({ pauseProductHelper: !before });
  }

  /** paused for any reason, or only for `reason` */
  productHelperPausedFor(reason?: HelperPause): boolean {
    return reason ? this.helperPausedFor.has(reason) : this.helperPausedFor.size > 0;
  }

  get productHelperPaused(): boolean {
    return this.productHelperPausedFor();
  }

  /** Writes one poem on every thread: the first poem pays one-time costs (kernel set-up, caches). */
  async warm(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ask({ request: { seed: 1 } })));
  }

  /** Poems being written now. */
  get busy(): number {
    return this.threads.reduce((n, t) => n + t.pending.size, 0);
  }

  /** Lets the poems in flight finish (a hot swap closes the old model this way), then stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}
