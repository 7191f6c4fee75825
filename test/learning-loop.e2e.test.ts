/**
 * The learning loop end to end: the real bot (a tiny base model, a SQLite file, real worker threads) against
 * the local Discord stand-in. An admin retrains with a tiny budget and watches progress, then the report with
 * perplexities and the loss PNG; /poem answers throughout; the report reaches the report channel; rollback
 * goes back; non-admins are refused whatever they send.
 */
import { join } from 'node:path';
import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/db.js';
import { activeVersion, markActive, registerVersion } from '../src/jobs/model-versions.js';
import type { SeenMessage } from './support/discord/index.js';
import { makeTinyCheckpoint, makeTrainedTinyCheckpoint } from './helpers.js';
import type { Manifest } from '../src/model/poem/checkpoint.js';
import { STRING, SUBCOMMAND, startTestBot, type TestBot } from './support/test-bot.js';

const admin = { id: '200000000000000001', username: 'admin' };
const user = { id: '200000000000000002', username: 'reader' };
const ADMIN = PermissionFlagsBits.ManageGuild;

/** A bot with a tiny base model (briefly trained), a report channel and a fine-tune budget of 40 steps; `before` may leave versions in its database. */
async function startLearningBot(before?: (dir: string, base: { dir: string; manifest: Manifest }, databaseUrl: string) => Promise<void>) {
  let baseVersion = '';
  const t = await startTestBot({
    standIn: { extraChannels: ['reports'] },
    env: { FINETUNE_MAX_STEPS: '40', FINETUNE_LR: '0.01', FINETUNE_WORKERS: '1', PROGRESS_EDIT_SECONDS: '0.2' },
    before: async (dir, discord, databaseUrl) => {
      const base = await makeTrainedTinyCheckpoint(join(dir, 'base'));
      baseVersion = base.manifest.version;
      await before?.(dir, base, databaseUrl);
      return { BASE_MODEL_DIR: base.dir, REPORT_CHANNEL_ID: discord.channelIds.get('reports')! };
    },
  });
  return { ...t, baseVersion, model: (...args: Parameters<typeof model> extends [TestBot, ...infer Rest] ? Rest : never) => model(t, ...args) };
}

const model = (
  t: TestBot,
  sub: string,
  options: { name: string; type: number; value: string }[] = [],
  who = admin,
  permissions: bigint | string = ADMIN,
  permissionOverride = false,
  locale = 'en-US',
) =>
  t.discord.slashCommand({ name: 'model', options: [{ name: sub, type: SUBCOMMAND, options } as never], user: who, permissions, permissionOverride, locale });

