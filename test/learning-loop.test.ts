/**
 * The learning loop without Discord: rated-poem data, the runner's runs (promoted, rejected, failed,
 * stopped, one at a time), the hot swap, start-up fallbacks, a killed process, a locked database, the cron
 * path. Real parts throughout: the corpus, SQLite through Prisma, worker threads, node-cron; tiny models.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, recordPoem, ratePoem, type Database } from '../src/db/db.js';
import { loadTangCorpus, poemText } from '../src/model/verse/corpus.js';
import { inScript } from '../src/model/verse/script.js';
import { nightData, poemFromText } from '../src/jobs/night-data.js';
import { hotSwapper, type ModelHolder } from '../src/serving/hot-swap.js';
import { scheduleTraining } from '../src/jobs/schedule.js';
import { FinetuneRunner, type FinetuneSettings } from '../src/jobs/runner.js';
import { activeVersion, failInterruptedRuns, loadServingModel, markActive, pruneVersions, registerVersion, serveVersion } from '../src/jobs/model-versions.js';
import { train } from '../src/model/poem/train/train.js';
import { loadCheckpoint } from '../src/model/poem/checkpoint.js';
import { corpusTrainData } from '../src/model/poem/train/train-data.js';
import { makeTinyCheckpoint, tempDir } from './helpers.js';

const silent = pino({ level: 'silent' });
const ADMIN_ID = '100000000000000001';

type Setup = { dir: string; db: Database; holder: ModelHolder; runner: FinetuneRunner; base: string; modelDir: string };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A database, a tiny base checkpoint serving, and a runner over them. */
async function setup(settings: Partial<FinetuneSettings> = {}, opts: { base?: string; workerModule?: string; busyTimeoutMs?: number } = {}): Promise<Setup> {
  const dir = tempDir('tangshi-loop-');
  const base = opts.base ?? makeTinyCheckpoint({ dir: join(dir, 'base') }).dir;
  const db = await openDatabase(`file:${join(dir, 'bot.db')}`, { busyTimeoutMs: opts.busyTimeoutMs });
  const holder: ModelHolder = { model: await loadServingModel(db, base, silent) };
  const modelDir = join(dir, 'models');
  const runner = new FinetuneRunner({
    db,
    log: silent,
    modelDir,
    active: () => holder.model,
    swapTo: hotSwapper(holder),
    root: base,
    useTaste: (choice) => holder.model.useTaste(choice),
    workerModule: opts.workerModule,
    settings: { lr: 0.01, maxSteps: 4, workers: 1, pplBudget: 0.015, recipe: 'raft', preferenceShare: 0.3, maxReaderShare: 0.1, ...settings },
  });
  cleanups.push(async () => {
    await runner.close();
    await holder.model.close();
    await db.close();
  });
  return { dir, db, holder, runner, base, modelDir };
}

async function ratedPoem(db: Database, lines: string[], stars: number[], script: 'simplified' | 'traditional' = 'traditional') {
  const poem = await recordPoem(db, {
    guildId: '1',
    channelId: '2',
    userId: '3',
    promptKind: 'none',
    form: lines.length === 4 ? (lines[0]!.length === 5 ? 'wujue' : 'qijue') : 'wulv',
    script,
    text: inScript(poemText(lines), script),
    checkpointVersion: 'v-test',
  });
  for (const [i, s] of stars.entries()) await ratePoem(db, { poemId: poem.id, userId: String(1000 + i), stars: s });
  return poem;
}

