/**
 * The bot: open the database (applying migrations), load the active model version, log in, register the
 * slash commands, answer interactions, run the learning loop; stop() finishes what is in flight, then
 * closes everything.
 */
import { Client, Events, GatewayIntentBits, Options, Routes } from 'discord.js';
import { LRUCache } from 'lru-cache';
import { Agent } from 'undici';
import { hotSwapper, type ModelHolder } from '../serving/hot-swap.js';
import { AcknowledgementGate } from './acknowledgements.js';
import { scheduleTraining } from '../jobs/schedule.js';
import { FinetuneRunner, type RunReport, type Runs } from '../jobs/runner.js';
import { openQueue, queueSchedule } from '../jobs/queue.js';
import { QueuedRuns } from '../jobs/queued-runs.js';
import type { TrainingSchedule } from '../jobs/schedule.js';
import type PgBoss from 'pg-boss';
import { failInterruptedRuns, loadServingModel } from '../jobs/model-versions.js';
import { ActiveVersionFollower } from '../jobs/follow-active.js';
import { finetuneSettings, shardIds, type Config } from './config.js';
import type { BotContext } from './context.js';
import { activeTaste, listenForVersions, type Listener, openDatabase, redactedUrl } from '../db/db.js';
import { startNativePoolAtLowPriority } from '../model/runtime/threads.js';
import { log } from '../shared/log.js';
import { commands, Router } from './router.js';
import { adminMessagesFor } from './messages.js';
import { reportMessage } from './training-report.js';

/** how often a bot process reads the trainer's runs (TRAINER=queue) */
const RUN_POLL_MS = 1000;
/** connections to Discord's REST API at most (see the client's rest options) */
const REST_CONNECTIONS = 64;
/** users whose cooldowns are remembered: a Map grew by one entry per user for as long as the bot ran */
const COOLDOWN_USERS = 100_000;
/** how often @discordjs/rest drops its idle queues: it keeps one per interaction whose reply is edited
    (every acknowledged poem), 2 KB each, for an hour by default (1,086 after a 200- and a 1,000-burst) */
const REST_IDLE_QUEUE_SWEEP_MS = 60_000;

export type RunningBot = { client: Client; ctx: BotContext; stop: () => Promise<void> };

