/**
 * The trainer role (`tangshi trainer`, TRAINER=queue in the bot processes): the nightly fine-tune and the
 * admins' runs, taken one at a time from the queue on the PostgreSQL database the bot processes share
 * (queue.ts). It serves no poems: a run starts from the version the database says is active, and a
 * promotion marks the new version active, which every bot process hears of and loads (follow-active.ts).
 * Progress goes into the run's row as it goes and a stop is asked through it, so /model works from any shard.
 */
import pg from 'pg';
import { activeVersion, type Database, openDatabase, recordProgress, runById } from '../db/db.js';
import { loadCheckpoint } from '../model/poem/checkpoint.js';
import { TasteModel } from '../model/taste/taste-model.js';
import type { Log } from '../shared/log.js';
import { failInterruptedRuns, markActive, registerVersion } from './model-versions.js';
import { FINETUNE_QUEUE, type FinetuneJobData, openQueue, RUN_LOCK } from './queue.js';
import type { ProgressRecord } from './queued-runs.js';
import { type ActiveModel, type FinetuneSettings, FinetuneRunner, type RunReport } from './runner.js';

export type TrainerOptions = {
  databaseUrl: string;
  log: Log;
  modelDir: string;
  /** BASE_MODEL_DIR: the root of every lineage, and the start when no version is active yet */
  baseDir: string;
  settings: FinetuneSettings;
  /** TRAIN_CRON ("off": no nightly run) and TRAIN_TZ */
  cron: string;
  timezone: string;
  /** how often a run's row is written with its progress and read for a stop request */
  progressMs?: number;
  /** the worker module (tests substitute one) */
  workerModule?: string;
};

export type Trainer = { runner: FinetuneRunner; stop(): Promise<void> };

/** the longest a run's last state waits to be written, and a stop request to be seen */
const PROGRESS_MS = 1000;
/** how often an idle trainer looks for runs cut off with another trainer */
const ORPHAN_SWEEP_MS = 60_000;

export async function startTrainer(o: TrainerOptions): Promise<Trainer> {
  const { log } = o;
  const db = await openDatabase(o.databaseUrl);
  const boss = await openQueue(o.databaseUrl, (e) => log.warn({ err: e }, 'job queue error'), { schedule: true });
  // the session that holds the run lock while a run goes: if this process dies, PostgreSQL frees it at once
  const lock = new pg.Client({ connectionString: o.databaseUrl });
  lock.on('error', (e) => log.warn({ err: e }, 'the run lock’s connection failed'));
  await lock.connect();

  if (o.cron === 'off') await boss.unschedule(FINETUNE_QUEUE);
  else await boss.schedule(FINETUNE_QUEUE, o.cron, { trigger: 'schedule', requestedBy: null } satisfies FinetuneJobData, { tz: o.timezone });

  let active: ActiveModel = await activeModel(db, o.baseDir);
  const runner = new FinetuneRunner({
    db,
    log,
    modelDir: o.modelDir,
    root: o.baseDir,
    active: () => active,
    // the trainer serves nothing: "swapping" is checking that the checkpoint loads; marking it active (after)
    // is what makes every bot process load it
    swapTo: async (dir) => {
      const ck = loadCheckpoint(dir);
      active = { version: ck.manifest.version, checkpoint: dir };
    },
    useTaste: async (choice) => {
      try {
        TasteModel.load(choice.path, choice.sha256);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    },
    settings: o.settings,
    workerModule: o.workerModule,
  });

  /** Holding the run lock, no run is alive anywhere: one still marked running was cut off with its trainer. */
  const failOrphans = async () => {
    const orphans = await failInterruptedRuns(db, (id) => FinetuneRunner.runDir(o.modelDir, id), 'interrupted: its trainer stopped during the run');
    if (orphans.length > 0) log.warn({ runs: orphans }, 'fine-tunes cut off with their trainer are marked failed');
  };
  /** Runs `work` holding the run lock, or returns undefined at once when another trainer holds it. */
  const withRunLock = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    const took = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RUN_LOCK]);
    if (!took.rows[0]?.ok) return undefined;
    try {
      return await work();
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK]).catch(() => {});
    }
  };
  // a run cut off with a trainer would otherwise look alive to /model until the next run starts
  const sweep = () => withRunLock(failOrphans).catch((e) => log.warn({ err: e }, 'could not look for runs cut off with their trainer'));
  await sweep();
  const sweeper = setInterval(() => void (runner.current ? undefined : sweep()), ORPHAN_SWEEP_MS);
  sweeper.unref();

  await boss.work<FinetuneJobData>(FINETUNE_QUEUE, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) => {
    const outcome = await withRunLock(async () => {
      await failOrphans();
      active = await activeModel(db, o.baseDir);
      const data = job!.data;
      const started = await runner.start(data.trigger, data.requestedBy, job!.id);
      if (!started.started) throw new Error(`run #${started.running.id} is still going in this trainer`);
      return await watch(db, runner, started.run.id, started.done, o.progressMs ?? PROGRESS_MS, log);
    });
    if (!outcome) throw new Error('another trainer is running a fine-tune now');
    return outcome;
  });
  log.info({ cron: o.cron, timezone: o.timezone, active: active.version }, 'trainer ready: taking fine-tunes from the queue');

  let stopping: Promise<void> | undefined;
  return {
    runner,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(sweeper);
        await boss.offWork(FINETUNE_QUEUE);
        await runner.close(); // a run in progress is stopped and recorded as failed
        await boss.stop({ graceful: false, wait: true });
        await lock.end().catch(() => {});
        await db.close();
      })()),
  };
}

/** Writes the run's progress into its row and stops it when someone asks (through the row), until it ends. */
async function watch(db: Database, runner: FinetuneRunner, id: number, done: Promise<RunReport>, everyMs: number, log: Log): Promise<{ status: string }> {
  let changed = true;
  const onProgress = () => (changed = true);
  runner.on('progress', onProgress);
  const timer = setInterval(async () => {
    try {
      const state = runner.current;
      if (state && changed) {
        changed = false;
        const record: ProgressRecord = { phase: state.phase, ratedPoems: state.ratedPoems, progress: state.progress, lossCurve: state.lossCurve };
        await recordProgress(db, id, JSON.stringify(record));
      }
      const row = await runById(db, id);
      if (row?.stopRequestedBy) runner.stop(row.stopRequestedBy);
    } catch (e) {
      log.debug({ err: e, run: id }, 'could not write the run’s progress now');
    }
  }, everyMs);
  try {
    const report = await done;
    return { status: report.status };
  } finally {
    clearInterval(timer);
    runner.off('progress', onProgress);
  }
}

/** The version the database says is active; with none yet, the shipped base (registered and marked active, as a bot would). */
async function activeModel(db: Database, baseDir: string): Promise<ActiveModel> {
  const v = await activeVersion(db);
  if (v) return { version: v.version, checkpoint: v.path };
  const base = loadCheckpoint(baseDir);
  await registerVersion(db, base.manifest, baseDir);
  await markActive(db, base.manifest.version);
  return { version: base.manifest.version, checkpoint: baseDir };
}
