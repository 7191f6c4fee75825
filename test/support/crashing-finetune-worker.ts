/** A fine-tune worker that fails mid-run (fault injection for the trainer's tests): it reports some progress, then throws. */
import { parentPort } from 'node:worker_threads';

parentPort!.postMessage({ type: 'phase', phase: 'training' });
parentPort!.postMessage({ type: 'progress', progress: { step: 1, epoch: 0, fraction: 0.1, loss: 7.5, tokensPerSecond: 100, etaSeconds: 9, tokensSeen: 100 } });
setTimeout(() => {
  throw new Error('simulated fault in the training step');
}, 50);
