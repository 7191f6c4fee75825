/**
 * The bot's data: poems it wrote and the stars people gave them, in SQLite through Prisma (the Rust-free
 * client over the better-sqlite3 driver adapter). Schema and migrations: prisma/. PostgreSQL: prisma/README.md.
 *
 * openDatabase() applies pending migrations itself before it connects: each prisma/migrations/<name>/
 * migration.sql runs in one SQLite transaction together with its row in `_prisma_migrations`, written
 * exactly as `prisma migrate deploy` writes it (same table, same sha-256 checksum), so the Prisma CLI
 * (`migrate status`, `migrate deploy`) and this code agree on what is applied. Doing it in-process rather
 * than spawning the CLI means: no Prisma CLI, config file or engine workaround needed at run time, no
 * second Node start per open, a migration that fails leaves nothing half-applied (SQLite DDL is
 * transactional), and two processes that start at once serialise on the write lock instead of racing.
 *
 * Every function that takes input from outside (Discord) validates it with zod and throws
 * InvalidInputError, whose message names the field and the rule.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import Sqlite from 'better-sqlite3';
import { z } from 'zod';
import { Prisma, PrismaClient, type Poem } from '../generated/prisma/client.js';
import { COUPLET_FORMS, FORMS, SCRIPTS } from '../shared/verse.js';

export type { Poem, Rating, PromptKind } from '../generated/prisma/client.js';

export const DEFAULT_DATABASE_URL = 'file:./data/tangshi.db';
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

export type Database = {
  prisma: PrismaClient;
  /** absolute path of the SQLite file */
  file: string;
  /** names of the migrations this open applied (empty when the schema was up to date) */
  appliedMigrations: string[];
  close(): Promise<void>;
};

export type OpenOptions = {
  /** where the migration folders are (default: prisma/migrations of this project) */
  migrationsDir?: string;
  /** how long a statement waits for another connection's write lock before SQLITE_BUSY (default 5000 ms) */
  busyTimeoutMs?: number;
};

/** Input that breaks a rule (stars out of range, an empty id…). The message says which and why. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly issues: z.ZodIssue[] = [],
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

function parse<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new InvalidInputError(`${what}: ${details}`, result.error.issues);
}

/** 'file:./data/x.db' or a plain path → absolute path of the file. */
export function sqliteFile(url: string): string {
  const path = url.replace(/^file:/, '').replace(/\?.*$/, '');
  if (path === '' || path === ':memory:') {
    throw new InvalidInputError(`DATABASE_URL must name a SQLite file (got "${url}"); e.g. ${DEFAULT_DATABASE_URL}`);
  }
  return resolve(path);
}

/**
 * Opens (creating it and its directory when needed) the SQLite database at `url`, applies pending
 * migrations, and connects Prisma through better-sqlite3 with WAL journaling, foreign keys on and a
 * busy timeout.
 */
export async function openDatabase(url: string = DEFAULT_DATABASE_URL, options: OpenOptions = {}): Promise<Database> {
  const file = sqliteFile(url);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  mkdirSync(dirname(file), { recursive: true });
  const appliedMigrations = applyMigrations(file, options.migrationsDir ?? MIGRATIONS_DIR, busyTimeoutMs);

  const adapter = new PrismaBetterSQLite3({ url: file, timeout: busyTimeoutMs });
  const prisma = new PrismaClient({ adapter });
  try {
    await prisma.$connect();
    // WAL is stored in the file (applyMigrations set it already); busy_timeout and foreign_keys are per
    // connection. Pragmas that answer with a row go through $queryRawUnsafe.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$queryRawUnsafe(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    await prisma.$executeRawUnsafe('PRAGMA synchronous = NORMAL'); // safe with WAL: no corruption, at worst the last commits lost on power loss
    await prisma.$executeRawUnsafe('PRAGMA foreign_keys = ON'); // Rating → Poem cascade
  } catch (e) {
    await prisma.$disconnect().catch(() => {});
    throw e;
  }
  let closed: Promise<void> | undefined;
  return { prisma, file, appliedMigrations, close: () => (closed ??= prisma.$disconnect()) };
}

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

type MigrationRow = { finished_at: string | null; rolled_back_at: string | null };

/** Prisma's timestamp format in `_prisma_migrations` on SQLite. */
const prismaNow = () => new Date().toISOString().replace('Z', '+00:00');

/**
 * Applies, in name order, every migration folder of `dir` not yet recorded as applied in the database's
 * `_prisma_migrations`, each with its record in one IMMEDIATE transaction. Returns the names applied.
 */
