/**
 * The two schemas (SQLite: prisma/schema.prisma; PostgreSQL: prisma/postgresql/schema.prisma) define the same
 * models, and both migration histories build them: the tables and columns each history leaves in a fresh
 * database are the schema's, on SQLite here and on PostgreSQL where a server is named.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import Sqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, sqliteFile } from '../src/db/db.js';
import { freshDatabaseUrl, postgresAdminUrl } from './support/databases.js';

/** the models and enums of a schema file, comments and the generator/datasource blocks left out */
function models(path: string): string {
  return readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')
    .replace(/\/\/.*$/gm, '')
    .replace(/(generator|datasource) \w+ \{[^}]*\}/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .trim();
}

/** table → its scalar columns (and whether each may be null), as the schema declares them */
function declared(schema: string): Map<string, Map<string, boolean>> {
  const tables = new Map<string, Map<string, boolean>>();
  for (const [, name, body] of schema.matchAll(/model (\w+) \{\n([\s\S]*?)\n\}/g)) {
    const columns = new Map<string, boolean>();
    for (const line of body!.split('\n')) {
      const m = /^(\w+) (\w+)(\??)(\[\])?/.exec(line.trim());
      if (!m || m[4] || /@relation/.test(line) || !/^(Int|String|Float|Boolean|DateTime|PromptKind)$/.test(m[2]!)) continue;
      columns.set(m[1]!, m[3] === '?');
    }
    tables.set(name!, columns);
  }
  return tables;
}

const sorted = (t: Map<string, Map<string, boolean>>) => [...t].map(([k, v]) => [k, [...v].sort()] as const).sort((a, b) => a[0].localeCompare(b[0]));

describe('the SQLite and PostgreSQL schemas', () => {
  const sqliteSchema = models('prisma/schema.prisma');
  const pgSchema = models('prisma/postgresql/schema.prisma');

  it('define the same models and enums', () => {
    expect(pgSchema).toBe(sqliteSchema);
    expect(sqliteSchema).toMatch(/model Poem \{/);
  });

  it('the SQLite history builds them', async () => {
    const url = await freshDatabaseUrl('sqlite');
    await (await openDatabase(url)).close(); // applies the history
    const sqlite = new Sqlite(sqliteFile(url), { readonly: true });
    try {
      const built = new Map<string, Map<string, boolean>>();
      for (const table of declared(sqliteSchema).keys()) {
        const columns = sqlite.prepare<[], { name: string; notnull: number; pk: number }>(`PRAGMA table_info("${table}")`).all();
        built.set(table, new Map(columns.map((c) => [c.name, c.notnull === 0 && c.pk === 0])));
      }
      expect(sorted(built)).toEqual(sorted(declared(sqliteSchema)));
    } finally {
      sqlite.close();
    }
  });

  it.skipIf(!postgresAdminUrl())('the PostgreSQL history builds them', async () => {
    const url = await freshDatabaseUrl('postgresql'); // migrated as a release would
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const built = new Map<string, Map<string, boolean>>();
      for (const table of declared(pgSchema).keys()) {
        const { rows } = await client.query(
          "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
          [table],
        );
        built.set(table, new Map(rows.map((r) => [r.column_name as string, r.is_nullable === 'YES'])));
      }
      expect(sorted(built)).toEqual(sorted(declared(pgSchema)));
    } finally {
      await client.end();
    }
  });
});
