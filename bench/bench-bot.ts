/** The benchmarks' bot: the real bot with the shipped model against the local Discord stand-in, in a temp dir. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type RunningBot } from '../src/bot/bot.js';
import { readConfig } from '../src/bot/config.js';
import { startDiscordStandIn, type DiscordStandIn } from '../test/support/discord/index.js';

export async function startBenchBot(settings: Record<string, string | undefined> = {}): Promise<{ discord: DiscordStandIn; bot: RunningBot }> {
  const discord = await startDiscordStandIn();
  return { discord, bot: await startBenchBotAgainst(discord, settings) };
}

/** The same bot against a stand-in that runs elsewhere (another thread: bench/discord-thread.ts). */
export async function startBenchBotAgainst(
  discord: { token: string; apiUrl: string; guildId: string },
  settings: Record<string, string | undefined> = {},
): Promise<RunningBot> {
  const dir = mkdtempSync(join(tmpdir(), 'tangshi-bench-'));
  return startBot(
    readConfig({
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_GUILD_ID: discord.guildId,
      DATABASE_URL: `file:${join(dir, 'bench.db')}`,
      MODEL_DIR: join(dir, 'models'),
      POEM_COOLDOWN_SECONDS: '0',
      LOG_LEVEL: 'silent',
      TRAIN_CRON: 'off',
      POEM_PRODUCT_THREADS: process.env.POEM_PRODUCT_THREADS, // to compare: 1 or 2 threads for the products
      ...settings,
    }),
  );
}
