/**
 * The bot as more than one process: two bot processes with two shards each of four, on one PostgreSQL
 * database, against the local Discord stand-in (which routes each guild's interactions to the shard that
 * holds it). Every guild's /poem is answered exactly once and the ratings from both are exact; a version made
 * active by another process reaches both within seconds (a notice) and a rollback from one reaches the other;
 * a process killed without warning comes back with its shards while the other keeps answering.
 * PostgreSQL only (the `postgresql` vitest project): SQLite is for one process.
 */
import { join } from 'node:path';
import { PermissionFlagsBits } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/db.js';
import { markActive, registerVersion } from '../src/jobs/model-versions.js';
import { BASE_CHECKPOINT } from '../src/model/runtime/paths.js';
import { makeTinyCheckpoint, tempDir } from './helpers.js';
import { BotProcess } from './support/bot-process.js';
import { freshDatabaseUrl, testProvider } from './support/databases.js';
import { startDiscordStandIn, type DiscordStandIn, type InteractionAnswer } from './support/discord/index.js';
import { buttonIds, STRING, SUBCOMMAND, users } from './support/test-bot.js';

const SHARDS = 4;
const ADMIN = { id: '300000000000000001', username: 'admin' };

/** several processes, real training and a loaded CI machine: generous */
const E2E_TIMEOUT_MS = 300_000;

