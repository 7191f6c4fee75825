/**
 * The trainer as its own role (TRAINER=queue, PostgreSQL): a bot process sends the admin's /model retrain to
 * the queue; one of two trainers takes it (exactly one run), writes its progress into the run's row, which the
 * bot shows, and promotes; the bot hears of the new version and serves it. /model stop reaches the trainer
 * through the row. A trainer killed mid-run (its own process) leaves a run another trainer marks failed, and
 * that trainer takes the next one. PostgreSQL only (the `postgresql` vitest project).
 */
import { join } from 'node:path';
import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { finetuneSettings, readConfig } from '../src/bot/config.js';
import { activeVersion } from '../src/db/db.js';
import { startTrainer, type Trainer } from '../src/jobs/trainer.js';
import { log } from '../src/shared/log.js';
import { makeTrainedTinyCheckpoint } from './helpers.js';
import { BotProcess } from './support/bot-process.js';
import { testProvider } from './support/databases.js';
import type { SeenMessage } from './support/discord/index.js';
import { startTestBot, STRING, SUBCOMMAND, type TestBot } from './support/test-bot.js';

const admin = { id: '400000000000000001', username: 'admin' };
const reader = { id: '400000000000000002', username: 'reader' };
const reportOf = (m: SeenMessage) => (m.embeds[0]?.title?.startsWith('Fine-tune #') ? m : undefined);

