/**
 * The fine-tune queue when the trainer is its own process (TRAINER=queue, PostgreSQL): pg-boss, on the same
 * database. Bot processes send a job for an admin's /model retrain; the trainer's schedule sends one each night
 * (pg-boss's cron sends one job a tick cluster-wide, however many trainers run); a trainer works them one at
 * a time. Exactly one run at a time cluster-wide is a session-level advisory lock held by the trainer running
 * it: PostgreSQL releases it the moment that trainer's connection drops, so a killed trainer blocks nobody.
 */
import parser from 'cron-parser';
import PgBoss from 'pg-boss';
import type { RunTrigger } from './runner.js';

export const FINETUNE_QUEUE = 'finetune';
/** the advisory lock a trainer holds while it runs a fine-tune (any fixed number the bot uses for nothing else) */
export const RUN_LOCK = 1_954_061_223; // any number the bot takes no other advisory lock with

/** a job still active this long is given up by pg-boss (a run's budget is minutes; a killed trainer's job ends here) */
const RUN_EXPIRY_HOURS = 6;

export type FinetuneJobData = { trigger: RunTrigger; requestedBy: string | null };

/** Starts pg-boss on `url` (creating its schema on first use) with the fine-tune queue. */
export async function openQueue(url: string, onError: (e: Error) => void, options: { schedule?: boolean } = {}): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schedule: options.schedule ?? false, supervise: options.schedule ?? false });
  boss.on('error', onError);
  await boss.start();
  // short: at most one run waiting to start (a second admin's retrain joins it); a run killed with its
  // trainer is not retried (retryLimit 0): it is recorded failed and the next job starts afresh
  if (!(await boss.getQueue(FINETUNE_QUEUE)))
    await boss.createQueue(FINETUNE_QUEUE, { name: FINETUNE_QUEUE, policy: 'short', retryLimit: 0, expireInHours: RUN_EXPIRY_HOURS });
  return boss;
}

/** The next time the trainer's schedule sends a run, as pg-boss holds it; null when none is scheduled. */
export async function nextScheduledRun(boss: PgBoss): Promise<{ next: Date; cron: string; tz: string } | null> {
  const schedule = (await boss.getSchedules()).find((s) => s.name === FINETUNE_QUEUE) as (PgBoss.Schedule & { timezone?: string }) | undefined;
  if (!schedule) return null;
  const tz = schedule.timezone ?? schedule.options?.tz ?? 'UTC';
  return { next: parser.parseExpression(schedule.cron, { tz }).next().toDate(), cron: schedule.cron, tz };
}

/** What /model status shows of the schedule when the trainer holds it: the next run, read from the queue now and then. */
export function queueSchedule(boss: PgBoss, onError: (e: Error) => void, refreshMs = 60_000): { nextRun(): Date | null; stop(): Promise<void> } {
  let next: Date | null = null;
  const refresh = () =>
    nextScheduledRun(boss).then(
      (s) => (next = s?.next ?? null),
      (e) => onError(e as Error),
    );
  void refresh();
  const timer = setInterval(refresh, refreshMs);
  timer.unref();
  return {
    nextRun: () => next,
    stop: async () => clearInterval(timer),
  };
}
