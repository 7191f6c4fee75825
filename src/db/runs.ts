/** Fine-tune runs (table TrainingRun): one row a run, written when it starts and when it ends. */
import type { TrainingRun } from '../generated/prisma/client.js';
import { type Database, retryWhenBusy } from './connection.js';

export type RunStart = { trigger: string; requestedBy: string | null; baseVersion: string; jobId?: string | null };
export type RunEnd = Pick<
  TrainingRun,
  | 'status'
  | 'candidateVersion'
  | 'steps'
  | 'tokens'
  | 'ratedPoems'
  | 'pplBefore'
  | 'pplAfter'
  | 'decision'
  | 'error'
  | 'lossCurve'
  | 'recipe'
  | 'tasteVersion'
  | 'gate'
  | 'report'
>;

export function startRun(db: Database, start: RunStart): Promise<TrainingRun> {
  return retryWhenBusy(() => db.prisma.trainingRun.create({ data: { ...start, status: 'running' } }));
}

export async function finishRun(db: Database, id: number, end: RunEnd): Promise<void> {
  await retryWhenBusy(() => db.prisma.trainingRun.update({ where: { id }, data: { ...end, endedAt: new Date() } }));
}

/** the newest run that has ended (for /model status) */
export function lastEndedRun(db: Database): Promise<TrainingRun | null> {
  return db.prisma.trainingRun.findFirst({ where: { status: { not: 'running' } }, orderBy: { id: 'desc' } });
}

/** ids of the runs still marked running */
export async function runningRunIds(db: Database): Promise<number[]> {
  return (await db.prisma.trainingRun.findMany({ where: { status: 'running' }, select: { id: true } })).map((r) => r.id);
}

export async function markRunsFailed(db: Database, ids: number[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await retryWhenBusy(() => db.prisma.trainingRun.updateMany({ where: { id: { in: ids } }, data: { status: 'failed', endedAt: new Date(), error } }));
}

/** What a run shows while it goes (JSON in TrainingRun.progress), for the processes watching it from elsewhere. */
export async function recordProgress(db: Database, id: number, progress: string): Promise<void> {
  await db.prisma.trainingRun.update({ where: { id }, data: { progress } });
}

/** Asks the run `id`, if still running, to stop (its trainer sees it); false when it is not running. */
export async function requestStop(db: Database, id: number, by: string): Promise<boolean> {
  const { count } = await retryWhenBusy(() => db.prisma.trainingRun.updateMany({ where: { id, status: 'running' }, data: { stopRequestedBy: by } }));
  return count > 0;
}

/** the run in progress, if any (the newest still marked running) */
export function runningRun(db: Database): Promise<TrainingRun | null> {
  return db.prisma.trainingRun.findFirst({ where: { status: 'running' }, orderBy: { id: 'desc' } });
}

export function runById(db: Database, id: number): Promise<TrainingRun | null> {
  return db.prisma.trainingRun.findUnique({ where: { id } });
}

/** the run a queued job became, once a trainer took it */
export function runOfJob(db: Database, jobId: string): Promise<TrainingRun | null> {
  return db.prisma.trainingRun.findFirst({ where: { jobId } });
}
