/**
 * The data layer's front door: everything the bot stores, in SQLite through Prisma. Schema and migrations:
 * prisma/; PostgreSQL: prisma/README.md. The connection (connection.ts) applies pending migrations itself
 * (migrations.ts); input from outside is checked by inputs.ts; the queries are by table: poems.ts (poems
 * and ratings), versions.ts (model versions), runs.ts (fine-tune runs). Nothing outside src/db queries
 * Prisma.
 */
export type { Poem, Rating, PromptKind, ModelVersion, TrainingRun } from '../generated/prisma/client.js';
export * from './connection.js';
export * from './inputs.js';
export { applyMigrations, MIGRATIONS_DIR } from './migrations.js';
export * from './poems.js';
export * from './runs.js';
export * from './versions.js';
export * from './taste.js';
export * from './notices.js';
