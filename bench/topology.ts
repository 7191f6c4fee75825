/**
 * Figures for docs/topology.md: the bot as one process or as two (two shards each of four) on one PostgreSQL
 * database, against the local Discord stand-in (which routes each server's interactions to its shard).
 *   - /poem one at a time: ms from the interaction to its first response, p50 and p99
 *   - a burst of /poem at once, over every server: poems/s from the first sent to the last visible
 *   - a promotion (another process marks a version active): ms until every process serves it
 *   - ratings: a burst of star clicks on PostgreSQL against SQLite (one process each): ratings/s
 * Needs a PostgreSQL server: TANGSHI_TEST_POSTGRES=postgresql://…/postgres, or PGHOST/PGUSER (pg_virtualenv).
 *   npx tsx bench/topology.ts [--poems 200] [--burst 200] [--ratings 1000] [--promotions 3]
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/db.js';
import { markActive, registerVersion } from '../src/jobs/model-versions.js';
import { BASE_CHECKPOINT } from '../src/model/runtime/paths.js';
import { percentile } from '../src/shared/stats.js';
import { makeTinyCheckpoint } from '../test/helpers.js';
import { BotProcess } from '../test/support/bot-process.js';
import { freshDatabaseUrl, postgresAdminUrl } from '../test/support/databases.js';
import { startDiscordStandIn, type DiscordStandIn, type InteractionAnswer } from '../test/support/discord/index.js';

const { values } = parseArgs({
  options: {
    poems: { type: 'string', default: '200' },
    burst: { type: 'string', default: '200' },
    ratings: { type: 'string', default: '1000' },
    promotions: { type: 'string', default: '3' },
  },
});
const POEMS = Number(values.poems);
const BURST = Number(values.burst);
const RATINGS = Number(values.ratings);
const PROMOTIONS = Number(values.promotions);
const SHARDS = 4;
if (!postgresAdminUrl()) {
  console.error('bench/topology.ts needs a PostgreSQL server: TANGSHI_TEST_POSTGRES=postgresql://…/postgres, or run it under pg_virtualenv');
  process.exit(2);
}

let users = 0;
const nextUser = () => ({ id: String(600000000000000000n + BigInt(users++)), username: `bench${users}` });
const STARTS = ['日', '紅', '山', '夜', '湖', '海', '月'];
const footerVersion = (a: InteractionAnswer) => /model (\S+)/.exec(a.embeds[0]?.footer?.text ?? '')?.[1];
const ask = async (discord: DiscordStandIn, guildId: string, k: number) =>
  (
    await discord.slashCommand({ name: 'poem', guildId, options: [{ name: 'start', type: 3, value: STARTS[k % STARTS.length]! }], user: nextUser() })
  ).response();
/** the rating buttons' custom ids, 1 to 5 stars */
const buttonIds = (a: InteractionAnswer) =>
  (a.components as unknown as { components: { custom_id: string }[] }[])
    .flatMap((row) => row.components.map((b) => b.custom_id))
    .filter((id) => id.startsWith('rate:'));
const print = (row: Record<string, unknown>) => console.log(JSON.stringify({ ...row, load: loadavg()[0]!.toFixed(2) }));

async function startLayout(discord: DiscordStandIn, url: string, layout: string[], dir: string): Promise<BotProcess[]> {
  const processes = layout.map(
    (ids, k) =>
      new BotProcess(`bot${k}`, {
        DISCORD_TOKEN: discord.token,
        DISCORD_API_URL: discord.apiUrl,
        DATABASE_URL: url,
        MODEL_DIR: join(dir, 'models'),
        BASE_MODEL_DIR: BASE_CHECKPOINT,
        SHARD_COUNT: String(SHARDS),
        SHARD_IDS: ids,
        POEM_COOLDOWN_SECONDS: '0',
        TRAIN_CRON: 'off',
        TRAINER: url.startsWith('postgres') ? 'queue' : 'here', // several processes: the fine-tunes are a trainer's
        LOG_LEVEL: 'info',
        VERSION_CHECK_SECONDS: '600',
      }),
  );
  await Promise.all(processes.map((p) => p.ready()));
  return processes;
}