describe("the night's data", () => {
  it('reads the ratings into fair scores, converts simplified text, and learns no taste from too few ratings', async () => {
    const { db } = await setup();
    const corpus = loadTangCorpus();
    const [a, b, c] = corpus.train;
    await ratedPoem(db, a!.lines, [5, 5]);
    await ratedPoem(db, b!.lines, [4, 4, 5], 'simplified');
    await ratedPoem(db, c!.lines, [2, 3]);
    const night = await nightData(db, { maxReaderShare: 0.1 });
    expect([night.ratings, night.ratedPoems, night.readers]).toEqual([7, 3, 3]);
    expect(night.ratedTexts).toContain(poemText(b!.lines)); // traditional again
    expect(night.taste).toBeNull();
    expect(night.noTaste).toMatch(/3 rated poems \(a taste model needs 30\)/);
    const scores = [...night.scores.poems.values()].map((p) => p.score);
    expect(scores[0]).toBeGreaterThan(0);
    expect(scores[2]).toBeLessThan(0);
    expect(poemFromText(inScript(poemText(b!.lines), 'simplified'), 'simplified')).toEqual(b);
    expect(poemFromText('床前明月光，疑是地上霜。', 'traditional')).toBeUndefined(); // two lines: not a regular form
  });
});

describe('a fine-tune run', () => {
  it('trains on a worker, measures both models on dev, promotes the better one and swaps it in', async () => {
    const s = await setup();
    await ratedPoem(s.db, loadTangCorpus().train[5]!.lines, [5]);
    const baseVersion = s.holder.model.version;
    const oldWriter = s.holder.model;
    const phases = new Set<string>();
    s.runner.on('progress', (state) => phases.add(state.phase));
    const started = await s.runner.start('admin', ADMIN_ID);
    expect(started.started).toBe(true);
    if (!started.started) return;
    const report = await started.done;
    expect(report.error).toBeNull();
    expect(report.status).toBe('promoted');
    expect(report.pplAfter!).toBeLessThan(report.pplBefore!); // an untrained model only gets better
    expect(report.steps).toBe(4);
    expect(report.tokens).toBeGreaterThan(4 * 1000);
    expect(report.ratedPoems).toBe(1);
    expect(report.lossCurve.length).toBeGreaterThan(0);
    expect([...phases]).toEqual(expect.arrayContaining(['training', 'evaluating', 'promoting']));
    // swapped: the new writer answers, the old one is closed
    expect(s.holder.model.version).toBe(report.candidateVersion);
    expect(s.holder.model).not.toBe(oldWriter);
    await expect(oldWriter.generate({ start: '月', seed: 1 })).rejects.toThrow();
    expect((await s.holder.model.generate({ start: '月', seed: 1 })).version).toBe(report.candidateVersion);
    // recorded
    const run = await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: report.id } });
    expect(run).toMatchObject({
      trigger: 'admin',
      requestedBy: ADMIN_ID,
      status: 'promoted',
      baseVersion,
      candidateVersion: report.candidateVersion,
      steps: 4,
      ratedPoems: 1,
    });
    expect(run.pplAfter).toBeCloseTo(report.pplAfter!, 6);
    expect(run.endedAt).not.toBeNull();
    expect(JSON.parse(run.lossCurve)).toEqual(report.lossCurve);
    const versions = await s.db.prisma.modelVersion.findMany({ orderBy: { createdAt: 'asc' } });
    expect(versions.map((v) => [v.version, v.active, v.parent])).toEqual([
      [baseVersion, false, null],
      [report.candidateVersion, true, baseVersion],
    ]);
    expect(versions[1]!.runId).toBe(report.id);
    expect(existsSync(join(versions[1]!.path, 'manifest.json'))).toBe(true);
    expect(existsSync(FinetuneRunner.runDir(s.modelDir, report.id))).toBe(false);
  });

  it('runs one at a time: a second start is told which run is going', async () => {
    const s = await setup({ maxSteps: undefined, maxMinutes: 5 });
    const first = await s.runner.start('schedule');
    const second = await s.runner.start('admin', ADMIN_ID);
    expect(second.started).toBe(false);
    if (second.started || !first.started) return;
    expect(second.running.id).toBe(first.run.id);
    expect(second.running.trigger).toBe('schedule');
    expect(s.runner.stop(`<@${ADMIN_ID}>`)).toBe(true);
    const report = await first.done;
    expect(report.status).toBe('failed');
    expect(report.error).toContain(`stopped by <@${ADMIN_ID}>`);
    expect(s.runner.current).toBeUndefined();
    expect(s.runner.stop('anyone')).toBe(false);
  });

  it("rejects a candidate that is worse than the active model, keeping it as a version (and its base's regularisation)", async () => {
    // a base that has learned something, then a fine-tune with a rate far too high
    const dir = tempDir('tangshi-loop-base-');
    const tiny = makeTinyCheckpoint({ dir: join(dir, 'untrained') });
    const data = corpusTrainData();
    const regularisation = { dropout: 0.1, lockedDropout: true, weightDrop: 0.1, embeddingDrop: 0.05 };
    await train(
      { from: tiny.dir, out: join(dir, 'trained'), maxSteps: 30, lr: 0.02, workers: 1, evalDev: false, dtype: 'float16', ...regularisation },
      { ...data, train: data.train.slice(0, 3000) },
    );
    expect(loadCheckpoint(join(dir, 'trained')).manifest.config.training).toMatchObject(regularisation);
    const s = await setup({ lr: 0.5, maxSteps: 3 }, { base: join(dir, 'trained') });
    const baseVersion = s.holder.model.version;
    const started = await s.runner.start('admin', ADMIN_ID);
    if (!started.started) throw new Error('did not start');
    const report = await started.done;
    expect(report.status).toBe('rejected');
    expect(report.pplAfter!).toBeGreaterThan(report.pplBefore!);
    expect(report.decision).toContain(`Kept ${baseVersion}`);
    expect(s.holder.model.version).toBe(baseVersion);
    expect((await activeVersion(s.db))!.version).toBe(baseVersion);
    const candidate = await s.db.prisma.modelVersion.findUniqueOrThrow({ where: { version: report.candidateVersion! } });
    expect(candidate.active).toBe(false);
    // the fine-tune trained with the regularisation its base was trained with
    expect(loadCheckpoint(candidate.path).manifest.config.training).toMatchObject(regularisation);
  });
});

