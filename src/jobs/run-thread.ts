/**
 * The fine-tune's worker thread, seen from the bot's side: start it on a job, hear its phases, progress and
 * log lines, ask it to stop, and get its result. The thread itself is finetune-worker.ts.
 */
import { startWorker } from '../model/runtime/threads.js';
import type { Progress } from '../model/poem/train/train.js';
import type { FinetuneJob, FinetuneMessage, FinetuneResult } from './run-worker.js';

export type FinetuneThreadHooks = {
  onPhase: (phase: 'training' | 'evaluating') => void;
  onProgress: (progress: Progress) => void;
  onLog: (message: string) => void;
};

/** The thread stopped because it was asked to. */
export class StoppedError extends Error {}

export type FinetuneThread = { result: Promise<FinetuneResult>; stop: () => void };

/**
 * How long a stopped thread gets to end by itself before it is terminated. It hears a stop only between
 * training steps: while it fits the taste models or writes RAFT's samples (synchronous work, a minute or more on
 * a slow machine) the message waits, and an admin's /model stop should not.
 */
const STOP_GRACE_MS = 10_000;

/** Starts `module` (finetune-worker.ts, or a test's stand-in for it) on `job`. The thread ends when the result is settled. */
export function startFinetuneThread(module: string, job: FinetuneJob, hooks: FinetuneThreadHooks): FinetuneThread {
  // the lowest priority, and so the gradient threads it starts: /poem and Discord come first (threads.ts)
  const worker = startWorker(module, { job }, { lowPriority: true });
  let settled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const result = new Promise<FinetuneResult>((resolve, reject) => {
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(graceTimer);
      f();
      void worker.terminate();
    };
    worker.on('message', (m: FinetuneMessage) => {
      if (m.type === 'phase') hooks.onPhase(m.phase);
      else if (m.type === 'progress') hooks.onProgress(m.progress);
      else if (m.type === 'log') hooks.onLog(m.message);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else if (m.type === 'stopped') settle(() => reject(new StoppedError('stopped')));
    });
    worker.on('error', (e) => settle(() => reject(new Error(`the fine-tune worker failed: ${e.message}`))));
    // (terminated after a stop's grace: settled only once the thread is gone, so the runner's clean-up comes after its last write)
    worker.on('exit', (code) =>
      settle(() => reject(graceTimer ? new StoppedError('stopped') : new Error(`the fine-tune worker exited (code ${code}) before it finished`))),
    );
  });
  const stop = () => {
    if (settled || graceTimer) return;
    worker.postMessage({ type: 'stop' });
    // nothing of a stopped run is kept (the runner removes its directories), so cutting it off loses nothing
    graceTimer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
  };
  return { result, stop };
}