async function layoutFigures(name: string, layout: string[]) {
  const discord = await startDiscordStandIn({ shards: SHARDS, moreGuilds: 7 });
  const dir = mkdtempSync(join(tmpdir(), 'tangshi-topology-'));
  const url = await freshDatabaseUrl('postgresql');
  const processes = await startLayout(discord, url, layout, dir);
  await discord.waitForShards();
  const guilds = discord.guildIds;
  try {
    for (let k = 0; k < 20; k++) await ask(discord, guilds[k % guilds.length]!, k); // warm every process
    const first: number[] = [];
    for (let k = 0; k < POEMS; k++) first.push((await ask(discord, guilds[k % guilds.length]!, k)).latencyMs);
    print({
      layout: name,
      measure: 'poem one at a time',
      poems: POEMS,
      p50_ms: +percentile(first, 0.5).toFixed(1),
      p99_ms: +percentile(first, 0.99).toFixed(1),
    });

    const sent = discord.now();
    await Promise.all(Array.from({ length: BURST }, (_, k) => ask(discord, guilds[k % guilds.length]!, k)));
    print({ layout: name, measure: 'burst', poems: BURST, poems_per_s: +(BURST / ((discord.now() - sent) / 1000)).toFixed(1) });

    // promotions: a version marked active by someone else (the trainer) until every process serves it
    const db = await openDatabase(url);
    const base = footerVersion(await ask(discord, guilds[0]!, 0))!;
    const tiny = makeTinyCheckpoint({ dir: join(dir, 'models', 'versions', 'tiny') });
    await registerVersion(db, tiny.manifest, tiny.dir);
    const oneGuildEach = [...new Map(guilds.map((g) => [layout.findIndex((ids) => ids.split(',').map(Number).includes(discord.shardOf(g))), g])).values()];
    for (let k = 0; k < PROMOTIONS; k++) {
      const version = k % 2 === 0 ? tiny.manifest.version : base;
      const at = Date.now();
      await markActive(db, version);
      const waits = await Promise.all(
        oneGuildEach.map(async (g) => {
          while (footerVersion(await ask(discord, g, 0)) !== version) await new Promise((r) => setTimeout(r, 20));
          return Date.now() - at;
        }),
      );
      print({ layout: name, measure: 'promotion reaches every process', processes: layout.length, ms: Math.max(...waits) });
    }
    await db.close();
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await discord.close();
  }
}

async function ratingFigures(name: string, url: (dir: string) => Promise<string>) {
  const discord = await startDiscordStandIn({ strictCommands: true });
  const dir = mkdtempSync(join(tmpdir(), 'tangshi-ratings-'));
  const [bot] = await startLayout(discord, await url(dir), ['0,1,2,3'], dir);
  try {
    const poems = await Promise.all(Array.from({ length: 20 }, (_, k) => ask(discord, discord.guildId, k)));
    const sent = discord.now();
    const clicks = await Promise.all(
      Array.from({ length: RATINGS }, (_, k) => {
        const poem = poems[k % poems.length]!;
        return discord.clickButton({ message: poem.messageId, customId: buttonIds(poem)[k % 5]!, user: nextUser() }).then((c) => c.response());
      }),
    );
    const seconds = (discord.now() - sent) / 1000;
    const failed = clicks.filter((c) => c.ephemeral && /try again/i.test(c.content)).length;
    print({ database: name, measure: 'ratings at once', ratings: RATINGS, ratings_per_s: +(RATINGS / seconds).toFixed(1), failed });
  } finally {
    await bot!.stop();
    await discord.close();
  }
}

console.log(JSON.stringify({ machine: `${availableParallelism()} cores`, date: new Date().toISOString() }));
await layoutFigures('one process (shards 0-3)', ['0,1,2,3']);
await layoutFigures('two processes (shards 0,1 and 2,3)', ['0,1', '2,3']);
await ratingFigures('PostgreSQL', () => freshDatabaseUrl('postgresql'));
await ratingFigures('SQLite', async (dir) => `file:${join(dir, 'bot.db')}`);
process.exit(0);
