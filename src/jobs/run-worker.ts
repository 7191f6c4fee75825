/**
 * The fine-tune itself, on a worker thread (never on the thread that talks to Discord): train a copy of the
 * active checkpoint on the corpus's training split plus the rated poems, then measure the candidate's and
 * the active model's perplexity on the same dev set, and write the candidate with its figures.
 *
 * Messages to the parent: progress (throttled), phase changes, and at the end `done` or `stopped`. A
 * `stop` message from the parent ends training early; nothing is evaluated or written then.
 */
import { rmSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { copyCheckpoint, loadCheckpoint, type Manifest } from '../model/poem/checkpoint.js';
import { corpusTrainData } from '../model/poem/train/train-data.js';
import { checkpointPerplexity, type PerplexityResult } from '../model/poem/train/perplexity.js';
import { train, type Example, type Progress } from '../model/poem/train/train.js';

export type FinetuneJob = {
  /** the active checkpoint: the starting point and the model to beat */
  from: string;
  /** where the candidate checkpoint is written (its directory must not be in use) */
  out: string;
  rated: Example[];
  maxSteps?: number;
  maxMinutes?: number;
  lr: number;
  workers?: number;
};

export type FinetuneResult = {
  candidate: Manifest;
  before: PerplexityResult;
  after: PerplexityResult;
  steps: number;
  tokens: number;
};

export type FinetuneMessage =
  | { type: 'phase'; phase: 'training' | 'evaluating' }
  | { type: 'progress'; progress: Progress }
  | { type: 'log'; message: string }
  | { type: 'done'; result: FinetuneResult }
  | { type: 'stopped' };

const job = workerData.job as FinetuneJob;
const post = (m: FinetuneMessage) => parentPort!.postMessage(m);
const controller = new AbortController();
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') controller.abort();
});

const data = corpusTrainData(job.rated);
const trainDir = `${job.out}.training`;
post({ type: 'phase', phase: 'training' });
let lastPost = 0;
const trained = await train(
  // the final save drops optimizer state (float16 weights, like the shipped base); no periodic saves:
  // a run the bot does not finish is discarded, not resumed
  {
    from: job.from,
    out: trainDir,
    maxSteps: job.maxSteps,
    maxMinutes: job.maxMinutes,
    lr: job.lr,
    // no regularisation given: train() keeps what the active model was trained with
    workers: job.workers,
    dtype: 'float16',
    evalDev: false,
    saveEveryMinutes: 1e9,
  },
  data,
  {
    signal: controller.signal,
    onLog: (message) => post({ type: 'log', message }),
    onProgress: (progress) => {
      const now = performance.now();
      if (now - lastPost < 250 && progress.fraction < 1) return;
      lastPost = now;
      post({ type: 'progress', progress });
    },
  },
);
if (controller.signal.aborted) {
  rmSync(trainDir, { recursive: true, force: true });
  post({ type: 'stopped' });
} else {
  post({ type: 'phase', phase: 'evaluating' });
  const start = loadCheckpoint(job.from);
  const candidate = loadCheckpoint(trainDir);
  const after = await checkpointPerplexity(candidate, data.dev, job.workers);
  const before = await checkpointPerplexity(start, data.dev, job.workers);
  const manifest = copyCheckpoint(candidate, job.out, {
    metrics: { devPerplexity: after.perplexity, devContentPerplexity: after.contentPerplexity, devTokens: after.tokens },
  });
  rmSync(trainDir, { recursive: true, force: true });
  post({
    type: 'done',
    result: {
      candidate: manifest,
      before,
      after,
      steps: trained.training.step - start.manifest.training.step,
      tokens: trained.training.tokensSeen - start.manifest.training.tokensSeen,
    },
  });
}