describe('faults', () => {
  it('a worker that crashes mid-run: the run fails with the reason, the active model keeps serving', async () => {
    const s = await setup({}, { workerModule: new URL('./support/crashing-finetune-worker.ts', import.meta.url).href });
    const before = s.holder.model;
    const started = await s.runner.start('admin', ADMIN_ID);
    if (!started.started) throw new Error('did not start');
    const report = await started.done;
    expect(report.status).toBe('failed');
    expect(report.error).toContain('simulated fault in the training step');
    expect(s.holder.model).toBe(before);
    expect((await s.holder.model.generate({ start: '山', seed: 2 })).lines[0]!.startsWith('山')).toBe(true);
    const run = await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: report.id } });
    expect(run.status).toBe('failed');
    expect(run.error).toContain('simulated fault');
    expect(await s.db.prisma.modelVersion.count()).toBe(1);
    expect(s.runner.current).toBeUndefined(); // and the next run may start
  });

  it('a worker that cannot hear the stop (busy preparing): /model stop still ends the run, as stopped', async () => {
    const s = await setup({}, { workerModule: new URL('./support/deaf-finetune-worker.ts', import.meta.url).href });
    const started = await s.runner.start('admin', ADMIN_ID);
    if (!started.started) throw new Error('did not start');
    if (s.runner.current?.phase !== 'training')
      await new Promise<void>((resolve) => s.runner.on('progress', (state) => state.phase === 'training' && resolve()));
    expect(s.runner.stop(`<@${ADMIN_ID}>`)).toBe(true);
    const report = await started.done; // the worker never answers: only its termination after the grace ends it
    expect(report.status).toBe('failed');
    expect(report.error).toContain(`stopped by <@${ADMIN_ID}>`);
    expect(s.runner.current).toBeUndefined();
    expect(existsSync(FinetuneRunner.runDir(s.modelDir, report.id))).toBe(false);
    expect((await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: report.id } })).status).toBe('failed');
  });

  it('a process killed mid-run: on restart the run is failed, its files gone, the last active version loads', async () => {
    const s = await setup();
    const script = new URL('./support/killable-runner.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', script, join(s.dir, 'bot.db'), s.base, s.modelDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const runId = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /training (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`the runner process exited (code ${code}) before training`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('running');
    // what start-up does
    const runDir = (id: number) => FinetuneRunner.runDir(s.modelDir, id);
    expect(await failInterruptedRuns(s.db, runDir)).toEqual([runId]);
    const run = await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/interrupted/);
    expect(existsSync(`${runDir(runId)}.training`) || existsSync(runDir(runId))).toBe(false);
    const writer = await loadServingModel(s.db, s.base, silent);
    cleanups.push(() => writer.close());
    expect(writer.version).toBe(s.holder.model.version);
    expect(await s.db.prisma.modelVersion.count()).toBe(1);
  });

  it('a damaged active checkpoint is not loaded on start: the newest good version is, and the log says why', async () => {
    const s = await setup();
    const first = makeTinyCheckpoint({ dir: join(s.dir, 'v1') });
    const second = makeTinyCheckpoint({ dir: join(s.dir, 'v2') });
    await registerVersion(s.db, first.manifest, first.dir);
    await markActive(s.db, first.manifest.version);
    await registerVersion(s.db, second.manifest, second.dir);
    await markActive(s.db, second.manifest.version);
    truncateSync(join(second.dir, 'weights.bin'), 100);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const writer = await loadServingModel(s.db, s.base, log);
    cleanups.push(() => writer.close());
    expect(writer.version).toBe(first.manifest.version);
    expect((await activeVersion(s.db))!.version).toBe(first.manifest.version);
    expect(warnings.join('\n')).toContain(second.manifest.version);
    expect(warnings.join('\n')).toContain('weights.bin');
    // every fine-tuned version damaged: the shipped base
    truncateSync(join(first.dir, 'weights.bin'), 100);
    const fallback = await loadServingModel(s.db, s.base, silent);
    cleanups.push(() => fallback.close());
    expect(fallback.version).toBe(s.holder.model.version);
  });

  it('a damaged candidate is never served: the swap fails and nothing changes', async () => {
    const s = await setup();
    const bad = makeTinyCheckpoint({ dir: join(s.dir, 'bad') });
    await registerVersion(s.db, bad.manifest, bad.dir);
    truncateSync(join(bad.dir, 'weights.bin'), 10);
    const before = s.holder.model;
    await expect(serveVersion(s.db, hotSwapper(s.holder), { version: bad.manifest.version, path: bad.dir }, before)).rejects.toThrow(/weights\.bin/);
    expect(s.holder.model).toBe(before);
    expect(before.productHelperPaused).toBe(false); // paused while the candidate loaded, resumed when it failed
    expect((await activeVersion(s.db))!.version).toBe(before.version);
  });

  it('a database locked by another process during a run: the run waits, retries and is recorded', async () => {
    const s = await setup({}, { busyTimeoutMs: 100 });
    const other = new Sqlite(join(s.dir, 'bot.db'));
    other.exec('BEGIN IMMEDIATE'); // holds the write lock
    const release = setTimeout(() => other.exec('COMMIT'), 1500);
    cleanups.push(async () => {
      clearTimeout(release);
      await other.close();
    });
    const started = await s.runner.start('admin', ADMIN_ID);
    if (!started.started) throw new Error('did not start');
    const report = await started.done;
    expect(report.error).toBeNull();
    expect(report.status).toBe('promoted');
    const run = await s.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: report.id } });
    expect(run.status).toBe('promoted');
  });
});