export function applyMigrations(file: string, dir: string, busyTimeoutMs = 5000): string[] {
  if (!existsSync(dir)) throw new Error(`migrations folder not found: ${dir}`);
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
  const sqlite = new Sqlite(file, { timeout: busyTimeoutMs });
  const applied: string[] = [];
  try {
    sqlite.pragma('journal_mode = WAL');
    // Table rebuilds in Prisma's SQLite migrations drop and re-create tables; with foreign keys on, dropping
    // Poem would cascade-delete every Rating. Prisma's scripts turn them off with a PRAGMA, but that PRAGMA
    // does nothing inside a transaction, so they are off for this whole connection and checked before commit.
    sqlite.pragma('foreign_keys = OFF');
    sqlite.exec(MIGRATIONS_TABLE);
    const rowsOf = sqlite.prepare<[string], MigrationRow>('SELECT finished_at, rolled_back_at FROM "_prisma_migrations" WHERE migration_name = ?');
    const record = sqlite.prepare(
      `INSERT INTO "_prisma_migrations"
         (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
    );
    for (const name of names) {
      const bytes = readFileSync(join(dir, name, 'migration.sql'));
      const apply = sqlite.transaction(() => {
        // Read inside the write transaction: another process may have applied it a moment ago.
        const rows = rowsOf.all(name).filter((r) => r.rolled_back_at === null);
        if (rows.some((r) => r.finished_at !== null)) return false;
        if (rows.length > 0) {
          throw new Error(
            `migration ${name} is recorded as started but not finished (a failed \`prisma migrate deploy\`?). ` +
              'Fix the database, then mark it with `npx prisma migrate resolve --applied|--rolled-back ' +
              name +
              '`.',
          );
        }
        const startedAt = prismaNow();
        sqlite.exec(bytes.toString('utf8'));
        const violations = sqlite.pragma('foreign_key_check') as unknown[];
        if (violations.length > 0) throw new Error(`migration ${name} leaves ${violations.length} rows violating foreign keys`);
        record.run(randomUUID(), createHash('sha256').update(bytes).digest('hex'), prismaNow(), name, startedAt);
        return true;
      });
      try {
        if (apply.immediate()) applied.push(name);
      } catch (e) {
        throw new Error(`applying migration ${name} to ${file} failed (nothing of it was kept): ${(e as Error).message}`, { cause: e });
      }
    }
  } finally {
    sqlite.close();
  }
  return applied;
}

// ---------------------------------------------------------------------------------------------- input rules

const DiscordId = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');
const PoemId = z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').positive('must be positive');
const Stars = z
  .number({ required_error: 'is required', invalid_type_error: 'must be a number' })
  .int('must be a whole number from 1 to 5')
  .min(1, 'must be from 1 to 5')
  .max(5, 'must be from 1 to 5');

export const PoemInput = z
  .object({
    guildId: DiscordId,
    channelId: DiscordId,
    userId: DiscordId,
    kind: z.enum(['poem', 'couplet']).default('poem'),
    promptKind: z.enum(['start', 'acrostic', 'none']),
    promptText: z.string().max(64).default(''),
    form: z.enum([...FORMS, ...COUPLET_FORMS]),
    script: z.enum(SCRIPTS),
    text: z.string().min(1, 'must not be empty').max(2000),
    checkpointVersion: z.string().min(1, 'must not be empty').max(200),
    messageId: DiscordId.nullish(),
  })
  .superRefine((p, ctx) => {
    if (p.promptKind === 'none' && p.promptText !== '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['promptText'], message: 'must be empty when promptKind is "none"' });
    }
    if (p.promptKind !== 'none' && p.promptText === '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['promptText'], message: `must not be empty when promptKind is "${p.promptKind}"` });
    }
    if ((p.kind === 'couplet') !== p.form.startsWith('couplet')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['form'], message: `"${p.form}" is not a form of a ${p.kind}` });
    }
  });
export type PoemInput = z.input<typeof PoemInput>;

export const RatingInput = z.object({ poemId: PoemId, userId: DiscordId, stars: Stars });
export type RatingInput = z.input<typeof RatingInput>;

export const TopQuery = z.object({
  period: z.enum(['day', 'week', 'all']),
  kind: z.enum(['poem', 'couplet']).default('poem'),
  guildId: DiscordId.optional(),
  limit: z.number().int().min(1).max(100).default(10),
  now: z.date().default(() => new Date()),
});
export type TopQuery = z.input<typeof TopQuery>;

// ---------------------------------------------------------------------------------------------- queries

/** Stores a poem that was just written (messageId usually comes later, through setPoemMessage). */
export async function recordPoem(db: Database, input: PoemInput): Promise<Poem> {
  const data = parse(PoemInput, input, 'recordPoem');
  return db.prisma.poem.create({ data: { ...data, messageId: data.messageId ?? null } });
}

