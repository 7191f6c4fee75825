/**
 * A fine-tune worker busy where no message reaches it (as the real one is while it fits taste models or writes
 * RAFT's samples): it says it is training, then computes without ever yielding. Only terminating it ends it.
 */
import { parentPort } from 'node:worker_threads';

parentPort!.postMessage({ type: 'phase', phase: 'training' });
for (;;) Math.random();