describe.runIf(testProvider() === 'postgresql')('two bot processes, two shards each, one PostgreSQL', () => {
  let discord: DiscordStandIn;
  let db: Database;
  let env: Record<string, string>;
  const processes: BotProcess[] = [];
  const byProcess: Record<'a' | 'b', string[]> = { a: [], b: [] };

  const start = (name: 'a' | 'b') => {
    const p = new BotProcess(name, { ...env, SHARD_IDS: name === 'a' ? '0,1' : '2,3' });
    processes.push(p);
    return p;
  };
  const poem = async (guildId: string, start = '月', user = { id: '300000000000000100', username: 'reader' }) =>
    (await discord.slashCommand({ name: 'poem', guildId, options: [{ name: 'start', type: STRING, value: start }], user })).response();
  /** interactions answered twice: Discord refuses the second answer with 40060 */
  const secondAnswers = () => discord.refusals.filter((r) => r.code === 40060);
  const footerVersion = (a: InteractionAnswer) => /model (\S+)/.exec(a.embeds[0]?.footer?.text ?? '')?.[1];

  beforeAll(async () => {
    discord = await startDiscordStandIn({ shards: SHARDS, moreGuilds: 7 });
    const dir = tempDir('tangshi-shards-');
    const url = await freshDatabaseUrl('postgresql');
    db = await openDatabase(url);
    env = {
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DATABASE_URL: url,
      MODEL_DIR: join(dir, 'models'), // shared by both processes, as a shared directory would be
      BASE_MODEL_DIR: BASE_CHECKPOINT,
      COUPLET_MODEL_DIR: join(dir, 'no-couplet-model'),
      SHARD_COUNT: String(SHARDS),
      POEM_WORKERS: '1',
      POEM_COOLDOWN_SECONDS: '0',
      TRAIN_CRON: 'off',
      TRAINER: 'queue', // each runs some of the shards: the fine-tunes belong to a trainer (none runs here)
      VERSION_CHECK_SECONDS: '600', // the notice, not the timer, must carry a new version within seconds
    };
    const [a, b] = [start('a'), start('b')];
    await Promise.all([a.ready(), b.ready()]);
    await discord.waitForShards();
    for (const g of discord.guildIds) byProcess[discord.shardOf(g) < 2 ? 'a' : 'b'].push(g);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.close();
    await discord?.close();
  });

  it(
    'answers every guild exactly once, from the process holding its shard, and stores every rating exactly',
    async () => {
      expect(byProcess.a.length).toBeGreaterThan(0);
      expect(byProcess.b.length).toBeGreaterThan(0);
      const answers = await Promise.all(discord.guildIds.map((g) => poem(g)));
      for (const a of answers) expect(a.embeds[0]?.description?.split('\n').length).toBeGreaterThanOrEqual(4);
      const rows = await db.prisma.poem.findMany({ where: { messageId: { in: answers.map((a) => a.messageId) } } });
      expect(rows.map((r) => r.guildId).sort()).toEqual([...discord.guildIds].sort()); // one row a guild, none twice
      expect(secondAnswers()).toEqual([]); // a second answer to one interaction would be refused (40060)

      // three readers rate every poem, each guild's clicks going to its own shard's process
      const readers = users(3, 300000000000000200n);
      await Promise.all(
        answers.flatMap((a, i) =>
          readers.map((user, k) => discord.clickButton({ message: a.messageId, customId: buttonIds(a)[(i + k) % 5]!, user }).then((c) => c.response())),
        ),
      );
      const ratings = await db.prisma.rating.findMany({ where: { poemId: { in: rows.map((r) => r.id) } } });
      expect(ratings).toHaveLength(answers.length * readers.length);
      for (const [i, a] of answers.entries()) {
        const row = rows.find((r) => r.messageId === a.messageId)!;
        const stars = ratings
          .filter((r) => r.poemId === row.id)
          .map((r) => r.stars)
          .sort();
        expect(stars).toEqual(readers.map((_, k) => ((i + k) % 5) + 1).sort());
      }
      expect(secondAnswers()).toEqual([]);
    },
    E2E_TIMEOUT_MS,
  );

  it(
    'a version made active elsewhere reaches both processes within seconds; a rollback from one reaches the other',
    async () => {
      const [a, b] = [byProcess.a[0]!, byProcess.b[0]!];
      const base = footerVersion(await poem(a));
      expect(footerVersion(await poem(b))).toBe(base);

      // the trainer (here: this test) registers and activates a new version in the shared directory
      const next = makeTinyCheckpoint({ dir: join(env.MODEL_DIR!, 'versions', 'next') });
      await registerVersion(db, next.manifest, next.dir);
      const activated = Date.now();
      await markActive(db, next.manifest.version);
      const servedBy = async (guild: string, version: string, since = activated) => {
        for (;;) {
          if (footerVersion(await poem(guild)) === version) return Date.now() - since;
          if (Date.now() - since > 30_000) throw new Error(`guild ${guild} still not on ${version} after 30 s`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const seconds = await Promise.all([servedBy(a, next.manifest.version), servedBy(b, next.manifest.version)]);
      expect(Math.max(...seconds)).toBeLessThan(30_000);
      // by the notice (the timer is set to ten minutes), in each process
      for (const p of processes) {
        const switched = await p.waitFor((l) => l.msg === 'now serving the active model version' && l.to === next.manifest.version);
        expect(String(switched.why)).toMatch(/^notice: model /);
      }

      // an admin rolls back in a guild of process b; process a follows
      const rollback = await discord.slashCommand({
        name: 'model',
        guildId: b,
        options: [{ name: 'rollback', type: SUBCOMMAND, options: [{ name: 'version', type: STRING, value: base! }] } as never],
        user: ADMIN,
        permissions: PermissionFlagsBits.ManageGuild,
      });
      expect((await rollback.response()).content).toContain(base!);
      await servedBy(a, base!, Date.now());
      expect(footerVersion(await poem(b))).toBe(base);
    },
    E2E_TIMEOUT_MS,
  );

  it(
    'a process killed without warning comes back with its shards; the other never stops answering',
    async () => {
      const a = processes.find((p) => p.name === 'a')!;
      await a.kill();
      for (let k = 0; discord.connectedShards.join() !== '2,3'; k++) {
        if (k > 600) throw new Error(`shards still connected: ${discord.connectedShards.join()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // while a is down: b's guilds are answered, a's interactions have nowhere to go (Discord shows them failed)
      for (const g of byProcess.b) expect((await poem(g)).embeds).toHaveLength(1);
      await expect(discord.slashCommand({ name: 'poem', guildId: byProcess.a[0]!, options: [] })).rejects.toThrow(/no bot session holds/);

      const restarted = start('a');
      const answering = (async () => {
        // b keeps answering while a starts again
        const during: InteractionAnswer[] = [];
        while (discord.connectedShards.length < SHARDS) {
          during.push(await poem(byProcess.b[during.length % byProcess.b.length]!));
        }
        return during;
      })();
      await restarted.ready();
      await discord.waitForShards();
      const during = await answering;
      expect(during.length).toBeGreaterThan(0);
      const after = await Promise.all(discord.guildIds.map((g) => poem(g)));
      expect(after.every((x) => x.embeds.length === 1)).toBe(true);
      expect(secondAnswers()).toEqual([]);
    },
    E2E_TIMEOUT_MS,
  );
});
