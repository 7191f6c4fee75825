// Prisma CLI configuration (prisma generate, prisma migrate diff / deploy / status).
// The CLI runs on the JavaScript engine through the better-sqlite3 driver adapter, so no Prisma engine
// binary is downloaded or executed. The database is DATABASE_URL, default file:./data/tangshi.db.
import { fileURLToPath } from 'node:url';

import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { defineConfig } from 'prisma/config';

// Prisma 6's CLI still looks for the Rust query-engine library and schema-engine binary before it runs,
// and downloads them when they are missing (the @prisma/engines install script that would fetch them is
// denied in package.json's allowScripts), although engine 'js' and the client engine never use them.
// Offline, that download fails. Pointing these variables at an existing file skips it; nothing is ever
// loaded or executed from that file.
const placeholder = fileURLToPath(new URL('./prisma/ENGINES.md', import.meta.url));
process.env.PRISMA_QUERY_ENGINE_LIBRARY ??= placeholder;
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= placeholder;

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  engine: 'js',
  experimental: { adapter: true },
  adapter: async () => new PrismaBetterSQLite3({ url: process.env.DATABASE_URL ?? 'file:./data/tangshi.db' }),
});
