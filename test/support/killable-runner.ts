/**
 * A process that runs a real fine-tune and is killed mid-run by the test (SIGKILL): it opens the database at
 * argv[2], serves the active version, starts a run with a long budget and prints "training" once the run's
 * worker is training.
 */
import { pino } from 'pino';
import { openDatabase } from '../../src/db/db.js';
import { hotSwapper } from '../../src/serving/hot-swap.js';
import { FinetuneRunner } from '../../src/jobs/runner.js';
import { loadServingModel } from '../../src/jobs/model-versions.js';

const [dbFile, baseDir, modelDir] = process.argv.slice(2) as [string, string, string];
const log = pino({ level: 'silent' });
const db = await openDatabase(`file:${dbFile}`);
const holder = { model: await loadServingModel(db, baseDir, log) };
const runner = new FinetuneRunner({
  db,
  log,
  modelDir,
  active: () => holder.model,
  swapTo: hotSwapper(holder),
  root: baseDir,
  useTaste: (choice) => holder.model.useTaste(choice),
  settings: { lr: 0.01, maxMinutes: 10, workers: 1, pplBudget: 0.015, recipe: 'raft', preferenceShare: 0.3, maxReaderShare: 0.1 },
});
runner.on('progress', (state) => {
  if (state.phase === 'training' && state.progress) console.log(`training ${state.id}`);
});
await runner.start('admin', '100000000000000001');
