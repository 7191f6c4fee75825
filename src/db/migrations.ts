/**
 * Migrations, in-process: each prisma/migrations/<name>/migration.sql runs in one SQLite transaction
 * together with its row in `_prisma_migrations`, written exactly as `prisma migrate deploy` writes it (same
 * table, same sha-256 checksum), so the Prisma CLI (`migrate status`, `migrate deploy`) and this code agree
 * on what is applied. Doing it in-process rather than spawning the CLI means: no Prisma CLI, config file or
 * engine workaround needed at run time, no second Node start per open, a migration that fails leaves
 * nothing half-applied (SQLite DDL is transactional), and two processes that start at once serialise on
 * the write lock instead of racing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

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

/** the migration folders of `dir` the database file has not had yet (all of them when it does not exist) */
export function pendingMigrations(file: string, dir: string): string[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
  if (!existsSync(file)) return names;
  const sqlite = new Sqlite(file, { readonly: true });
  try {
    const table = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
    if (!table) return names;
    const done = new Set(
      sqlite
        .prepare<[], { migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
        .all()
        .map((r) => r.migration_name),
    );
    return names.filter((n) => !done.has(n));
  } finally {
    sqlite.close();
  }
}

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