export async function startBot(config: Config): Promise<RunningBot> {
  if (!config.DISCORD_TOKEN) {
    throw new Error('DISCORD_TOKEN is not set: put your bot token in .env (see .env.example). To try a poem without Discord, run: npx tangshi poem 月');
  }
  log.level = config.LOG_LEVEL;
  const db = await openDatabase(config.DATABASE_URL);
  // (with TRAINER=queue the runs are the trainer's: it marks the ones cut off with a trainer)
  const trainsHere = config.TRAINER === 'here';
  if (trainsHere) {
    const interrupted = await failInterruptedRuns(db, (id) => FinetuneRunner.runDir(config.MODEL_DIR, id));
    if (interrupted.length > 0) log.warn({ runs: interrupted }, 'fine-tunes cut off by the last shutdown are marked failed');
  }
  // before anything loads TensorFlow: its pool of threads then runs the fine-tunes at the lowest priority
  await startNativePoolAtLowPriority().then(
    (backend) =>
      log.debug({ backend }, backend ? 'native TensorFlow loaded on a low-priority thread' : 'no native TensorFlow here: no pool of threads to lower'),
    // not fatal: the model's own load below says what is wrong with the backend, if anything
    (e) => log.warn({ err: e }, 'could not load TensorFlow.js on a low-priority thread: fine-tunes will compete with /poem'),
  );
  const taste = await activeTaste(db);
  const serving = {
    workers: config.POEM_WORKERS,
    productThreads: config.POEM_PRODUCT_THREADS,
    couplet: config.COUPLET_MODEL_DIR,
    bestOf: config.BEST_OF_N,
    taste: taste && { path: taste.path, sha256: taste.sha256, version: taste.version },
  };
  const model = await loadServingModel(db, config.BASE_MODEL_DIR, log, serving);
  log.info({ version: model.version, backend: model.backend, ...(model.backendFallback ? { nativeUnavailable: model.backendFallback } : {}) }, 'model loaded');
  if (model.tasteProblem)
    log.warn({ taste: taste?.version, reason: model.tasteProblem }, 'the taste model cannot be used: every poem is its one candidate (n = 1)');
  else if (model.tasteModel) log.info({ taste: model.tasteModel.version, bestOf: model.bestOf }, 'taste model loaded: best-of-n');

  // the model answering now: a hot swap replaces it in this holder, and everyone reads it from there
  const holder: ModelHolder = { model };
  const swapModel = hotSwapper(holder, serving);
  const versions = new ActiveVersionFollower({ db, log, current: () => holder.model, swapTo: swapModel, useTaste: (choice) => holder.model.useTaste(choice) });
  let finetunes: Runs;
  let schedule: TrainingSchedule;
  let queue: PgBoss | undefined;
  if (trainsHere) {
    const runner = new FinetuneRunner({
      db,
      log,
      modelDir: config.MODEL_DIR,
      active: () => holder.model,
      swapTo: swapModel,
      root: config.BASE_MODEL_DIR,
      settings: finetuneSettings(config),
      useTaste: (choice) => holder.model.useTaste(choice),
      exclusive: (change) => versions.exclusive(change),
    });
    // while a run trains, evaluates or promotes, poems are written on one thread: the product helper's core goes
    // to the run, which yields it to /poem at its lowest priority (bench/learning-loop.ts)
    runner.on('progress', () => holder.model.pauseProductHelper('finetune', true));
    runner.on('finished', () => holder.model.pauseProductHelper('finetune', false));
    finetunes = runner;
    schedule = scheduleTraining(runner, config.TRAIN_CRON, config.TRAIN_TZ, log);
  } else {
    // the trainer process runs them (its own TRAIN_CRON, one run at a time cluster-wide); /model asks and watches
    const onError = (e: Error) => log.warn({ err: e }, 'job queue error');
    queue = await openQueue(config.DATABASE_URL, onError);
    const view = new QueuedRuns({ db, boss: queue, log, pollMs: RUN_POLL_MS });
    view.follow();
    finetunes = view;
    schedule = queueSchedule(queue, onError);
  }
  const ctx: BotContext = {
    config,
    db,
    log,
    get model() {
      return holder.model;
    },
    swapModel,
    versions,
    finetunes,
    schedule,
    startedAt: new Date(),
    poemsInFlight: 0,
    acknowledgements: new AcknowledgementGate(),
    cooldowns: new LRUCache({ max: COOLDOWN_USERS }), // (with the default 5 s cooldown, forgetting one still running takes 20,000 poems a second)
    background: new Set(),
  };
  if (trainsHere) log.info({ cron: config.TRAIN_CRON, timezone: config.TRAIN_TZ, next: ctx.schedule.nextRun() }, 'fine-tune schedule');
  else log.info('fine-tunes run in the trainer process (TRAINER=queue)');
  // Several processes share a PostgreSQL database: a version another one promotes or rolls back to reaches
  // this one by a notice, or at the latest by the timer. One process on SQLite changes versions only itself.
  let listener: Listener | undefined;
  if (db.provider === 'postgresql') {
    const url = config.DATABASE_URL;
    listener = listenForVersions(url, {
      onNotice: (notice) => void versions.sync(`notice: ${notice.kind} ${notice.version}`),
      onConnect: () => void versions.sync('listening for version notices'),
      onLost: (e) => log.warn({ reason: e.message.replaceAll(url, redactedUrl(url)) }, 'lost the connection that hears of new versions; reconnecting'),
    });
    versions.startTimer(config.VERSION_CHECK_SECONDS * 1000);
  }
  const shards = shardIds(config);
  const router = new Router(ctx);
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    // this process's shards of SHARD_COUNT, all on one model (docs/topology.md)
    shards,
    shardCount: config.SHARD_COUNT,
    // The bot reads everything it needs from each interaction's payload and its database (a poem by its
    // id): no cache of messages, users or members, which grew by one of each per /poem and kept the
    // collector busy (bench/bot-latency.ts). The bot's own user and member stay.
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      MessageManager: 0,
      UserManager: { maxSize: 0, keepOverLimit: (user) => user.id === user.client.user.id },
      GuildMemberManager: { maxSize: 0, keepOverLimit: (member) => member.id === member.client.user.id },
    }),
    allowedMentions: { parse: [], repliedUser: false }, // nothing a user types can ping anyone
    // Discord's global limit (50 requests/s) does not bind interaction responses and their webhook edits,
    // but @discordjs/rest counts every edit against it, which held a burst of replies to 50 a second.
    // The bot's other requests are a handful a day; a real global 429 is still honoured.
    // A limit on connections: without one undici opens one for each request in flight (nearly one per poem in a
    // burst), each a TCP and TLS set-up and teardown; 64 kept-alive connections carry a burst's requests.
    rest: {
      globalRequestsPerSecond: 1000,
      handlerSweepInterval: REST_IDLE_QUEUE_SWEEP_MS,
      agent: new Agent({ connections: REST_CONNECTIONS }),
      ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}),
    },
  });
  client.on(Events.InteractionCreate, (interaction) => void router.handle(interaction));
  client.on(Events.Error, (e) => log.error({ err: e }, 'discord client error'));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  const body = commands.map((c) => c.data.toJSON());
  try {
    await client.login(config.DISCORD_TOKEN);
    await ready;
    // In one server (instant, for development) when DISCORD_GUILD_ID is set, else globally.
    if (config.DISCORD_GUILD_ID) await client.application!.commands.set(body, config.DISCORD_GUILD_ID);
    else await client.application!.commands.set(body);
  } catch (e) {
    // a wrong token or an unreachable Discord: leave nothing running (the schedule, the poem threads)
    await ctx.schedule.stop();
    await listener?.close();
    await versions.stop();
    await ctx.finetunes.close();
    await queue?.stop({ graceful: false, wait: true });
    await client.destroy();
    await Promise.allSettled([holder.model.close(), db.close()]);
    throw e;
  }
  log.info(
    { user: client.user?.tag, commands: body.map((c) => c.name), guild: config.DISCORD_GUILD_ID ?? 'global', shards, shardCount: config.SHARD_COUNT },
    'ready',
  );

  if (config.REPORT_CHANNEL_ID) {
    const channelId = config.REPORT_CHANNEL_ID;
    // say now, not after tonight's run, when the report channel cannot be used
    await client.channels
      .fetch(channelId)
      .then((c) => c?.isSendable() || log.warn({ channel: channelId }, 'REPORT_CHANNEL_ID is not a text channel the bot can post in'))
      .catch((e) => log.warn({ channel: channelId, err: e }, 'REPORT_CHANNEL_ID cannot be fetched: reports will only reach the admin who asked'));
    // With the trainer in its own process every bot process hears of a run's end: the one whose shards hold
    // the report channel's server posts it (exactly one, as a server belongs to one shard).
    const postsHere = trainsHere || (await holdsChannelGuild(client, channelId).catch(() => false));
    if (postsHere) {
      ctx.finetunes.on('finished', (report) => {
        const posted = postReport(client, channelId, report).catch((e) => log.warn({ err: e, channel: channelId }, 'could not post the fine-tune report'));
        ctx.background.add(posted);
        void posted.finally(() => ctx.background.delete(posted));
      });
    }
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: finishing interactions in flight');
      await ctx.schedule.stop();
      await listener?.close();
      await versions.stop();
      await router.drain();
      await ctx.finetunes.close(); // a run in this process is stopped and recorded as failed (a trainer's goes on)
      await queue?.stop({ graceful: false, wait: true });
      await Promise.allSettled([...ctx.background]);
      await client.destroy();
      await db.close();
      await ctx.model.close();
      log.info('stopped');
    })());
  return { client, ctx, stop };
}

/** whether one of this process's shards holds the server of channel `channelId` */
async function holdsChannelGuild(client: Client, channelId: string): Promise<boolean> {
  const channel = (await client.rest.get(Routes.channel(channelId))) as { guild_id?: string };
  return channel.guild_id !== undefined && client.guilds.cache.has(channel.guild_id);
}

/** The same report an admin's /model retrain shows, for the runs nobody watches. */
async function postReport(client: Client, channelId: string, report: RunReport): Promise<void> {
  const channel = await client.channels.fetch(channelId);
  if (!channel?.isSendable()) throw new Error(`channel ${channelId} is not a text channel the bot can post in`);
  const locale = 'guild' in channel ? channel.guild.preferredLocale : 'en-US'; // a public message: the server's language
  await channel.send(reportMessage(report, adminMessagesFor(locale))); // mentions off by the client's default
}
