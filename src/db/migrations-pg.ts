/**
 * Migrations on PostgreSQL, applied as a release step (`npm run db:migrate`), never by a bot process at start:
 * with several processes, one runs them and the others only check (pendingPgMigrations). Each
 * prisma/postgresql/migrations/<name>/migration.sql runs in one transaction together with its row in
 * `_prisma_migrations`, written as `prisma migrate deploy` writes it (same table, same sha-256 checksum), under
 * an advisory lock, so two migrators serialise instead of racing. In-process, because Prisma 6.19's Migrate
 * cannot read PostgreSQL's catalogue through the pg driver adapter (prisma/orm#27403) and its Rust engine is
 * not installed here.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/postgresql/migrations', import.meta.url));

// Prisma's own definition of the table on PostgreSQL
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
/** any number, the same in every migrator: pg_advisory_xact_lock's key */
const LOCK = 727_001;

function migrationNames(dir: string): string[] {
  if (!existsSync(dir)) throw new Error(`migrations folder not found: ${dir}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
}

/** the migrations of `dir` the database has not had yet (all of them when it has no `_prisma_migrations`) */
export async function pendingPgMigrations(client: pg.ClientBase, dir = PG_MIGRATIONS_DIR): Promise<string[]> {
  const exists = await client.query(`SELECT to_regclass('"_prisma_migrations"') AS t`);
  const done = new Set<string>();
  if (exists.rows[0]?.t) {
    const rows = await client.query('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL');
    for (const r of rows.rows) done.add(r.migration_name as string);
  }
  return migrationNames(dir).filter((name) => !done.has(name));
}

/** Applies, in name order, every migration the database has not had. Returns the names applied. */
export async function applyPgMigrations(connectionString: string, dir = PG_MIGRATIONS_DIR): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied: string[] = [];
  try {
    for (const name of migrationNames(dir)) {
      const bytes = readFileSync(join(dir, name, 'migration.sql'));
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
        await client.query(MIGRATIONS_TABLE);
        // read under the lock: another migrator may have applied it a moment ago
        const rows = await client.query('SELECT finished_at FROM "_prisma_migrations" WHERE migration_name = $1 AND rolled_back_at IS NULL', [name]);
        if (rows.rows.some((r) => r.finished_at !== null)) {
          await client.query('COMMIT');
          continue;
        }
        if (rows.rows.length > 0)
          throw new Error(`migration ${name} is recorded as started but not finished: fix the database, then mark it applied or rolled back`);
        const startedAt = new Date();
        await client.query(bytes.toString('utf8'));
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), createHash('sha256').update(bytes).digest('hex'), name, startedAt],
        );
        await client.query('COMMIT');
        applied.push(name);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`applying migration ${name} failed (nothing of it was kept): ${(e as Error).message}`, { cause: e });
      }
    }
  } finally {
    await client.end();
  }
  return applied;
}
