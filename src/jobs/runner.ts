/**
 * The fine-tune runner: one fine-tune at a time, started by the schedule or an admin.
 *
 * A run: record it (TrainingRun) → collect the well-rated poems → fine-tune a copy of the active checkpoint on
 * a worker thread (src/jobs/run-worker.ts) → the worker measures the candidate's and the active model's
 * dev perplexity in the same run → register the candidate (ModelVersion) → promote it only if it is not worse
 * than the active one beyond PROMOTE_MAX_PPL_RISE: load and warm it beside the old one, switch, let the old one
 * finish its poems (see swapModel). Whatever happens, the run's row ends promoted, rejected or failed with
 * the reason, and `finished` is emitted with a report.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PoemWriter } from '../serving/poem-writer.js';
import type { Progress } from '../model/poem/train/train.js';
import { finishRun, retryWhenBusy, startRun, type Database } from '../db/db.js';
import type { Log } from '../shared/log.js';
import { ratedExamples } from './rated-poems.js';
import { startFinetuneThread, StoppedError } from './run-thread.js';
import type { FinetuneJob, FinetuneResult } from './run-worker.js';
import { decidePromotion, type PromotionVerdict } from './promotion.js';
import { pruneVersions, registerVersion, serveVersion } from './model-versions.js';

export type RunTrigger = 'schedule' | 'admin';
export type RunPhase = 'preparing' | 'training' | 'evaluating' | 'promoting';

export type RunState = {
  /** TrainingRun id (0 until the row is written) */
  id: number;
  trigger: RunTrigger;
  requestedBy: string | null;
  startedAt: Date;
  phase: RunPhase;
  baseVersion: string;
  ratedPoems: number;
  progress: Progress | null;
  /** [step, loss] while training, thinned to at most MAX_CURVE_POINTS */
  lossCurve: [number, number][];
};

export type RunReport = {
  id: number;
  trigger: RunTrigger;
  requestedBy: string | null;
  status: 'promoted' | 'rejected' | 'failed';
  baseVersion: string;
  candidateVersion: string | null;
  pplBefore: number | null;
  pplAfter: number | null;
  steps: number;
  tokens: number;
  ratedPoems: number;
  seconds: number;
  /** why it was promoted or not */
  decision: string | null;
  /** the promotion rule's case and answer, when the run got that far (for a report in the reader's language) */
  verdict: PromotionVerdict | null;
  /** why it failed */
  error: string | null;
  lossCurve: [number, number][];
};

export type FinetuneSettings = {
  lr: number;
  maxSteps?: number;
  maxMinutes?: number;
  workers?: number;
  maxPplRise: number;
  ratedMinAverage: number;
  ratedMaxShare: number;
  /** versions kept besides the active one and rollback's target (MODEL_KEEP_VERSIONS); unset: all */
  keepVersions?: number;
};

export type FinetuneRunnerDeps = {
  db: Database;
  log: Log;
  /** MODEL_DIR: runs write under runs/, kept candidates live under versions/ */
  modelDir: string;
  /** the model answering /poem now */
  active: () => PoemWriter;
  /** makes the checkpoint at `dir` the one answering /poem (throws, changing nothing, if it cannot load) */
  swapTo: (dir: string) => Promise<PoemWriter>;
  settings: FinetuneSettings;
  /** the worker module (tests substitute one that crashes) */
  workerModule?: string;
};

const MAX_CURVE_POINTS = 1000;

export type StartResult = { started: true; run: RunState; done: Promise<RunReport> } | { started: false; running: RunState };

export class FinetuneRunner extends EventEmitter<{ progress: [RunState]; finished: [RunReport] }> {
  private run?: { state: RunState; stopThread?: () => void; stoppedBy?: string; done: Promise<RunReport> };

  constructor(private deps: FinetuneRunnerDeps) {
    super();
  }

  /** The run in progress, if any. */
  get current(): RunState | undefined {
    return this.run?.state;
  }

  static runDir(modelDir: string, id: number): string {
    return resolve(modelDir, 'runs', `run-${id}`);
  }

  /** Starts a run, unless one is running: then says which. */
  async start(trigger: RunTrigger, requestedBy: string | null = null): Promise<StartResult> {
    if (this.run) return { started: false, running: this.run.state };
    const base = this.deps.active();
    const state: RunState = {
      id: 0,
      trigger,
      requestedBy,
      startedAt: new Date(),
      phase: 'preparing',
      baseVersion: base.version,
      ratedPoems: 0,
      progress: null,
      lossCurve: [],
    };
    let recorded!: () => void;
    const rowWritten = new Promise<void>((r) => (recorded = r));
    const run: NonNullable<FinetuneRunner['run']> = { state, done: undefined as never };
    this.run = run; // taken before the first await: a second start() sees it
    run.done = this.execute(run, base, recorded).finally(() => {
      this.run = undefined;
    });
    run.done.then((report) => this.emit('finished', report));
    await Promise.race([rowWritten, run.done]);
    return { started: true, run: state, done: run.done };
  }

  /** Asks the run in progress to stop (it ends as failed, "stopped by …"). False when nothing runs. */
  stop(by: string): boolean {
    if (!this.run) return false;
    this.run.stoppedBy ??= by;
    this.run.stopThread?.();
    return true;
  }

  /** Stops a run in progress and waits until it is recorded. */
  async close(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.stop('the bot shutting down');
    await run.done.catch(() => {});
  }

