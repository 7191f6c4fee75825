/**
 * The model versions the bot knows (table ModelVersion): the shipped base and every fine-tune's candidate.
 * At most one is active, the one answering /poem. What to load, serve and prune is decided in
 * jobs/versions.ts; these are its reads and writes.
 */
import type { ModelVersion } from '../generated/prisma/client.js';
import { type Database, retryWhenBusy } from './connection.js';
import { announce } from './notices.js';

/** what a version's checkpoint says of itself (its manifest) */
export type VersionFacts = { version: string; parent: string | null; createdAt: string; weightsSha256: string; devPerplexity: number | null };

/** Records a version found at `path` (the same version at another path: the project moved). */
export async function upsertVersion(db: Database, facts: VersionFacts, path: string, runId: number | null = null): Promise<ModelVersion> {
  const files = { path, sha256: facts.weightsSha256, devPerplexity: facts.devPerplexity };
  return retryWhenBusy(() =>
    db.prisma.modelVersion.upsert({
      where: { version: facts.version },
      create: { version: facts.version, parent: facts.parent, createdAt: new Date(facts.createdAt), runId, ...files },
      update: files,
    }),
  );
}

export function versionById(db: Database, version: string): Promise<ModelVersion | null> {
  return db.prisma.modelVersion.findUnique({ where: { version } });
}

export function activeVersion(db: Database): Promise<ModelVersion | null> {
  return db.prisma.modelVersion.findFirst({ where: { active: true } });
}

/** Marks `version` as the one answering /poem (and no other), in one transaction; on PostgreSQL every process hears of it (notices.ts). */
export async function markActive(db: Database, version: string): Promise<void> {
  await retryWhenBusy(() =>
    db.prisma.$transaction([
      db.prisma.modelVersion.updateMany({ where: { active: true, NOT: { version } }, data: { active: false } }),
      db.prisma.modelVersion.update({ where: { version }, data: { active: true, activatedAt: new Date() } }),
      ...announce(db, { kind: 'model', version }),
    ]),
  );
}

/** the newest `take` versions, newest first; every version without `take` */
export function recentVersions(db: Database, take?: number): Promise<ModelVersion[]> {
  return db.prisma.modelVersion.findMany({ orderBy: [{ createdAt: 'desc' }, { version: 'desc' }], take });
}

/** every version that was once active and is not now, the most recently active first */
export function formerlyActiveVersions(db: Database): Promise<ModelVersion[]> {
  return db.prisma.modelVersion.findMany({ where: { active: false, activatedAt: { not: null } }, orderBy: { activatedAt: 'desc' } });
}

/** Rollback's default target: the version that was active before the current one. */
export function previousVersion(db: Database): Promise<ModelVersion | null> {
  return db.prisma.modelVersion.findFirst({ where: { active: false, activatedAt: { not: null } }, orderBy: { activatedAt: 'desc' } });
}

export async function deleteVersion(db: Database, version: string): Promise<void> {
  await retryWhenBusy(() => db.prisma.modelVersion.delete({ where: { version } }));
}
