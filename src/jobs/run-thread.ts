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

/** Starts `module` (finetune-worker.ts, or a test's stand-in for it) on `job`. The thread ends when the result is settled. */
export function startFinetuneThread(module: string, job: FinetuneJob, hooks: FinetuneThreadHooks): FinetuneThread {
  // the lowest priority, and so the gradient threads it starts: /poem and Discord come first (threads.ts)
  const worker = startWorker(module, { job }, { lowPriority: true });
  const result = new Promise<FinetuneResult>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
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
    worker.on('exit', (code) => settle(() => reject(new Error(`the fine-tune worker exited (code ${code}) before it finished`))));
  });
  return { result, stop: () => worker.postMessage({ type: 'stop' }) };
}