describe('version pruning', () => {
  it("keeps the active version, rollback's target, the newest N and the base; deletes the rest, files and rows", async () => {
    const { db, base, modelDir } = await setup();
    const manifest = loadCheckpoint(base).manifest;
    const versionsDir = join(modelDir, 'versions');
    const names = Array.from({ length: 7 }, (_, k) => `v-prune-${k}`);
    for (const [k, version] of names.entries()) {
      const dir = join(versionsDir, version);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'weights.bin'), 'x');
      await registerVersion(db, { ...manifest, version, createdAt: new Date(Date.UTC(2026, 0, 1 + k)).toISOString() }, dir);
    }
    await markActive(db, names[1]!); // an old version is serving (a rollback) …
    await markActive(db, names[0]!); // … no: the oldest, and names[1] is rollback's default target now
    const pruned = await pruneVersions(db, { keep: 2, versionsDir });
    // newest two (6, 5), active (0), rollback target (1) and the shipped base stay
    expect(pruned.sort()).toEqual([names[2], names[3], names[4]]);
    const left = (await db.prisma.modelVersion.findMany()).map((v) => v.version);
    expect(left.sort()).toEqual([manifest.version, names[0], names[1], names[5], names[6]].sort());
    expect(readdirSync(versionsDir).sort()).toEqual([names[0], names[1], names[5], names[6]].sort());
    expect(existsSync(base)).toBe(true);
    expect(await pruneVersions(db, { keep: 2, versionsDir })).toEqual([]); // nothing more to do
  });
});