/** Links a poem to the Discord message that shows it. False when the poem does not exist. */
export async function setPoemMessage(db: Database, poemId: number, messageId: string): Promise<boolean> {
  const id = parse(PoemId, poemId, 'setPoemMessage poemId');
  const message = parse(DiscordId, messageId, 'setPoemMessage messageId');
  const { count } = await db.prisma.poem.updateMany({ where: { id }, data: { messageId: message } });
  return count === 1;
}

export async function poemById(db: Database, poemId: number): Promise<Poem | null> {
  const id = parse(PoemId, poemId, 'poemById poemId');
  return db.prisma.poem.findUnique({ where: { id } });
}

export async function poemByMessage(db: Database, messageId: string): Promise<Poem | null> {
  const message = parse(DiscordId, messageId, 'poemByMessage messageId');
  return db.prisma.poem.findUnique({ where: { messageId: message } });
}

export type RatingSummary = { average: number; count: number };

/**
 * Stores `userId`'s stars for a poem: one rating per user and poem, a second click changes it. Returns the
 * poem's new average and number of ratings, or null when the poem does not exist. The write is one
 * INSERT … ON CONFLICT DO UPDATE statement, so concurrent clicks (from one process or several) never
 * lose a rating and never create two for one user.
 */
export async function ratePoem(db: Database, input: RatingInput): Promise<RatingSummary | null> {
  const { poemId, userId, stars } = parse(RatingInput, input, 'ratePoem');
  try {
    await db.prisma.rating.upsert({
      where: { poemId_userId: { poemId, userId } },
      create: { poemId, userId, stars },
      update: { stars },
    });
  } catch (e) {
    // P2003: the foreign key to Poem failed, i.e. the poem does not exist (or was deleted meanwhile).
    if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2003') return null;
    throw e;
  }
  return ratingSummary(db, poemId);
}

export async function ratingSummary(db: Database, poemId: number): Promise<RatingSummary> {
  const id = parse(PoemId, poemId, 'ratingSummary poemId');
  const agg = await db.prisma.rating.aggregate({ where: { poemId: id }, _avg: { stars: true }, _count: { _all: true } });
  return { average: agg._avg.stars ?? 0, count: agg._count._all };
}

export type TopPoem = Poem & RatingSummary;

const PERIOD_MS = { day: 24 * 3600 * 1000, week: 7 * 24 * 3600 * 1000 } as const;

/**
 * The best-rated poems: highest average first, then most ratings, then the older poem. `period` is a
 * rolling window ending at `now` (day: the last 24 hours, week: the last 7 days) over the poems' creation
 * time; `all` has no window. Poems nobody rated are not listed. `guildId` keeps one server's poems.
 */
export async function topPoems(db: Database, query: TopQuery): Promise<TopPoem[]> {
  const { period, kind, guildId, limit, now } = parse(TopQuery, query, 'topPoems');
  const poem: Prisma.PoemWhereInput = { kind };
  if (period !== 'all') poem.createdAt = { gt: new Date(now.getTime() - PERIOD_MS[period]), lte: now };
  if (guildId !== undefined) poem.guildId = guildId;
  const groups = await db.prisma.rating.groupBy({
    by: ['poemId'],
    where: { poem },
    _avg: { stars: true },
    _count: { stars: true },
    orderBy: [{ _avg: { stars: 'desc' } }, { _count: { stars: 'desc' } }, { poemId: 'asc' }],
    take: limit,
  });
  const poems = await db.prisma.poem.findMany({ where: { id: { in: groups.map((g) => g.poemId) } } });
  const byId = new Map(poems.map((p) => [p.id, p]));
  return groups.flatMap((g) => {
    const p = byId.get(g.poemId);
    return p ? [{ ...p, average: g._avg.stars ?? 0, count: g._count.stars }] : [];
  });
}

/** How many poems and ratings are stored (for /model). */
export async function counts(db: Database): Promise<{ poems: number; ratings: number }> {
  const [poems, ratings] = await Promise.all([db.prisma.poem.count(), db.prisma.rating.count()]);
  return { poems, ratings };
}

// ---------------------------------------------------------------------------------------------- busy database

// SQLite's own words, and what Prisma's driver adapter makes of a busy timeout (P1008 "Operation has timed out")
const BUSY = /SQLITE_BUSY|database is locked|Operation has timed out/i;

/**
 * Runs `work`, again after a pause when SQLite says the database is locked (another process holds the write
 * lock beyond the busy timeout), up to `attempts` times with doubling pauses. Other errors pass through.
 * The learning loop writes through this, so a briefly locked database delays a run's record, never loses it.
 */
export async function retryWhenBusy<T>(work: () => Promise<T>, opts: { attempts?: number; firstDelayMs?: number } = {}): Promise<T> {
  const attempts = opts.attempts ?? 6;
  let delay = opts.firstDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      const busy = (e as { code?: string })?.code === 'P1008' || BUSY.test(String((e as Error)?.message ?? e));
      if (attempt >= attempts || !busy) throw e;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}