async function until<T>(check: () => T | undefined | false, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reportOf = (m: SeenMessage) => (m.embeds[0]?.title?.startsWith('Fine-tune #') ? m : undefined);

describe('the learning loop from Discord', () => {
  it('an admin retrains: progress, then a report with perplexities and a loss PNG; the new version answers; /poem answers throughout; /model status shows the run', async () => {
    const { discord, bot, baseVersion, model } = await startLearningBot();
    // while it runs, the poems are written without the product helper (its core goes to the run)
    const helperPausedAtProgress: boolean[] = [];
    bot.ctx.finetunes.on('progress', () => helperPausedAtProgress.push(bot.ctx.model.productHelperPaused));
    const answer = await (await model('retrain')).response();
    expect(answer.ephemeral).toBe(false);
    expect(answer.content).toMatch(/Fine-tune #1\*\* started by <@200000000000000001>/);
    expect(answer.allowedMentions).toMatchObject({ parse: [] }); // the client's default: no one is pinged

    // while it runs: a second request is told what is running; poems keep coming within the 3-second rule
    const busy = await (await model('retrain')).response();
    expect(busy.ephemeral).toBe(true);
    expect(busy.content).toMatch(/Fine-tune #1 is already running \(started by <@200000000000000001>/);
    const poem = await (await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: STRING, value: '月' }], user })).response();
    expect(poem.latencyMs).toBeLessThan(3000);
    expect(poem.embeds[0]!.description!.startsWith('月')).toBe(true);

    const final = await until(() => reportOf(discord.message(answer.messageId)));
    expect(helperPausedAtProgress.length).toBeGreaterThan(0);
    expect(helperPausedAtProgress.every(Boolean)).toBe(true);
    const progress = final.history.map((h) => h.content).filter((c) => /`[▓░]{20}` \d+% · step \d+ · loss [\d.]+ · [\d,]+ tok\/s/.test(c));
    expect(progress.length).toBeGreaterThan(0);
    const embed = final.embeds[0]!;
    expect(embed.title, embed.description).toBe('Fine-tune #1: promoted');
    expect(final.allowedMentions).toMatchObject({ parse: [] }); // the edits too: the client's default, no one is pinged
    const field = (name: string) => embed.fields!.find((f) => f.name === name)!.value;
    const [before, after] = field('Dev perplexity').split(' → ').map(Number);
    expect(after!).toBeLessThan(before!);
    expect(field('Steps')).toBe('40');
    expect(Number(field('Tokens trained').replace(/,/g, ''))).toBeGreaterThan(40 * 1000);
    expect(embed.description).toMatch(/^\*\*Promoted\*\*: every check passed\.\n✅ active model unchanged/);
    expect(embed.description).toMatch(/✅ dev perplexity: dev perplexity [\d.]+ → [\d.]+ \(at most/);
    expect(field('Taste model')).toMatch(/^none tonight: 0 rated poems \(a taste model needs 30\)/);
    expect(final.attachments).toHaveLength(1);
    expect(final.attachments[0]!.data.subarray(1, 4).toString()).toBe('PNG');
    expect(embed.image!.url).toBe(`attachment://${final.attachments[0]!.filename}`);

    const active = await activeVersion(bot.ctx.db);
    expect(active!.version).not.toBe(baseVersion);
    expect(bot.ctx.model.version).toBe(active!.version);
    expect(field('Active model')).toBe(`\`${active!.version}\``);
    const next = await (await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: STRING, value: '山' }], user })).response();
    expect(next.embeds[0]!.footer!.text).toContain(active!.version);

    // the same report, for the admins who did not watch
    const posted = await until(() => discord.messages({ channelId: discord.channelIds.get('reports') }).find(reportOf));
    expect(posted.allowedMentions).toMatchObject({ parse: [] });
    expect(posted.embeds[0]!.title).toBe('Fine-tune #1: promoted');
    expect(posted.attachments[0]!.data.subarray(1, 4).toString()).toBe('PNG');

    // and /model status tells the admins
    const status = await (await model('status')).response();
    const fields = Object.fromEntries(status.embeds[0]!.fields!.map((f) => [f.name, f.value]));
    expect(fields['Last run']).toMatch(/^#1 promoted <t:\d+:R>: ppl [\d.]+ → [\d.]+$/);
    expect(fields['Taste model']).toMatch(/^none yet/);
    expect(status.attachments[0]!.data.subarray(1, 4).toString()).toBe('PNG'); // the recent runs' chart
    expect(fields['Next scheduled run']).toBe('none (TRAIN_CRON=off)');
    expect(fields['Fine-tune now']).toBe('none');
    expect(fields['Recent versions']).toContain(`▶ \`${bot.ctx.model.version}\``);
    expect(fields['Recent versions']).toContain(`· \`${baseVersion}\``);
  });

  it('non-admins cannot start, stop or roll back anything, whatever the options say', async () => {
    const { bot, baseVersion, model } = await startLearningBot();
    const runs = await bot.ctx.db.prisma.trainingRun.count();
    const serving = bot.ctx.model.version;
    for (const [sub, options] of [
      ['retrain', []],
      ['stop', []],
      ['rollback', [{ name: 'version', type: STRING, value: baseVersion }]],
    ] as const) {
      const answer = await (await model(sub, [...options], user, '0', true)).response();
      expect(answer.ephemeral).toBe(true);
      expect(answer.content).toBe('Only server admins (Manage Server) can use /model.');
    }
    const refused = await (await model('status', [], user, '0', true, 'zh-TW')).response();
    expect(refused.content).toBe('只有能「管理伺服器」的管理員才能用 /model。');
    expect(await bot.ctx.db.prisma.trainingRun.count()).toBe(runs);
    expect(bot.ctx.model.version).toBe(serving);
  });

  it('/model rollback goes back to the previous version; bad version ids get a clear message', async () => {
    // a fine-tune's candidate, promoted over the base, as the database holds it after a run
    const { bot, baseVersion, model } = await startLearningBot(async (dir, base, databaseUrl) => {
      const db = await openDatabase(databaseUrl);
      const tuned = makeTinyCheckpoint({ dir: join(dir, 'models', 'tuned'), hidden: 12 });
      await registerVersion(db, base.manifest, base.dir);
      await markActive(db, base.manifest.version);
      await registerVersion(db, tuned.manifest, tuned.dir);
      await markActive(db, tuned.manifest.version);
      await db.close();
    });
    const bad = await (await model('rollback', [{ name: 'version', type: STRING, value: '../../etc/passwd' }])).response();
    expect(bad.content).toContain('is not a version id');
    const missing = await (await model('rollback', [{ name: 'version', type: STRING, value: 'v20990101-000000-abcdef' }])).response();
    expect(missing.content).toContain('There is no version `v20990101-000000-abcdef`');
    const promoted = bot.ctx.model.version;
    expect(promoted).not.toBe(baseVersion);
    const answer = await (await model('rollback')).response();
    expect(answer.content).toContain(`Now answering with \`${baseVersion}\``);
    expect(bot.ctx.model.version).toBe(baseVersion);
    expect((await activeVersion(bot.ctx.db))!.version).toBe(baseVersion);
    const again = await (await model('rollback', [{ name: 'version', type: STRING, value: baseVersion }])).response();
    expect(again.content).toContain('is already answering');
    const forward = await (await model('rollback', [{ name: 'version', type: STRING, value: promoted }])).response();
    expect(forward.content).toContain(`Now answering with \`${promoted}\``);

    // an admin who reads Chinese gets /model in Chinese: simplified for zh-CN, traditional for zh-TW
    const back = await (await model('rollback', [], admin, ADMIN, false, 'zh-CN')).response();
    expect(back.content).toBe(`现在用 \`${baseVersion}\`（开发集困惑度 ?），之前是 \`${promoted}\`（?）。`);
    const status = await (await model('status', [], admin, ADMIN, false, 'zh-TW')).response();
    const fields = Object.fromEntries(status.embeds[0]!.fields!.map((f) => [f.name, f.value]));
    expect(status.embeds[0]!.title).toBe('模型狀態');
    expect(fields.當前版本).toBe(baseVersion);
    expect(fields.下次定時微調).toBe('無（TRAIN_CRON=off）');
    const badZh = await (await model('rollback', [{ name: 'version', type: STRING, value: '../x' }], admin, ADMIN, false, 'zh-CN')).response();
    expect(badZh.content).toBe('`../x` 不是版本号（字母、数字、. _ -）。`/model status` 列出各个版本。');
  });

  it('/model stop ends a run: the report says it failed and why, and the active model stays', async () => {
    const { discord, bot, model } = await startLearningBot();
    const serving = bot.ctx.model.version;
    bot.ctx.finetunes.once('progress', () => void model('stop'));
    const answer = await (await model('retrain')).response();
    const final = await until(() => reportOf(discord.message(answer.messageId)));
    expect(final.embeds[0]!.title).toMatch(/^Fine-tune #1: failed$/);
    expect(final.embeds[0]!.description).toContain('stopped by <@200000000000000001>');
    expect(final.embeds[0]!.description).toContain(`The active model \`${serving}\` keeps answering.`);
    expect(bot.ctx.model.version).toBe(serving);
    expect(bot.ctx.model.productHelperPaused).toBe(false); // paused while it ran, resumed when it ended
    expect((await bot.ctx.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: 1 } })).status).toBe('failed');
  });
});
