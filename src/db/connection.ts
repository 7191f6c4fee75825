/**
 * The connection, chosen by DATABASE_URL: a SQLite file (the default: one process) through Prisma's Rust-free
 * client over the better-sqlite3 driver adapter, with WAL, foreign keys, a busy timeout and pending migrations
 * applied first (migrations.ts); or a PostgreSQL server (several processes) over the pg adapter, whose
 * migrations are a release step (migrations-pg.ts) that the bot only checks. Both clients are generated from
 * schemas with the same models (test/schemas.test.ts); the data layer is written against the SQLite one's
 * types. And retryWhenBusy for writes that must not be lost to a briefly locked file or a restarting server.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { PrismaClient as PgPrismaClient } from '../generated/prisma-pg/client.js';
import { InvalidInputError } from './inputs.js';
import { applyMigrations, MIGRATIONS_DIR, pendingMigrations } from './migrations.js';
import { applyPgMigrations, PG_MIGRATIONS_DIR, pendingPgMigrations } from './migrations-pg.js';

export const DEFAULT_DATABASE_URL = 'file:./data/tangshi.db';

export type Provider = 'sqlite' | 'postgresql';

export type Database = {
  prisma: PrismaClient;
  provider: Provider;
  /** absolute path of the SQLite file; on PostgreSQL, the URL without its credentials */
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

/** A URL as it may be shown: its scheme, host and path, never a user name or password. */
export function redactedUrl(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)[^@/]*@/i, '$1***@');
}

/** which database a DATABASE_URL names: postgresql:// (or postgres://) a server, anything else a SQLite file */
export function providerOf(url: string): Provider {
  return /^postgres(ql)?:\/\//i.test(url) ? 'postgresql' : 'sqlite';
}

/**
 * 'file:./data/x.db' or a plain path → absolute path of the file. A URL of another kind of server
 * (mysql://…) is refused with a message that names it without its credentials: it is no file name.
 */
export function sqliteFile(url: string): string {
  const server = /^([a-z][\w+.-]*):\/\//i.exec(url);
  if (server && server[1]!.toLowerCase() !== 'file') {
    throw new InvalidInputError(
      `DATABASE_URL names a ${server[1]} server (${redactedUrl(url)}); this bot stores its data in SQLite (a file, e.g. ${DEFAULT_DATABASE_URL}) or PostgreSQL (postgresql://user:password@host:5432/db)`,
    );
  }
  const path = url.replace(/^file:/, '').replace(/\?.*$/, '');
  if (path === '' || path === ':memory:') {
    throw new InvalidInputError(`DATABASE_URL must name a SQLite file (got "${redactedUrl(url)}"); e.g. ${DEFAULT_DATABASE_URL}`);
  }
  return resolve(path);
}

/**
 * Opens (creating it and its directory when needed) the SQLite database at `url`, applies pending
 * migrations, and connects Prisma through better-sqlite3 with WAL journaling, foreign keys on and a
 * busy timeout.
 */
export async function openDatabase(url: string = DEFAULT_DATABASE_URL, options: OpenOptions = {}): Promise<Database> {
  if (providerOf(url) === 'postgresql') return openPostgres(url);
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
  return { prisma, provider: 'sqlite', file, appliedMigrations, close: () => (closed ??= prisma.$disconnect()) };
}

/**
 * Connects to PostgreSQL, after checking that every migration is applied: a process never migrates at start
 * (several would race); `npm run db:migrate` does it once per release. Says so, with the names, when it is not.
 */
async function openPostgres(url: string): Promise<Database> {
  const shown = redactedUrl(url);
  const check = new pg.Client({ connectionString: url });
  try {
    await check.connect();
    const pending = await pendingPgMigrations(check, PG_MIGRATIONS_DIR);
    if (pending.length > 0) {
      throw new InvalidInputError(
        `the PostgreSQL database ${shown} lacks ${pending.length} migration(s) (${pending.join(', ')}): run \`npm run db:migrate\` with this DATABASE_URL, then start the bot`,
      );
    }
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw new Error(`cannot reach the PostgreSQL database ${shown}: ${String((e as Error).message).replace(url, shown)}`);
  } finally {
    await check.end().catch(() => {});
  }
  // the two clients have the same models and the same API (schemas.test.ts); the data layer types them as one
  const prisma = new PgPrismaClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as PrismaClient;
  await prisma.$connect();
  let closed: Promise<void> | undefined;
  return { prisma, provider: 'postgresql', file: shown, appliedMigrations: [], close: () => (closed ??= prisma.$disconnect()) };
}

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

/**
 * The migrations `url`'s database lacks, applied unless `apply` is false: `npm run db:migrate` (a release step
 * on PostgreSQL) and `npm run db:status`. The database is named without its credentials.
 */
export async function databaseMigrations(
  url: string,
  o: { apply: boolean },
): Promise<{ provider: Provider; database: string; applied: string[]; pending: string[] }> {
  const provider = providerOf(url);
  if (provider === 'sqlite') {
    const file = sqliteFile(url);
    if (!o.apply) return { provider, database: file, applied: [], pending: pendingMigrations(file, MIGRATIONS_DIR) };
    mkdirSync(dirname(file), { recursive: true });
    return { provider, database: file, applied: applyMigrations(file, MIGRATIONS_DIR), pending: [] };
  }
  const database = redactedUrl(url);
  if (o.apply) return { provider, database, applied: await applyPgMigrations(url), pending: [] };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return { provider, database, applied: [], pending: await pendingPgMigrations(client) };
  } finally {
    await client.end();
  }
}
