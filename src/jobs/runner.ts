/**
 * The night's run: one at a time, started by the schedule or an admin.
 *
 * A run: record it (TrainingRun) → read the night's data (night-data.ts: the readers' fair scores, their
 * prompts) → on a worker thread (run-worker.ts): fit the taste models, fine-tune a copy of the active
 * checkpoint on the corpus with the readers' preferences (RAFT or KTO), and measure both models for the gate →
 * register the taste model (TasteVersion) and serve it when its held-out AUC beats the active one's → register
 * the candidate (ModelVersion) and promote it only if the gate passes (promotion.ts): load and warm it beside
 * the old one, switch, let the old one finish its poems (see swapModel). Whatever happens, the run's row ends
 * promoted, rejected or failed with the reason and the gate's figures, and `finished` is emitted with a report.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PoemWriter } from '../serving/poem-writer.js';
import type { Progress } from '../model/poem/train/train.js';
import type { TasteChoice } from '../serving/poem-writer.js';
import { TasteModel } from '../model/taste/taste-model.js';
import { activeTaste, finishRun, markTasteActive, recordTaste, retryWhenBusy, startRun, type Database } from '../db/db.js';
import type { Log } from '../shared/log.js';
import { nightData } from './night-data.js';
import { startFinetuneThread, StoppedError } from './run-thread.js';
import type { FinetuneJob, FinetuneResult, Recipe, TasteResult } from './run-worker.js';
import { decideGate, type GateVerdict } from './promotion.js';
import { pruneVersions, registerVersion, serveVersion } from './model-versions.js';

export type RunTrigger = 'schedule' | 'admin';
/** what a run needs of the model it starts from: its version and checkpoint directory */
export type ActiveModel = Pick<PoemWriter, 'version' | 'checkpoint'>;
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
  /** the gate's case, checks and answer, when the run got that far (for a report in the reader's language) */
  verdict: GateVerdict | null;
  /** how the policy learnt (raft, kto, or corpus when there was no taste to learn), and from how many examples */
  recipe: string | null;
  preferenceExamples: number;
  /** the night's taste model, whether it now chooses among candidates, and why there was none */
  taste: (TasteResult & { promoted: boolean }) | null;
  noTaste: string | null;
  /** why it failed */
  error: string | null;
  lossCurve: [number, number][];
};

export type FinetuneSettings = {
  lr: number;
  maxSteps?: number;
  maxMinutes?: number;
  workers?: number;
  /** the share dev perplexity may rise by in a night (PROMOTE_PPL_BUDGET), and since the root (PROMOTE_PPL_TOTAL_BUDGET) */
  pplBudget: number;
  totalBudget?: number;
  /** how the policy learns from the readers (FINETUNE_RECIPE) */
  recipe: Recipe;
  /** the share of training steps that learn from the readers */
  preferenceShare: number;
  /** the most one reader's ratings weigh of a night's (READER_MAX_SHARE) */
  maxReaderShare: number;
  /** RAFT: poems written, and the share kept; KTO: β */
  samples?: number;
  keep?: number;
  beta?: number;
  /** versions kept besides the active one and rollback's target (MODEL_KEEP_VERSIONS); unset: all */
  keepVersions?: number;
};

export type FinetuneRunnerDeps = {
  db: Database;
  log: Log;
  /** MODEL_DIR: runs write under runs/, kept candidates live under versions/ */
  modelDir: string;
  /** the version answering /poem now (a bot's own model; the trainer's: what the database says is active) */
  active: () => ActiveModel;
  /** the root of every lineage (BASE_MODEL_DIR): the gate bounds drift from it */
  root: string;
  /** makes the checkpoint at `dir` the one answering /poem (throws, changing nothing, if it cannot load) */
  swapTo: (dir: string) => Promise<unknown>;
  settings: FinetuneSettings;
  /** serves with this taste model from now on (every poem thread) */
  useTaste: (choice: TasteChoice) => Promise<string | null>;
  /** the worker module (tests substitute one that crashes) */
  workerModule?: string;
  /** runs a change of the versions served (swap, then mark active) with nothing re-reading them in between (follow-active.ts) */
  exclusive?: <T>(change: () => Promise<T>) => Promise<T>;
};

