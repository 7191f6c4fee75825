/**
 * The bot learns what its readers like, in a few short nights: a tiny model (briefly trained), the real
 * runner, poem threads, SQLite and worker threads. Simulated readers like 七言 poems (a taste the bot is never
 * told), with their own offsets and a quarter of their ratings at random; the share of served poems they like
 * must rise. (A brigade's effect on the signal: test/taste.test.ts.)
 */
import { join } from 'node:path';
import { pino } from 'pino';
import prand from 'pure-rand';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, ratePoem, recordPoem } from '../src/db/db.js';
import { loadServingModel } from '../src/jobs/model-versions.js';
import { FinetuneRunner } from '../src/jobs/runner.js';
import { hotSwapper, type ModelHolder } from '../src/serving/hot-swap.js';
import { makeTrainedTinyCheckpoint, tempDir } from './helpers.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Reader = { id: string; offset: number };

async function setup() {
  const dir = tempDir('tangshi-readers-');
  const base = await makeTrainedTinyCheckpoint(join(dir, 'base'));
  const db = await openDatabase(`file:${join(dir, 'bot.db')}`);
  const serving = { workers: 1, bestOf: 4 };
  const holder: ModelHolder = { model: await loadServingModel(db, base.dir, silent, serving) };
  const runner = new FinetuneRunner({
    db,
    log: silent,
    modelDir: join(dir, 'models'),
    active: () => holder.model,
    swapTo: hotSwapper(holder, serving),
    root: base.dir,
    useTaste: (choice) => holder.model.useTaste(choice),
    settings: { lr: 0.003, maxSteps: 12, workers: 1, pplBudget: 0.05, recipe: 'raft', preferenceShare: 0.3, maxReaderShare: 0.1, samples: 128 },
  });
  cleanups.push(async () => {
    await runner.close();
    await holder.model.close();
    await db.close();
  });
  return { db, holder, runner };
}

const sevenCharacters = (lines: string[]) => [...lines[0]!].length === 7;

/** One night: `poems` poems asked by readers and rated 1–2 times each by their taste; then a run. */
async function night(s: Awaited<ReturnType<typeof setup>>, readers: Reader[], likes: (lines: string[]) => boolean, rng: prand.RandomGenerator) {
  const uniform = () => prand.unsafeUniformIntDistribution(0, 999_999, rng) / 1_000_000;
  for (let k = 0; k < 60; k++) {
    const asker = readers[Math.floor(uniform() * readers.length)]!;
    const poem = await s.holder.model.generate({ seed: prand.unsafeUniformIntDistribution(0, 2 ** 30, rng) });
    const stored = await recordPoem(s.db, {
      guildId: '1',
      channelId: '2',
      userId: asker.id,
      promptKind: 'none',
      form: poem.form,
      script: 'traditional',
      text: poem.text,
      checkpointVersion: poem.version,
    });
    for (const reader of uniform() < 0.5 ? [asker] : [asker, readers[(readers.indexOf(asker) + 1) % readers.length]!]) {
      const stars = uniform() < 0.25 ? 1 + Math.floor(uniform() * 5) : (likes(poem.lines) ? 5 : 2) + reader.offset;
      await ratePoem(s.db, { poemId: stored.id, userId: reader.id, stars: Math.min(5, Math.max(1, stars)) });
    }
  }
  const started = await s.runner.start('admin', '1');
  if (!started.started) throw new Error('a run was already going');
  return started.done;
}

/** the share of 120 served poems (fixed seeds) that `f` holds for, asked one at a time (a burst gets one candidate a poem) */
async function share(s: Awaited<ReturnType<typeof setup>>, f: (lines: string[]) => boolean): Promise<number> {
  let held = 0;
  for (let k = 0; k < 120; k++) if (f((await s.holder.model.generate({ seed: 5000 + k })).lines)) held++;
  return held / 120;
}

const readers: Reader[] = Array.from({ length: 12 }, (_, k) => ({ id: `reader${k}`, offset: [-1, 0, 0, 1][k % 4]! }));

describe('learning from simulated readers', () => {
  it('a tiny model learns a simple taste in three short nights: the liked share of served poems rises', async () => {
    const s = await setup();
    const rng = prand.xoroshiro128plus(11);
    const before = await share(s, sevenCharacters);
    const reports = [];
    for (let n = 0; n < 3; n++) reports.push(await night(s, readers, sevenCharacters, rng));
    const after = await share(s, sevenCharacters);
    expect(
      reports.every((r) => r.status !== 'failed'),
      JSON.stringify(reports.map((r) => r.error)),
    ).toBe(true);
    // (held out: the quarter of the poems rated last, a quarter of their ratings random)
    expect(reports.at(-1)!.taste?.heldOutAuc).toBeGreaterThan(0.6);
    expect(s.holder.model.tasteProblem).toBeNull();
    expect(s.holder.model.tasteModel).not.toBeNull();
    expect(after - before, `liked share ${before} → ${after}`).toBeGreaterThan(0.2);
  });
});
