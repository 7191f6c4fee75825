/**
 * A bot process's view of the fine-tunes when the trainer is its own process (TRAINER=queue): the same face
 * as FinetuneRunner (start, stop, current, progress and finished events) for /model, over the queue and the
 * TrainingRun rows. start() sends a job and waits for a trainer to take it; progress and the end are read
 * from the run's row (the trainer writes them); stop() asks through the row. Rows are read every `pollMs`.
 */
import { EventEmitter } from 'node:events';
import type PgBoss from 'pg-boss';
import { type Database, requestStop, runById, runningRun, runOfJob, type TrainingRun } from '../db/db.js';
import type { Log } from '../shared/log.js';
import { FINETUNE_QUEUE, type FinetuneJobData } from './queue.js';
import { emptyReport, type RunPhase, type RunReport, type Runs, type RunState, type RunTrigger, type StartResult } from './runner.js';

/** how long an admin's retrain waits for a trainer to take it before saying none did */
const TAKE_TIMEOUT_MS = 60_000;

/** what the trainer writes in TrainingRun.progress while a run goes */
export type ProgressRecord = Pick<RunState, 'phase' | 'ratedPoems' | 'progress' | 'lossCurve'>;

export class QueuedRuns extends EventEmitter<{ progress: [RunState]; finished: [RunReport] }> implements Runs {
  private state?: RunState;
  private readonly waiting = new Map<number, (report: RunReport) => void>();
  /** runs seen running (their end is reported, in every process: bot.ts posts it from one) */
  private readonly seen = new Set<number>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(private readonly deps: { db: Database; boss: PgBoss; log: Log; pollMs: number }) {
    super();
  }

  /** Follows the runs from now on (every pollMs). */
  follow(): void {
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs);
    this.timer.unref();
    void this.poll();
  }

  get current(): RunState | undefined {
    return this.state;
  }

  async start(trigger: RunTrigger, requestedBy: string | null = null): Promise<StartResult> {
    await this.poll();
    if (this.state) return { started: false, running: this.state };
    const data: FinetuneJobData = { trigger, requestedBy };
    const jobId = await this.deps.boss.send(FINETUNE_QUEUE, data);
    if (!jobId) throw new Error('a fine-tune is already waiting for the trainer; it starts as soon as the trainer is free');
    const deadline = Date.now() + TAKE_TIMEOUT_MS;
    for (;;) {
      const row = await runOfJob(this.deps.db, jobId);
      if (row) {
        const state = this.track(row);
        if (row.status === 'running') this.seen.add(row.id);
        const done = row.status === 'running' ? new Promise<RunReport>((resolve) => this.waiting.set(row.id, resolve)) : Promise.resolve(reportOf(row));
        return { started: true, run: state, done };
      }
      const job = await this.deps.boss.getJobById<FinetuneJobData>(FINETUNE_QUEUE, jobId);
      if (job?.state === 'failed') throw new Error(`the trainer did not run it: ${failureOf(job.output)}`);
      if (Date.now() > deadline) {
        throw new Error(`no trainer has taken the fine-tune within ${TAKE_TIMEOUT_MS / 1000} s (is \`tangshi trainer\` running?); it stays queued`);
      }
      await new Promise((r) => setTimeout(r, Math.min(this.deps.pollMs, 1000)));
    }
  }

  /** Asks the run in progress to stop (its trainer sees it within a second or two). False when nothing runs. */
  stop(by: string): boolean {
    const run = this.state;
    if (!run) return false;
    void requestStop(this.deps.db, run.id, by).catch((e) => this.deps.log.warn({ err: e, run: run.id }, 'could not ask the trainer to stop the run'));
    return true;
  }

  /** Stops following (the run itself goes on in its trainer). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** the one state object of a running run (watchers hold it and see it change), or a snapshot of an ended one */
  private track(row: TrainingRun): RunState {
    if (row.status !== 'running') return stateOf(row);
    const known = this.state as RunState | undefined;
    if (known?.id === row.id) return known;
    this.state = stateOf(row);
    return this.state;
  }

  private poll(): Promise<void> {
    this.polling ??= this.read()
      .catch((e) => this.deps.log.debug({ err: e }, 'could not read the fine-tunes now'))
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(): Promise<void> {
    const { db } = this.deps;
    const row = await runningRun(db);
    if (row) {
      this.seen.add(row.id);
      const state = this.track(row);
      const before = JSON.stringify([state.phase, state.progress]);
      Object.assign(state, progressOf(row));
      if (JSON.stringify([state.phase, state.progress]) !== before) this.emit('progress', state);
    } else {
      this.state = undefined;
    }
    // the runs this process watched or waits for that have ended since: their reports, once each
    for (const id of new Set([...this.waiting.keys(), ...this.seen])) {
      if (id === row?.id) continue;
      const ended = await runById(db, id);
      if (ended?.status === 'running') continue;
      const report = ended ? reportOf(ended) : lostReport(id);
      this.seen.delete(id);
      this.waiting.get(id)?.(report);
      this.waiting.delete(id);
      this.emit('finished', report);
    }
  }
}

function stateOf(row: TrainingRun): RunState {
  return {
    id: row.id,
    trigger: row.trigger as RunTrigger,
    requestedBy: row.requestedBy,
    startedAt: row.startedAt,
    baseVersion: row.baseVersion,
    phase: 'preparing',
    ratedPoems: 0,
    progress: null,
    lossCurve: [],
    ...progressOf(row),
  };
}

function progressOf(row: TrainingRun): Partial<ProgressRecord> {
  try {
    const p = JSON.parse(row.progress) as Partial<ProgressRecord>;
    return {
      ...(p.phase ? { phase: p.phase as RunPhase } : {}),
      ...(typeof p.ratedPoems === 'number' ? { ratedPoems: p.ratedPoems } : {}),
      ...(p.progress ? { progress: p.progress } : {}),
      ...(Array.isArray(p.lossCurve) ? { lossCurve: p.lossCurve } : {}),
    };
  } catch {
    return {};
  }
}

/** the report the trainer stored; for a run it could not finish (killed), what the row says */
function reportOf(row: TrainingRun): RunReport {
  if (row.report) {
    try {
      return JSON.parse(row.report) as RunReport;
    } catch {
      // fall through to the row's own columns
    }
  }
  return {
    ...lostReport(row.id),
    trigger: row.trigger as RunTrigger,
    requestedBy: row.requestedBy,
    status: row.status === 'promoted' || row.status === 'rejected' ? row.status : 'failed',
    baseVersion: row.baseVersion,
    candidateVersion: row.candidateVersion,
    pplBefore: row.pplBefore,
    pplAfter: row.pplAfter,
    steps: row.steps,
    tokens: row.tokens,
    ratedPoems: row.ratedPoems,
    seconds: row.endedAt ? (row.endedAt.getTime() - row.startedAt.getTime()) / 1000 : 0,
    decision: row.decision,
    recipe: row.recipe,
    error: row.error,
  };
}

function lostReport(id: number): RunReport {
  return emptyReport({ id, trigger: 'admin', requestedBy: null, baseVersion: '?', error: 'the run’s record is gone' });
}

function failureOf(output: unknown): string {
  const o = output as { message?: string } | null;
  return o?.message ?? JSON.stringify(output);
}
