/** What every command handler gets: settings, database, the active model, counters. */
import type { Config } from './config.js';
import type { Database } from './db.js';
import type { Log } from './log.js';
import type { PoemWriter } from '../model/poem-writer.js';

export type BotContext = {
  config: Config;
  db: Database;
  log: Log;
  /** The model that answers /poem now (a later hot swap replaces it). */
  model: PoemWriter;
  startedAt: Date;
  /** /poem requests being handled now: when another is in flight, the reply is deferred first. */
  poemsInFlight: number;
  /** userId → time (ms) the user may ask for the next poem */
  cooldowns: Map<string, number>;
};