  private async execute(run: NonNullable<FinetuneRunner['run']>, base: PoemWriter, recorded: () => void): Promise<RunReport> {
    const { db, log, settings } = this.deps;
    const { state } = run;
    const began = Date.now();
    const report: RunReport = {
      id: 0,
      trigger: state.trigger,
      requestedBy: state.requestedBy,
      status: 'failed',
      baseVersion: base.version,
      candidateVersion: null,
      pplBefore: null,
      pplAfter: null,
      steps: 0,
      tokens: 0,
      ratedPoems: 0,
      seconds: 0,
      decision: null,
      verdict: null,
      error: null,
      lossCurve: state.lossCurve,
    };
    let out: string | undefined;
    try {
      const row = await startRun(db, { trigger: state.trigger, requestedBy: state.requestedBy, baseVersion: base.version });
      state.id = report.id = row.id;
      recorded();
      log.info({ run: row.id, trigger: state.trigger, by: state.requestedBy, base: base.version }, 'fine-tune started');

      const rated = await retryWhenBusy(() =>
        ratedExamples(db, { minAverage: settings.ratedMinAverage, maxShare: settings.ratedMaxShare, corpusPoems: base.manifest.split.trainPoems }),
      );
      state.ratedPoems = report.ratedPoems = rated.length;
      out = FinetuneRunner.runDir(this.deps.modelDir, row.id);
      const job: FinetuneJob = {
        from: base.checkpoint,
        out,
        rated,
        lr: settings.lr,
        maxSteps: settings.maxSteps,
        maxMinutes: settings.maxMinutes,
        workers: settings.workers,
      };
      const result = await this.runWorker(run, job);
      if (run.stoppedBy) throw new Error(`stopped by ${run.stoppedBy}`); // (asked while it was evaluating)
      Object.assign(report, {
        steps: result.steps,
        tokens: result.tokens,
        candidateVersion: result.candidate.version,
        pplBefore: result.before.perplexity,
        pplAfter: result.after.perplexity,
      });

      // keep the candidate: it becomes a version (promoted or not, /model rollback can reach it)
      const dir = resolve(this.deps.modelDir, 'versions', result.candidate.version);
      mkdirSync(join(dir, '..'), { recursive: true });
      renameSync(out, dir);
      await registerVersion(db, result.candidate, dir, row.id);

      const verdict = decidePromotion({
        before: result.before.perplexity,
        after: result.after.perplexity,
        maxPplRise: settings.maxPplRise,
        baseVersion: base.version,
        activeVersion: this.deps.active().version,
      });
      report.decision = verdict.decision;
      report.verdict = verdict;
      if (verdict.promote) {
        state.phase = 'promoting';
        this.emit('progress', state);
        await serveVersion(db, this.deps.swapTo, { version: result.candidate.version, path: dir }, base);
        report.status = 'promoted';
      } else {
        report.status = 'rejected';
      }
      if (settings.keepVersions !== undefined) {
        const pruned = await pruneVersions(db, { keep: settings.keepVersions, versionsDir: resolve(this.deps.modelDir, 'versions') });
        if (pruned.length > 0) log.info({ pruned }, 'old model versions deleted');
      }
    } catch (e) {
      report.status = 'failed';
      report.error = (e as Error).message;
      if (out) {
        rmSync(out, { recursive: true, force: true });
        rmSync(`${out}.training`, { recursive: true, force: true });
      }
      recorded(); // (when the row could not even be written)
    }
    report.seconds = (Date.now() - began) / 1000;
    if (report.id > 0) {
      try {
        await finishRun(db, report.id, {
          status: report.status,
          candidateVersion: report.candidateVersion,
          steps: report.steps,
          tokens: report.tokens,
          ratedPoems: report.ratedPoems,
          pplBefore: report.pplBefore,
          pplAfter: report.pplAfter,
          decision: report.decision,
          error: report.error,
          lossCurve: JSON.stringify(report.lossCurve),
        });
      } catch (e) {
        // the next start marks a run still "running" as interrupted; the report still reaches the admin
        log.error({ err: e, run: report.id }, 'could not record the end of the fine-tune');
      }
    }
    log.info(
      { run: report.id, status: report.status, before: report.pplBefore, after: report.pplAfter, error: report.error ?? undefined },
      'fine-tune finished',
    );
    return report;
  }

  private async runWorker(run: NonNullable<FinetuneRunner['run']>, job: FinetuneJob): Promise<FinetuneResult> {
    if (run.stoppedBy) throw new Error(`stopped by ${run.stoppedBy}`);
    const { state } = run;
    const thread = startFinetuneThread(this.deps.workerModule ?? new URL('./run-worker.ts', import.meta.url).href, job, {
      onPhase: (phase) => {
        state.phase = phase;
        this.emit('progress', state);
      },
      onProgress: (progress) => {
        state.progress = progress;
        state.lossCurve.push([progress.step, progress.loss]);
        if (state.lossCurve.length > MAX_CURVE_POINTS) state.lossCurve.splice(0, state.lossCurve.length, ...state.lossCurve.filter((_, i) => i % 2 === 0));
        this.emit('progress', state);
      },
      onLog: (message) => this.deps.log.debug({ run: state.id }, message),
    });
    run.stopThread = thread.stop;
    if (run.stoppedBy) thread.stop();
    try {
      return await thread.result;
    } catch (e) {
      throw e instanceof StoppedError ? new Error(`stopped by ${run.stoppedBy ?? 'request'}`) : e;
    }
  }
}
