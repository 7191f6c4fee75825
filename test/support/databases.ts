/**
 * The databases tests run on: a fresh SQLite file, or a fresh PostgreSQL database on the server the
 * environment names (pg_virtualenv's PGHOST/PGPORT/PGUSER/PGPASSWORD, as `.ci/run` starts it; or
 * TANGSHI_TEST_POSTGRES=postgresql://…/postgres), migrated as a release would (applyPgMigrations).
 * TANGSHI_TEST_DATABASE=postgresql makes startTestBot and the data-layer tests use PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { applyPgMigrations } from '../../src/db/migrations-pg.js';
import type { Provider } from '../../src/db/db.js';
import { tempDir } from '../helpers.js';

/** the server's maintenance database, or undefined when no PostgreSQL server is named */
export function postgresAdminUrl(): string | undefined {
  if (process.env.TANGSHI_TEST_POSTGRES) return process.env.TANGSHI_TEST_POSTGRES;
  const { PGHOST, PGPORT, PGUSER, PGPASSWORD } = process.env;
  if (!PGHOST || !PGUSER) return undefined;
  const host = PGHOST.startsWith('/') ? `localhost:${PGPORT ?? 5432}` : `${PGHOST}:${PGPORT ?? 5432}`;
  const auth = PGPASSWORD ? `${encodeURIComponent(PGUSER)}:${encodeURIComponent(PGPASSWORD)}` : encodeURIComponent(PGUSER);
  const socket = PGHOST.startsWith('/') ? `?host=${encodeURIComponent(PGHOST)}` : '';
  return `postgresql://${auth}@${host}/postgres${socket}`;
}

/** the database provider this test run is for */
export function testProvider(): Provider {
  return process.env.TANGSHI_TEST_DATABASE === 'postgresql' ? 'postgresql' : 'sqlite';
}

/** A new, empty database of `provider` (SQLite: the file `file`, created at open; PostgreSQL: migrated): its DATABASE_URL. */
export async function freshDatabaseUrl(provider: Provider = testProvider(), file = join(tempDir('tangshi-db-'), 'bot.db')): Promise<string> {
  if (provider === 'sqlite') return `file:${file}`;
  const admin = postgresAdminUrl();
  if (!admin) throw new Error('TANGSHI_TEST_DATABASE=postgresql, but no PostgreSQL server is named (PGHOST/PGUSER or TANGSHI_TEST_POSTGRES)');
  const name = `tangshi_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = admin.replace(/\/postgres(\?|$)/, `/${name}$1`);
  await applyPgMigrations(url);
  return url;
}