// waits on state; the deadline only ends a hung test (runs take minutes on a slow, loaded machine)
async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 240_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** the settings both the bot and the trainers read (the trainer's: a tiny, fast run) */
const RUN_SETTINGS = { FINETUNE_MAX_STEPS: '40', FINETUNE_LR: '0.01', FINETUNE_WORKERS: '1', TRAIN_CRON: 'off' };

/** several processes, real training and a loaded CI machine: generous */
const E2E_TIMEOUT_MS = 300_000;

describe.runIf(testProvider() === 'postgresql')('the trainer as its own role', () => {
  const setUp = async () => {
    let base = '';
    const t = await startTestBot({
      env: { TRAINER: 'queue', PROGRESS_EDIT_SECONDS: '0.2' },
      before: async (dir) => {
        base = (await makeTrainedTinyCheckpoint(join(dir, 'base'))).dir;
        return { BASE_MODEL_DIR: base };
      },
    });
    const env = { ...RUN_SETTINGS, DATABASE_URL: t.bot.ctx.config.DATABASE_URL, MODEL_DIR: t.bot.ctx.config.MODEL_DIR, BASE_MODEL_DIR: base };
    const trainers: Trainer[] = [];
    const startOne = async (more: Record<string, string> = {}) => {
      const config = readConfig({ ...env, ...more });
      const trainer = await startTrainer({
        databaseUrl: config.DATABASE_URL,
        log: log.child({ trainer: trainers.length }),
        modelDir: config.MODEL_DIR,
        baseDir: config.BASE_MODEL_DIR,
        settings: finetuneSettings(config),
        cron: config.TRAIN_CRON,
        timezone: config.TRAIN_TZ,
        progressMs: 200,
      });
      trainers.push(trainer);
      return trainer;
    };
    return { t, env, trainers, startOne, stopAll: () => Promise.all(trainers.map((x) => x.stop())) };
  };
  const model = (t: TestBot, sub: string, options: { name: string; type: number; value: string }[] = []) =>
    t.discord.slashCommand({
      name: 'model',
      options: [{ name: sub, type: SUBCOMMAND, options } as never],
      user: admin,
      permissions: PermissionFlagsBits.ManageGuild,
    });

  it(
    'an admin’s retrain runs once, in one of two trainers; the bot shows its progress and report, then serves the new version',
    async () => {
      const { t, trainers, startOne, stopAll } = await setUp();
      try {
        await Promise.all([startOne(), startOne()]);
        const answer = await (await model(t, 'retrain')).response();
        expect(answer.content).toMatch(/Fine-tune #1\*\* started by <@400000000000000001>/);
        // a second request is told what is running, whichever process it reaches
        const busy = await (await model(t, 'retrain')).response();
        expect(busy.content).toMatch(/Fine-tune #1 is already running/);

        const final = await until(() => reportOf(t.discord.message(answer.messageId)));
        expect(final.embeds[0]!.title).toBe('Fine-tune #1: promoted');
        const progress = final.history.map((h) => h.content).filter((c) => /step \d+ · loss [\d.]+/.test(c));
        expect(progress.length).toBeGreaterThan(0); // written by the trainer into the row, shown by the bot
        expect(final.attachments[0]!.data.subarray(1, 4).toString()).toBe('PNG');

        const runs = await t.bot.ctx.db.prisma.trainingRun.findMany();
        expect(runs).toHaveLength(1);
        expect(runs[0]!.jobId).toMatch(/\w{8}-/);
        expect(trainers.filter((x) => x.runner.current).length).toBe(0);
        // the trainer marked it active; the bot heard (a notice) and serves it
        const active = await activeVersion(t.bot.ctx.db);
        await until(() => t.bot.ctx.model.version === active!.version, 30_000);
        const poem = await (await t.discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: STRING, value: '山' }], user: reader })).response();
        expect(poem.embeds[0]!.footer!.text).toContain(active!.version);
      } finally {
        await stopAll();
      }
    },
    E2E_TIMEOUT_MS,
  );

  it(
    '/model stop reaches the trainer through the run’s row',
    async () => {
      const { t, startOne, stopAll } = await setUp();
      try {
        await startOne({ FINETUNE_MAX_STEPS: '400' }); // long enough to be stopped
        const serving = t.bot.ctx.model.version;
        t.bot.ctx.finetunes.once('progress', () => void model(t, 'stop'));
        const answer = await (await model(t, 'retrain')).response();
        const final = await until(() => reportOf(t.discord.message(answer.messageId)));
        expect(final.embeds[0]!.title).toBe('Fine-tune #1: failed');
        expect(final.embeds[0]!.description).toContain('stopped by <@400000000000000001>');
        expect(t.bot.ctx.model.version).toBe(serving);
      } finally {
        await stopAll();
      }
    },
    E2E_TIMEOUT_MS,
  );

  it(
    'a trainer killed mid-run: another marks the run failed and takes the next one',
    async () => {
      const { t, env, startOne, stopAll } = await setUp();
      const doomed = new BotProcess('trainer', { ...env, FINETUNE_MAX_STEPS: '4000' }, ['bin/tangshi.js', 'trainer']);
      try {
        await doomed.waitFor((l) => l.msg === 'trainer ready: taking fine-tunes from the queue', 90_000);
        const answer = await (await model(t, 'retrain')).response();
        expect(answer.content).toMatch(/Fine-tune #1\*\* started/);
        await until(() => t.bot.ctx.finetunes.current?.progress, 60_000); // training
        await doomed.kill();

        await startOne(); // finds run #1 orphaned at once (the killed trainer's lock went with its connection)
        const orphan = await until(async () => {
          const row = await t.bot.ctx.db.prisma.trainingRun.findUnique({ where: { id: 1 } });
          return row?.status === 'failed' ? row : undefined;
        }, 30_000);
        expect(orphan.error).toMatch(/interrupted: its trainer stopped/);
        const watched = await until(() => reportOf(t.discord.message(answer.messageId)), 30_000);
        expect(watched.embeds[0]!.title).toBe('Fine-tune #1: failed');

        const next = await (await model(t, 'retrain')).response();
        expect(next.content).toMatch(/Fine-tune #2\*\* started/);
        const final = await until(() => reportOf(t.discord.message(next.messageId)));
        expect(final.embeds[0]!.title).toMatch(/^Fine-tune #2: (promoted|rejected)$/);
      } finally {
        await doomed.stop();
        await stopAll();
      }
    },
    E2E_TIMEOUT_MS,
  );
});
