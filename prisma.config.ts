// Prisma CLI configuration (prisma generate, prisma migrate diff / deploy / status), for whichever database
// DATABASE_URL names: a SQLite file (default file:./data/tangshi.db) through the better-sqlite3 driver adapter,
// or a PostgreSQL server (postgresql://…) through the pg adapter with its own schema and migrations
// (prisma/postgresql/). Either way the CLI runs on the JavaScript engine: no Prisma engine binary is
// downloaded or executed.
import { fileURLToPath } from 'node:url';

import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// Prisma 6's CLI still looks for the Rust query-engine library and schema-engine binary before it runs,
// and downloads them when they are missing (the @prisma/engines install script that would fetch them is
// denied in package.json's allowScripts), although engine 'js' and the client engine never use them.
// Offline, that download fails. Pointing these variables at an existing file skips it; nothing is ever
// loaded or executed from that file.
const placeholder = fileURLToPath(new URL('./prisma/ENGINES.md', import.meta.url));
process.env.PRISMA_QUERY_ENGINE_LIBRARY ??= placeholder;
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= placeholder;

const url = process.env.DATABASE_URL ?? 'file:./data/tangshi.db';
const postgres = /^postgres(ql)?:\/\//i.test(url);

export default defineConfig({
  schema: postgres ? 'prisma/postgresql/schema.prisma' : 'prisma/schema.prisma',
  migrations: { path: postgres ? 'prisma/postgresql/migrations' : 'prisma/migrations' },
  engine: 'js',
  experimental: { adapter: true },
  adapter: async () => (postgres ? new PrismaPg({ connectionString: url }) : new PrismaBetterSQLite3({ url })),
});
