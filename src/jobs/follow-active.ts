/**
 * Every process serves the active versions. ModelVersion.active and TasteVersion.active are the truth; a
 * process that did not make a change itself (another shard's process rolled back, the trainer promoted)
 * hears of it by a PostgreSQL notice (db/notices.ts) and re-reads the truth, and re-reads it anyway on every
 * reconnect and on a slow timer, since a notice sent while it was disconnected is gone. A version it cannot
 * load (a checkpoint directory this machine does not see) is logged, and it keeps serving what it has.
 */
import { activeTaste, activeVersion, type Database } from '../db/db.js';
import type { PoemWriter, TasteChoice } from '../serving/poem-writer.js';
import type { Log } from '../shared/log.js';

export type FollowerDeps = {
  db: Database;
  log: Log;
  /** the model answering /poem in this process now */
  current: () => PoemWriter;
  /** hot-swaps this process to the checkpoint at `dir` */
  swapTo: (dir: string) => Promise<PoemWriter>;
  /** serves with this taste model from now on; resolves to why it could not load, or null */
  useTaste: (choice: TasteChoice) => Promise<string | null>;
};

export class ActiveVersionFollower {
  private queue: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: FollowerDeps) {}

  /**
   * Runs a change this process makes itself (swap, then mark active) with no re-read in between: a re-read
   * between the two would find the old version still marked active and swap back.
   */
  exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.queue.then(change);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Brings this process to the active model and taste versions; resolves to what it switched to. */
  sync(why: string): Promise<{ model?: string; taste?: string }> {
    return this.exclusive(async () => {
      const { db, log } = this.deps;
      const switched: { model?: string; taste?: string } = {};
      if (this.stopped) return switched; // shutting down: the model may be closing
      let model: Awaited<ReturnType<typeof activeVersion>>;
      let taste: Awaited<ReturnType<typeof activeTaste>>;
      try {
        [model, taste] = await Promise.all([activeVersion(db), activeTaste(db)]);
      } catch (e) {
        log.warn({ err: e, why }, 'cannot read the active versions now; serving what this process has');
        return switched;
      }
      const serving = this.deps.current();
      if (model && model.version !== serving.version) {
        try {
          await this.deps.swapTo(model.path);
          switched.model = model.version;
          log.info({ from: serving.version, to: model.version, why }, 'now serving the active model version');
        } catch (e) {
          log.warn(
            { version: model.version, path: model.path, reason: (e as Error).message, serving: serving.version },
            'cannot load the active model version here',
          );
        }
      }
      if (taste && taste.version !== this.deps.current().tasteChoice?.version) {
        const problem = await this.deps.useTaste({ path: taste.path, sha256: taste.sha256, version: taste.version });
        if (problem) log.warn({ taste: taste.version, reason: problem }, 'cannot load the active taste model here');
        else {
          switched.taste = taste.version;
          log.info({ taste: taste.version, why }, 'now choosing with the active taste model');
        }
      }
      return switched;
    });
  }

  /** Re-reads the truth every `intervalMs` until stop(). */
  startTimer(intervalMs: number): void {
    this.timer = setInterval(() => void this.sync('timer'), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; resolves once a re-read in progress is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.queue;
  }
}
