/**
 * The nightly fine-tune: node-cron starts a run on TRAIN_CRON in TRAIN_TZ. noOverlap makes a firing that
 * comes while the previous scheduled run is still going a no-op; a run started by an admin is still going,
 * the runner refuses and the firing is logged and skipped.
 */
import cron from 'node-cron';
import type { Log } from '../shared/log.js';
import type { FinetuneRunner } from './runner.js';

export type TrainingSchedule = { nextRun(): Date | null; stop(): Promise<void> };

export function scheduleTraining(runner: FinetuneRunner, expression: string, timezone: string, log: Log): TrainingSchedule {
  if (expression === 'off') return { nextRun: () => null, stop: async () => {} };
  const task = cron.schedule(
    expression,
    async () => {
      const r = await runner.start('schedule');
      if (!r.started) {
        log.info({ running: r.running.id }, 'scheduled fine-tune skipped: another run is in progress');
        return;
      }
      await r.done;
    },
    {
      timezone,
      noOverlap: true,
      name: 'nightly-finetune',
      // node-cron's own messages (e.g. a firing skipped by noOverlap) go to our JSON log, not to stderr
      logger: {
        info: (m) => log.info(m),
        warn: (m) => log.warn(m),
        error: (m, e) => log.error({ err: e ?? m }, String(m)),
        debug: (m) => log.debug(String(m)),
      },
    },
  );
  return {
    nextRun: () => task.getNextRun(),
    stop: async () => {
      await task.destroy();
    },
  };
}