describe('hot swap', () => {
  it('no poem is dropped while the model is swapped back and forth', async () => {
    const s = await setup();
    const other = makeTinyCheckpoint({ dir: join(s.dir, 'other') });
    const swap = hotSwapper(s.holder);
    const versions = new Set<string>();
    const pausedWhileLoading: boolean[] = [];
    const poems: Promise<unknown>[] = [];
    let swapping = true;
    const swaps = (async () => {
      for (let i = 0; i < 4; i++) await swap(i % 2 === 0 ? other.dir : s.base);
      swapping = false;
    })();
    while (swapping) {
      pausedWhileLoading.push(s.holder.model.productHelperPaused);
      poems.push(s.holder.model.generate({ seed: poems.length }).then((p) => versions.add(p.version)));
      await new Promise((r) => setTimeout(r, 2));
    }
    await swaps;
    const results = await Promise.allSettled(poems);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(versions).toEqual(new Set([s.holder.model.version, other.manifest.version]));
    // the serving model's product helper is paused while the next one loads (its core goes to the load)
    expect(pausedWhileLoading.filter(Boolean).length).toBeGreaterThan(pausedWhileLoading.length / 2);
    expect(s.holder.model.productHelperPaused).toBe(false);
  });

  it("the next model takes a fine-tune's pause as it stands when the swap switches, not as it stood when the swap began", async () => {
    const s = await setup();
    const other = makeTinyCheckpoint({ dir: join(s.dir, 'other') });
    const swap = hotSwapper(s.holder);
    s.holder.model.pauseProductHelper('finetune', true);
    const first = swap(other.dir);
    s.holder.model.pauseProductHelper('finetune', false); // the run ends while the next model loads
    expect((await first).productHelperPaused).toBe(false);
    s.holder.model.pauseProductHelper('finetune', true); // a run that is still going when the swap switches
    expect((await swap(s.base)).productHelperPausedFor('finetune')).toBe(true);
    expect(s.holder.model.productHelperPausedFor('swap')).toBe(false);
  });
});

describe('the schedule', () => {
  it('starts a run when the cron expression fires, in the given time zone', async () => {
    const s = await setup();
    const schedule = scheduleTraining(s.runner, '*/2 * * * * *', 'Asia/Shanghai', silent);
    cleanups.push(() => schedule.stop());
    expect(schedule.nextRun()!.getTime() - Date.now()).toBeLessThanOrEqual(2000);
    const report = await new Promise<import('../src/jobs/runner.js').RunReport>((resolve) => s.runner.once('finished', resolve));
    expect(report.trigger).toBe('schedule');
    expect(report.requestedBy).toBeNull();
    expect(report.status).toBe('promoted');
    expect(readdirSync(join(s.modelDir, 'versions'))).toContain(report.candidateVersion);
  });

  it('is off with TRAIN_CRON=off', async () => {
    const s = await setup();
    expect(scheduleTraining(s.runner, 'off', 'UTC', silent).nextRun()).toBeNull();
  });
});