const MAX_CURVE_POINTS = 1000;

export type StartResult = { started: true; run: RunState; done: Promise<RunReport> } | { started: false; running: RunState };

/** What /model needs of the fine-tunes: this process's runner, or (TRAINER=queue) a view of the trainer's (queued-runs.ts). */
export interface Runs extends EventEmitter<{ progress: [RunState]; finished: [RunReport] }> {
  /** the run in progress, if any */
  readonly current: RunState | undefined;
  start(trigger: RunTrigger, requestedBy?: string | null): Promise<StartResult>;
  /** asks the run in progress to stop; false when nothing runs */
  stop(by: string): boolean;
  close(): Promise<void>;
}

export class FinetuneRunner extends EventEmitter<{ progress: [RunState]; finished: [RunReport] }> implements Runs {
  private run?: { state: RunState; stopThread?: () => void; stoppedBy?: string; done: Promise<RunReport> };

  constructor(private deps: FinetuneRunnerDeps) {
    super();
  }

  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    return this.deps.exclusive ? this.deps.exclusive(change) : change();
  }

  /** The run in progress, if any. */
  get current(): RunState | undefined {
    return this.run?.state;
  }

  static runDir(modelDir: string, id: number): string {
    return resolve(modelDir, 'runs', `run-${id}`);
  }

  /** Starts a run, unless one is running: then says which. */
  async start(trigger: RunTrigger, requestedBy: string | null = null, jobId: string | null = null): Promise<StartResult> {
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
    run.done = this.execute(run, base, recorded, jobId).finally(() => {
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

  private async execute(run: NonNullable<FinetuneRunner['run']>, base: ActiveModel, recorded: () => void, jobId: string | null): Promise<RunReport> {
    const { db, log, settings } = this.deps;
    const { state } = run;
    const began = Date.now();
    const report = emptyReport({ trigger: state.trigger, requestedBy: state.requestedBy, baseVersion: base.version, lossCurve: state.lossCurve });
    let out: string | undefined;
    try {
      const row = await startRun(db, { trigger: state.trigger, requestedBy: state.requestedBy, baseVersion: base.version, jobId });
      state.id = report.id = row.id;
      recorded();
      log.info({ run: row.id, trigger: state.trigger, by: state.requestedBy, base: base.version }, 'fine-tune started');

      const night = await retryWhenBusy(() => nightData(db, { maxReaderShare: settings.maxReaderShare }));
      state.ratedPoems = report.ratedPoems = night.ratedPoems;
      report.noTaste = night.noTaste;
      const serving = await activeTaste(db);
      let activeTasteJson: string | null = null;
      if (serving) {
        try {
          activeTasteJson = TasteModel.load(serving.path, serving.sha256).toJSON();
        } catch (e) {
          log.warn({ version: serving.version, reason: (e as Error).message }, 'the active taste model cannot be read: any new one may replace it');
        }
      }
      out = FinetuneRunner.runDir(this.deps.modelDir, row.id);
      const tasteDir = resolve(this.deps.modelDir, 'taste');
      mkdirSync(tasteDir, { recursive: true });
      const job: FinetuneJob = {
        from: base.checkpoint,
        root: this.deps.root,
        out,
        lr: settings.lr,
        maxSteps: settings.maxSteps,
        maxMinutes: settings.maxMinutes,
        workers: settings.workers,
        recipe: settings.recipe,
        preferenceShare: settings.preferenceShare,
        taste: night.taste,
        activeTaste: activeTasteJson,
        tasteOut: join(tasteDir, `run-${row.id}.json`),
        prompts: night.prompts,
        gatePrompts: night.gatePrompts,
        ratedTexts: night.ratedTexts,
        samples: settings.samples ?? 1024,
        keep: settings.keep ?? 0.25,
        beta: settings.beta ?? 0.1,
        seed: row.id,
      };
      const result = await this.runWorker(run, job);
      if (run.stoppedBy) throw new Error(`stopped by ${run.stoppedBy}`); // (asked while it was evaluating)
      Object.assign(report, {
        steps: result.steps,
        tokens: result.tokens,
        candidateVersion: result.candidate.version,
        pplBefore: result.before.perplexity,
        pplAfter: result.after.perplexity,
        recipe: result.recipe,
        preferenceExamples: result.preferenceExamples,
      });

      // the taste model: recorded either way; it chooses among candidates once it ranks unseen ratings better
      if (result.taste) {
        const t = result.taste;
        await recordTaste(db, {
          version: t.version,
          path: t.path,
          sha256: t.sha256,
          heldOutAuc: t.heldOutAuc,
          heldOutPoems: t.heldOutPoems,
          trainedPoems: t.trainedPoems,
          runId: row.id,
        });
        const better = t.heldOutAuc !== null && t.heldOutAuc > 0.5 && (activeTasteJson === null || t.activeAuc === null || t.heldOutAuc > t.activeAuc);
        if (better) {
          await this.exclusive(async () => {
            const problem = await this.deps.useTaste({ path: t.path, sha256: t.sha256, version: t.version });
            if (problem) throw new Error(`the new taste model could not be served: ${problem}`);
            await markTasteActive(db, t.version);
          });
        }
        report.taste = { ...t, promoted: better };
      }

      // keep the candidate: it becomes a version (promoted or not, /model rollback can reach it)
      const dir = resolve(this.deps.modelDir, 'versions', result.candidate.version);
      mkdirSync(join(dir, '..'), { recursive: true });
      renameSync(out, dir);
      await registerVersion(db, result.candidate, dir, row.id);

      const verdict = decideGate({
        before: result.before.perplexity,
        after: result.after.perplexity,
        pplBudget: settings.pplBudget,
        active: result.gate.active,
        candidate: result.gate.candidate,
        corpusDistinct2: result.gate.corpusDistinct2,
        root: result.gate.root,
        totalBudget: settings.totalBudget ?? 3 * settings.pplBudget,
        baseVersion: base.version,
        activeVersion: this.deps.active().version,
      });
      report.decision = verdict.decision;
      report.verdict = verdict;
      if (verdict.promote) {
        state.phase = 'promoting';
        this.emit('progress', state);
        await this.exclusive(() => serveVersion(db, this.deps.swapTo, { version: result.candidate.version, path: dir }, base));
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
          recipe: report.recipe,
          tasteVersion: report.taste?.version ?? null,
          gate: JSON.stringify(gateRecord(report)),
          report: JSON.stringify(report),
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

/** A run's report before anything is known (failed until the run says otherwise): filled in as it goes. */
export function emptyReport(
  start: Pick<RunReport, 'trigger' | 'requestedBy' | 'baseVersion'> & Partial<Pick<RunReport, 'id' | 'lossCurve' | 'error'>>,
): RunReport {
  return {
    id: 0,
    status: 'failed',
    candidateVersion: null,
    pplBefore: null,
    pplAfter: null,
    steps: 0,
    tokens: 0,
    ratedPoems: 0,
    seconds: 0,
    decision: null,
    verdict: null,
    recipe: null,
    preferenceExamples: 0,
    taste: null,
    noTaste: null,
    error: null,
    lossCurve: [],
    ...start,
  };
}

/** what TrainingRun.gate keeps of a run: every figure of the gate, which check decided, the taste model's */
export function gateRecord(report: RunReport) {
  const v = report.verdict;
  return {
    decidedBy: v?.decidedBy ?? null,
    checks: v?.checks ?? [],
    active: v?.active ?? null,
    candidate: v?.candidate ?? null,
    taste: report.taste,
    noTaste: report.noTaste,
    recipe: report.recipe,
    preferenceExamples: report.preferenceExamples,
  };
}
