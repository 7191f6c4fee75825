/** What every command handler gets: settings, database, the active model, counters. */
import type { AcknowledgementGate } from './acknowledgements.js';
import type { Config } from './config.js';
import type { Database } from '../db/db.js';
import type { Log } from '../shared/log.js';
import type { PoemWriter } from '../serving/poem-writer.js';
import type { TrainingSchedule } from '../jobs/schedule.js';
import type { Runs } from '../jobs/runner.js';
import type { ActiveVersionFollower } from '../jobs/follow-active.js';
import type { LRUCache } from 'lru-cache';

export type BotContext = {
  config: Config;
  db: Database;
  log: Log;
  /** The model that answers /poem now; a hot swap replaces it (read it once per request). */
  readonly model: PoemWriter;
  /** Makes the checkpoint at `dir` answer /poem (load and warm beside, switch, free the old one). */
  swapModel: (dir: string) => Promise<PoemWriter>;
  /** keeps this process on the active versions; a change made here goes through its `exclusive` */
  versions: ActiveVersionFollower;
  /** the fine-tunes: this process's runner, or (TRAINER=queue) a view of the trainer's */
  finetunes: Runs;
  schedule: TrainingSchedule;
  /** Work that outlives its interaction (a retrain's progress edits); shutdown waits for it. */
  background: Set<Promise<unknown>>;
  startedAt: Date;
  /** /poem requests being handled now: behind many, a new one is acknowledged at once. */
  poemsInFlight: number;
  /** /poem replies wait here while acknowledgements are on their way (the 3-second rule comes first) */
  acknowledgements: AcknowledgementGate;
  /** userId → time (ms) the user may ask for the next poem; the users who asked longest ago are forgotten first */
  cooldowns: LRUCache<string, number>;
};
