/**
 * The bot: open the database (applying migrations), load the active model, log in, register the slash
 * commands, answer interactions; stop() finishes what is in flight, then closes everything.
 */
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { BASE_CHECKPOINT } from '../model/checkpoint.js';
import { PoemWriter } from '../model/poem-writer.js';
import type { Config } from './config.js';
import type { BotContext } from './context.js';
import { openDatabase } from './db.js';
import { log } from './log.js';
import { commands, Router } from './router.js';

export type RunningBot = { client: Client; ctx: BotContext; stop: () => Promise<void> };

export async function startBot(config: Config): Promise<RunningBot> {
  if (!config.DISCORD_TOKEN) {
    throw new Error('DISCORD_TOKEN is not set: put your bot token in .env (see .env.example). To try a poem without Discord, run: npx tangshi poem 月');
  }
  log.level = config.LOG_LEVEL;
  const db = await openDatabase(config.DATABASE_URL);
  const model = await PoemWriter.start(BASE_CHECKPOINT);
  log.info({ version: model.version, backend: model.backend }, 'model loaded');
  const ctx: BotContext = { config, db, log, model, startedAt: new Date(), poemsInFlight: 0, cooldowns: new Map() };
  const router = new Router(ctx);
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    allowedMentions: { parse: [], repliedUser: false }, // nothing a user types can ping anyone
    rest: config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {},
  });
  client.on(Events.InteractionCreate, (interaction) => void router.handle(interaction));
  client.on(Events.Error, (e) => log.error({ err: e }, 'discord client error'));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(config.DISCORD_TOKEN);
  await ready;
  const body = commands.map((c) => c.data.toJSON());
  // In one server (instant, for development) when DISCORD_GUILD_ID is set, else globally.
  if (config.DISCORD_GUILD_ID) await client.application!.commands.set(body, config.DISCORD_GUILD_ID);
  else await client.application!.commands.set(body);
  log.info({ user: client.user?.tag, commands: body.map((c) => c.name), guild: config.DISCORD_GUILD_ID ?? 'global' }, 'ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: finishing interactions in flight');
      await router.drain();
      await client.destroy();
      await db.close();
      await model.close();
      log.info('stopped');
    })());
  return { client, ctx, stop };
}
