/**
 * The connection: SQLite through Prisma (the Rust-free client over the better-sqlite3 driver adapter), WAL,
 * foreign keys, a busy timeout, pending migrations applied first (migrations.ts); and retryWhenBusy for
 * writes that must not be lost to a briefly locked file.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from '../generated/prisma/client.js';
import { InvalidInputError } from './inputs.js';
import { applyMigrations, MIGRATIONS_DIR } from './migrations.js';

export const DEFAULT_DATABASE_URL = 'file:./data/tangshi.db';

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

/** A URL as it may be shown: its scheme, host and path, never a user name or password. */
export function redactedUrl(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)[^@/]*@/i, '$1***@');
}

/**
 * 'file:./data/x.db' or a plain path → absolute path of the file. A URL of a database server
 * (postgresql://…) is refused with a message that names it without its credentials: it is no file name.
 */
export function sqliteFile(url: string): string {
  const server = /^([a-z][\w+.-]*):\/\//i.exec(url);
  if (server && server[1]!.toLowerCase() !== 'file') {
    throw new InvalidInputError(
      `DATABASE_URL names a ${server[1]} server (${redactedUrl(url)}), but this bot stores its data in SQLite: set DATABASE_URL to a file, e.g. ${DEFAULT_DATABASE_URL}`,
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
