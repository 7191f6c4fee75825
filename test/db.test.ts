import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  MIGRATIONS_DIR,
  counts,
  openDatabase,
  poemById,
  poemByMessage,
  ratePoem,
  recordPoem,
  setPoemMessage,
  topPoems,
  type Database,
  type PoemInput,
} from '../src/db/db.js';
import { applyPgMigrations, pendingPgMigrations, PG_MIGRATIONS_DIR } from '../src/db/migrations-pg.js';
import { freshDatabaseUrl, postgresAdminUrl, testProvider } from './support/databases.js';

const dir = mkdtempSync(join(tmpdir(), 'tangshi-db-'));
let n = 0;
const freshUrl = () => `file:${join(dir, `t${++n}`, 'bot.db')}`; // the folder does not exist yet: openDatabase makes it

const poemInput = (over: Partial<PoemInput> = {}): PoemInput => ({
  guildId: 'guild-1',
  channelId: 'chan-1',
  userId: 'author-1',
  promptKind: 'start',
  promptText: '月',
  form: 'wujue',
  script: 'traditional',
  text: '月落烏啼霜，江楓對愁眠。姑蘇城外寺，夜半到客船。',
  checkpointVersion: 'base',
  ...over,
});

const migrationNames = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const provider = testProvider();

describe.skipIf(provider !== 'sqlite')('openDatabase (SQLite)', () => {
  it('applies the migrations to a fresh file, and nothing on reopen (data kept)', async () => {
    const url = freshUrl();
    const db = await openDatabase(url);
    expect(db.appliedMigrations).toEqual(migrationNames);
    const tables = await db.prisma.$queryRawUnsafe<{ name: string }[]>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['Poem', 'Rating', '_prisma_migrations']));
    const poem = await recordPoem(db, poemInput());
    await db.close();
    await db.close(); // twice is harmless

    const again = await openDatabase(url);
    try {
      expect(again.appliedMigrations).toEqual([]);
      const rows = await again.prisma.$queryRawUnsafe<{ migration_name: string; finished_at: unknown }[]>(
        'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(migrationNames);
      expect(rows.every((r) => r.finished_at !== null)).toBe(true);
      expect((await poemById(again, poem.id))?.text).toBe(poem.text);
    } finally {
      await again.close();
    }
  });

  it('records migrations the way the Prisma CLI expects (prisma migrate status: up to date)', async () => {
    const url = freshUrl();
    await (await openDatabase(url)).close();
    const out = execFileSync(process.execPath, ['node_modules/prisma/build/index.js', 'migrate', 'status'], {
      env: { ...process.env, DATABASE_URL: url, CHECKPOINT_DISABLE: '1' }, // no update check over the network
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toContain('Database schema is up to date');
  });

  it('keeps nothing of a migration that fails, and says which one', async () => {
    const migrations = join(dir, 'broken-migrations');
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    mkdirSync(join(migrations, '99990101000000_broken'));
    writeFileSync(join(migrations, '99990101000000_broken', 'migration.sql'), 'CREATE TABLE "Half" ("id" INTEGER);\nTHIS IS NOT SQL;\n');
    const url = freshUrl();
    await expect(openDatabase(url, { migrationsDir: migrations })).rejects.toThrow(/99990101000000_broken/);
    const db = await openDatabase(url); // the good migrations were kept; the broken one left no trace
    try {
      const tables = await db.prisma.$queryRawUnsafe<{ name: string }[]>("SELECT name FROM sqlite_master WHERE type = 'table'");
      expect(tables.map((t) => t.name)).not.toContain('Half');
      expect(db.appliedMigrations).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('keeps the ratings through a migration that rebuilds the Poem table (as Prisma writes them for SQLite)', async () => {
    const url = freshUrl();
    const db = await openDatabase(url);
    const poem = await recordPoem(db, poemInput());
    await ratePoem(db, { poemId: poem.id, userId: 'u1', stars: 4 });
    await db.close();
    // `prisma migrate diff` output for giving Poem.guildId a default: SQLite rebuilds the table, DROP TABLE
    // included, which would cascade-delete every Rating if foreign keys were on while it runs.
    const migrations = join(dir, 'rebuild-migrations');
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    mkdirSync(join(migrations, '99990101000000_guild_default'));
    writeFileSync(join(migrations, '99990101000000_guild_default', 'migration.sql'), REBUILD_POEM_SQL);
    const again = await openDatabase(url, { migrationsDir: migrations });
    try {
      expect(again.appliedMigrations).toEqual(['99990101000000_guild_default']);
      expect(await ratePoem(again, { poemId: poem.id, userId: 'u2', stars: 2 })).toEqual({ average: 3, count: 2 });
      await again.prisma.poem.delete({ where: { id: poem.id } }); // the rebuilt table still cascades
      expect(await counts(again)).toEqual({ poems: 0, ratings: 0 });
    } finally {
      await again.close();
    }
  });

  it('turns on WAL, a busy timeout and foreign keys', async () => {
    const db = await openDatabase(freshUrl(), { busyTimeoutMs: 3000 });
    try {
      const [mode] = await db.prisma.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
      expect(mode?.journal_mode).toBe('wal');
      const [busy] = await db.prisma.$queryRawUnsafe<{ timeout: bigint | number }[]>('PRAGMA busy_timeout');
      expect(Number(busy?.timeout)).toBe(3000);
      const [fk] = await db.prisma.$queryRawUnsafe<{ foreign_keys: bigint | number }[]>('PRAGMA foreign_keys');
      expect(Number(fk?.foreign_keys)).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('refuses a database server URL with a clear message, creating nothing and naming no credential', async () => {
    const cwd = process.cwd();
    const url = 'mysql://bob:s3cret@db.example:3306/tangshi';
    const refused = await openDatabase(url).then(
      () => null,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/DATABASE_URL names a mysql server \(mysql:\/\/\*\*\*@db\.example:3306\/tangshi\); this bot stores its data in SQLite/);
    expect(refused?.message).not.toContain('s3cret');
    expect(refused?.message).not.toContain('bob');
    expect(existsSync(join(cwd, 'mysql:'))).toBe(false);
  });

  it('refuses an in-memory url with a clear message', async () => {
    await expect(openDatabase('file::memory:')).rejects.toThrow(/must name a SQLite file/);
  });
});

describe(`poems and ratings (${provider})`, () => {
  let db: Database;
  let url: string;
  beforeAll(async () => {
    url = await freshDatabaseUrl();
    db = await openDatabase(url);
  });
  afterAll(async () => {
    await db.close();
  });

  it('records a poem, links its message, finds it by message id', async () => {
    const poem = await recordPoem(db, poemInput({ promptKind: 'none', promptText: '' }));
    expect(poem).toMatchObject({ promptKind: 'none', promptText: '', messageId: null, userId: 'author-1' });
    expect(poem.createdAt).toBeInstanceOf(Date);
    expect(await setPoemMessage(db, poem.id, '1234567890')).toBe(true);
    expect((await poemByMessage(db, '1234567890'))?.id).toBe(poem.id);
    expect(await poemByMessage(db, '999')).toBeNull();
    expect(await setPoemMessage(db, 987654, '1')).toBe(false);
  });

  it('stores poems asked for at once in one batch, each caller getting its own row, and links their messages', async () => {
    const inputs = Array.from({ length: 300 }, (_, k) => poemInput({ userId: `burst-${k}`, text: `第${k}首` })); // more than one batch (256)
    const bad = expect(recordPoem(db, poemInput({ userId: '' }))).rejects.toBeInstanceOf(InvalidInputError); // a bad one in the same turn fails alone
    const poems = await Promise.all(inputs.map((input) => recordPoem(db, input)));
    await bad;
    expect(poems.map((p) => [p.userId, p.text])).toEqual(inputs.map((i) => [i.userId, i.text]));
    expect(new Set(poems.map((p) => p.id)).size).toBe(300);
    // each row as the Prisma client reads it back: the same values and types (id, createdAt, kind's default)
    for (const k of [0, 299]) expect(await poemById(db, poems[k]!.id)).toEqual(poems[k]);
    expect(poems[0]).toMatchObject({ kind: 'poem', messageId: null });
    const linked = await Promise.all([...poems.map((p, k) => setPoemMessage(db, p.id, `burst-message-${k}`)), setPoemMessage(db, 987655, 'nowhere')]);
    expect(linked).toEqual([...poems.map(() => true), false]);
    for (const k of [0, 255, 256, 299]) expect((await poemByMessage(db, `burst-message-${k}`))?.userId).toBe(`burst-${k}`);
    expect(await poemByMessage(db, 'nowhere')).toBeNull();
  });

  it('rejects a malformed poem with a message naming the field', async () => {
    await expect(recordPoem(db, poemInput({ promptKind: 'none', promptText: '月' }))).rejects.toThrow(/promptText: must be empty/);
    await expect(recordPoem(db, poemInput({ form: 'sonnet' as never }))).rejects.toThrow(/recordPoem: form/);
    await expect(recordPoem(db, poemInput({ userId: '' }))).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('stores one rating per user; clicking again changes it', async () => {
    const poem = await recordPoem(db, poemInput());
    expect(await ratePoem(db, { poemId: poem.id, userId: 'u1', stars: 2 })).toEqual({ average: 2, count: 1 });
    expect(await ratePoem(db, { poemId: poem.id, userId: 'u1', stars: 5 })).toEqual({ average: 5, count: 1 });
    const stored = await db.prisma.rating.findMany({ where: { poemId: poem.id } });
    expect(stored).toHaveLength(1);
    expect(stored[0]?.stars).toBe(5);
    expect(await ratePoem(db, { poemId: poem.id, userId: 'u2', stars: 2 })).toEqual({ average: 3.5, count: 2 });
  });

  it('loses nothing when 50 users rate at once', async () => {
    const poem = await recordPoem(db, poemInput());
    const stars = Array.from({ length: 50 }, (_, i) => (i % 5) + 1); // ten of each: average 3
    const results = await Promise.all(stars.map((s, i) => ratePoem(db, { poemId: poem.id, userId: `user-${i}`, stars: s })));
    expect(results.every((r) => r !== null && r.count >= 1 && r.count <= 50)).toBe(true);
    const final = await ratePoem(db, { poemId: poem.id, userId: 'user-0', stars: 1 }); // same stars: a no-op change
    expect(final).toEqual({ average: 3, count: 50 });
    expect(await db.prisma.rating.count({ where: { poemId: poem.id } })).toBe(50);
  });

  it('keeps one rating per user when the same user clicks many times at once, from two connections', async () => {
    const poem = await recordPoem(db, poemInput());
    const other = await openDatabase(url);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => ratePoem(i % 2 ? other : db, { poemId: poem.id, userId: 'clicker', stars: (i % 5) + 1 })));
      expect(await db.prisma.rating.count({ where: { poemId: poem.id } })).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('answers null for a poem that does not exist, and stores nothing', async () => {
    const before = await counts(db);
    expect(await ratePoem(db, { poemId: 424242, userId: 'u1', stars: 3 })).toBeNull();
    expect(await counts(db)).toEqual(before);
  });

  it('rejects stars out of range with a clear error', async () => {
    const poem = await recordPoem(db, poemInput());
    for (const stars of [0, 6, 2.5, -1, Number.NaN]) {
      await expect(ratePoem(db, { poemId: poem.id, userId: 'u1', stars })).rejects.toThrow(InvalidInputError);
    }
    await expect(ratePoem(db, { poemId: poem.id, userId: 'u1', stars: 6 })).rejects.toThrow('ratePoem: stars: must be from 1 to 5');
    await expect(ratePoem(db, { poemId: poem.id, userId: 'u1', stars: '5' as never })).rejects.toThrow(/stars: must be a number/);
    expect(await db.prisma.rating.count({ where: { poemId: poem.id } })).toBe(0);
  });

  it('deletes a poem’s ratings with the poem', async () => {
    const poem = await recordPoem(db, poemInput());
    await ratePoem(db, { poemId: poem.id, userId: 'u1', stars: 4 });
    await db.prisma.poem.delete({ where: { id: poem.id } });
    expect(await db.prisma.rating.count({ where: { poemId: poem.id } })).toBe(0);
  });
});

describe(`topPoems and counts (${provider})`, () => {
  let db: Database;
  const now = new Date('2025-06-15T12:00:00Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000);
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    db = await openDatabase(await freshDatabaseUrl());
    // name → [hours before `now`, guild, stars given]
    const plan: Record<string, [number, string, number[]]> = {
      a: [1, 'g1', [5, 5]], // 5.0 × 2
      b: [2, 'g1', [5]], // 5.0 × 1
      c: [3, 'g2', [4, 4, 4]], // 4.0 × 3
      d: [4, 'g1', [4, 5, 3]], // 4.0 × 3, same as c: the older poem (c) first
      e: [5, 'g1', [1]], // 1.0 × 1
      old3d: [72, 'g1', [5, 5, 5]], // this week, not today
      old30d: [720, 'g1', [5, 5, 5, 5]], // only in "all"
      future: [-2, 'g1', [5, 5, 5, 5, 5]], // after `now`: not in day or week
      unrated: [1, 'g1', []],
    };
    for (const [name, [h, guildId, stars]] of Object.entries(plan)) {
      const poem = await recordPoem(db, poemInput({ guildId, text: `${name}。` }));
      await db.prisma.poem.update({ where: { id: poem.id }, data: { createdAt: hoursAgo(h) } });
      ids[name] = poem.id;
      for (const [k, s] of stars.entries()) await ratePoem(db, { poemId: poem.id, userId: `r${k}`, stars: s });
    }
  });
  afterAll(async () => {
    await db.close();
  });

  const names = (poems: { id: number }[]) => poems.map((p) => Object.keys(ids).find((k) => ids[k] === p.id));

  it('orders by average, then number of ratings, then age', async () => {
    const day = await topPoems(db, { period: 'day', now });
    expect(names(day)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(day[0]).toMatchObject({ average: 5, count: 2, promptKind: 'start', promptText: '月', userId: 'author-1', text: 'a。' });
    expect(day[3]).toMatchObject({ average: 4, count: 3 });
  });

  it('filters by period (rolling window ending at now), guild and limit', async () => {
    expect(names(await topPoems(db, { period: 'week', now }))).toEqual(['old3d', 'a', 'b', 'c', 'd', 'e']);
    expect(names(await topPoems(db, { period: 'all', now }))).toEqual(['future', 'old30d', 'old3d', 'a', 'b', 'c', 'd', 'e']);
    expect(names(await topPoems(db, { period: 'day', now, guildId: 'g2' }))).toEqual(['c']);
    expect(names(await topPoems(db, { period: 'all', now, limit: 2 }))).toEqual(['future', 'old30d']);
    expect(await topPoems(db, { period: 'day', now: new Date('2000-01-01T00:00:00Z') })).toEqual([]);
    await expect(topPoems(db, { period: 'year' as never })).rejects.toThrow(/topPoems: period/);
  });

  it('counts poems and ratings', async () => {
    expect(await counts(db)).toEqual({ poems: 9, ratings: 2 + 1 + 3 + 3 + 1 + 3 + 4 + 5 });
  });

  it('keeps couplets apart: /top lists poems or couplets, and a couplet must have a couplet form', async () => {
    const couplet = await recordPoem(db, poemInput({ kind: 'couplet', form: 'couplet5', promptText: '白日依山盡', text: '白日依山盡，黃河入海流。' }));
    await ratePoem(db, { poemId: couplet.id, userId: 'r0', stars: 5 });
    await db.prisma.poem.update({ where: { id: couplet.id }, data: { createdAt: hoursAgo(1) } });
    expect((await topPoems(db, { period: 'day', now, kind: 'couplet' })).map((p) => p.text)).toEqual(['白日依山盡，黃河入海流。']);
    expect(names(await topPoems(db, { period: 'day', now }))).toEqual(['a', 'b', 'c', 'd', 'e']); // poems by default, no couplet
    await expect(recordPoem(db, poemInput({ kind: 'couplet', form: 'wujue' }))).rejects.toThrow(/"wujue" is not a form of a couplet/);
    await expect(recordPoem(db, poemInput({ form: 'couplet7' }))).rejects.toThrow(/"couplet7" is not a form of a poem/);
    await db.prisma.poem.delete({ where: { id: couplet.id } });
  });
});

describe.skipIf(provider !== 'postgresql')('openDatabase (PostgreSQL)', () => {
  /** an empty database on the test server, not migrated */
  async function emptyDatabase(): Promise<string> {
    const admin = postgresAdminUrl()!;
    const name = `tangshi_empty_${Date.now()}_${++n}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    return admin.replace(/\/postgres(\?|$)/, `/${name}$1`);
  }

  it('never migrates at start: a database without the migrations is refused, naming them and what to run', async () => {
    const url = await emptyDatabase();
    const refused = await openDatabase(url).then(
      () => null,
      (e: Error) => e,
    );
    expect(refused).toBeInstanceOf(InvalidInputError);
    const all = readdirSync(PG_MIGRATIONS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(refused!.message).toContain(`lacks ${all.length} migration(s) (${all.join(', ')}): run \`npm run db:migrate\``);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query(`SELECT to_regclass('"Poem"') AS t`)).rows[0].t).toBeNull(); // nothing was created
    } finally {
      await client.end();
    }
  });

  it('applies its migrations once, as a release step; two migrators at once apply each migration once', async () => {
    const url = await emptyDatabase();
    const [a, b] = await Promise.all([applyPgMigrations(url), applyPgMigrations(url)]);
    expect([...a, ...b].sort()).toEqual(
      readdirSync(PG_MIGRATIONS_DIR, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort(),
    );
    expect(await applyPgMigrations(url)).toEqual([]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect(await pendingPgMigrations(client)).toEqual([]);
    } finally {
      await client.end();
    }
    const db = await openDatabase(url);
    try {
      expect(db.provider).toBe('postgresql');
      if (process.env.PGPASSWORD) expect(db.file).not.toContain(process.env.PGPASSWORD); // (pg_virtualenv sets one)
    } finally {
      await db.close();
    }
  });
});

const REBUILD_POEM_SQL = `-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Poem" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL DEFAULT 'poem',
    "guildId" TEXT NOT NULL DEFAULT 'dm',
    "channelId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "promptKind" TEXT NOT NULL,
    "promptText" TEXT NOT NULL DEFAULT '',
    "form" TEXT NOT NULL,
    "script" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "checkpointVersion" TEXT NOT NULL,
    "messageId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "seed" INTEGER,
    "options" TEXT NOT NULL DEFAULT '{}',
    "candidates" INTEGER NOT NULL DEFAULT 1,
    "tasteVersion" TEXT,
    "replacesPoemId" INTEGER
);
INSERT INTO "new_Poem" ("candidates", "channelId", "checkpointVersion", "createdAt", "form", "guildId", "id", "kind", "messageId", "options", "promptKind", "promptText", "replacesPoemId", "script", "seed", "tasteVersion", "text", "userId") SELECT "candidates", "channelId", "checkpointVersion", "createdAt", "form", "guildId", "id", "kind", "messageId", "options", "promptKind", "promptText", "replacesPoemId", "script", "seed", "tasteVersion", "text", "userId" FROM "Poem";
DROP TABLE "Poem";
ALTER TABLE "new_Poem" RENAME TO "Poem";
CREATE UNIQUE INDEX "Poem_messageId_key" ON "Poem"("messageId");
CREATE INDEX "Poem_createdAt_idx" ON "Poem"("createdAt");
CREATE INDEX "Poem_guildId_createdAt_idx" ON "Poem"("guildId", "createdAt");
CREATE INDEX "Poem_kind_createdAt_idx" ON "Poem"("kind", "createdAt");
CREATE INDEX "Poem_replacesPoemId_idx" ON "Poem"("replacesPoemId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`;
