/**
 * startTestBot(): a fresh bot for one test — its own local Discord, SQLite file, model directory and tiny
 * /couplet model — so that every end-to-end test sets up what it needs and runs alone or in any order.
 * Called inside a test, it stops itself when the test ends.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { startBot, type RunningBot } from '../../src/bot/bot.js';
import { readConfig } from '../../src/bot/config.js';
import { saveCouplet } from '../../src/model/couplet/checkpoint.js';
import { initParams } from '../../src/model/couplet/seq2seq.js';
import { loadCouplets } from '../../src/model/couplet/pairs.js';
import { Vocab } from '../../src/model/verse/vocab.js';
import { tempDir } from '../helpers.js';
import { freshDatabaseUrl, testProvider } from './databases.js';
import { startDiscordStandIn, type DiscordStandIn, type InteractionAnswer, type StandInOptions, type UserInput } from './discord/index.js';

export const STRING = 3;
export const BOOLEAN = 5;
export const SUBCOMMAND = 1;

export type Option = { name: string; type: number; value: string | number | boolean };

export interface TestBot {
  discord: DiscordStandIn;
  bot: RunningBot;
  /** the test's own directory: bot.db, models/ */
  dir: string;
  /** /poem with these options, answered */
  poem(options: Option[], user: UserInput, locale?: string): Promise<InteractionAnswer>;
  /** /couplet with these options, answered */
  couplet(options: Option[], user: UserInput, locale?: string): Promise<InteractionAnswer>;
  /** a rating click on a poem message (stars 1–5), answered */
  rate(answer: InteractionAnswer, stars: number, user: UserInput): Promise<InteractionAnswer>;
  stop(): Promise<void>;
}

export interface TestBotOptions {
  /** environment on top of the defaults below (DISCORD_* and DATABASE_URL are the test's own) */
  env?: Record<string, string>;
  standIn?: StandInOptions;
  /** runs before the bot starts, on the test's directory and database (to leave a model or versions there); returns more environment */
  before?: (dir: string, discord: DiscordStandIn, databaseUrl: string) => Promise<Record<string, string> | undefined> | Record<string, string> | undefined;
  /** the DATABASE_URL the bot is given for the test's database (e.g. through a proxy) */
  reachDatabase?: (databaseUrl: string) => string | Promise<string>;
}

let coupletDir: string | undefined;

/** An untrained couplet model, written once per test file: /couplet's rules make its answers couplets all the same. */
function tinyCoupletModel(): string {
  if (coupletDir && existsSync(coupletDir)) return coupletDir;
  const pairs = loadCouplets().train.slice(0, 4000);
  const vocab = Vocab.build(
    pairs.map((p) => ({ lines: [p.upper, p.lower], form: 'wulv' as const })),
    1,
  );
  const config = { vocabSize: vocab.size, embedDim: 8, hiddenDim: 12, attention: true };
  coupletDir = join(tempDir('tangshi-couplet-'), 'couplet');
  saveCouplet(coupletDir, { config, vocab, params: initParams(config, 3), training: {}, split: {}, metrics: {} });
  return coupletDir;
}

export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const discord = await startDiscordStandIn(options.standIn);
  const dir = tempDir('tangshi-e2e-');
  let bot: RunningBot;
  try {
    // SQLite, or a fresh PostgreSQL database when the run is for it (support/databases.ts)
    const databaseUrl = await freshDatabaseUrl(testProvider(), join(dir, 'bot.db'));
    const env = await options.before?.(dir, discord, databaseUrl);
    bot = await startBot(
      readConfig({
        COUPLET_MODEL_DIR: tinyCoupletModel(),
        MODEL_DIR: join(dir, 'models'),
        POEM_COOLDOWN_SECONDS: '0',
        LOG_LEVEL: 'silent',
        TRAIN_CRON: 'off',
        ...options.env,
        ...env,
        DISCORD_TOKEN: discord.token,
        DISCORD_API_URL: discord.apiUrl,
        DISCORD_GUILD_ID: discord.guildId,
        DATABASE_URL: options.reachDatabase ? await options.reachDatabase(databaseUrl) : databaseUrl,
      }),
    );
  } catch (error) {
    await discord.close();
    throw error;
  }
  const command =
    (name: string) =>
    (options: Option[], user: UserInput, locale = 'en-US') =>
      discord.slashCommand({ name, options: options as never, user, locale }).then((i) => i.response());
  // the stand-in is trimmed to the routes the bot calls: a call to any other fails the test, as would one the stand-in broke on
  const stop = async () => {
    await bot.stop();
    await discord.close();
    const surprises = [...discord.unhandled.map((c) => `${c.method} ${c.path}: no such route in the stand-in`), ...discord.errors.map((e) => e.message)];
    if (surprises.length) throw new Error(`the Discord stand-in saw: ${surprises.join('; ')}`);
  };
  try {
    onTestFinished(stop);
  } catch {
    // outside a test (a beforeAll): the caller stops it
  }
  return {
    discord,
    bot,
    dir,
    poem: command('poem'),
    couplet: command('couplet'),
    rate: (answer, stars, user) => discord.clickButton({ message: answer.messageId, customId: buttonIds(answer)[stars - 1]!, user }).then((i) => i.response()),
    stop,
  };
}

/** custom ids of every button under a message, row by row, left to right */
export function allButtonIds(answer: InteractionAnswer): string[] {
  return (answer.components as unknown as { components: { custom_id: string }[] }[]).flatMap((row) => row.components.map((b) => b.custom_id));
}

/** custom ids of the rating buttons under a message, 1 to 5 stars */
export function buttonIds(answer: InteractionAnswer): string[] {
  return allButtonIds(answer).filter((id) => id.startsWith('rate:'));
}

/** the poem's lines, as the embed shows them */
export function poemLines(answer: InteractionAnswer): string[] {
  return (answer.embeds[0]?.description ?? '').split('\n');
}

/** `count` distinct users, ids from `base` up */
export function users(count: number, base: bigint, prefix = 'reader'): { id: string; username: string }[] {
  return Array.from({ length: count }, (_, k) => ({ id: String(base + BigInt(k)), username: `${prefix}${k}` }));
}
