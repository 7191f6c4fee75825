/** What the night learns from (ratings, 🔄 replacements, the poems' texts) and the taste models (table TasteVersion). */
import type { TasteVersion } from '../generated/prisma/client.js';
import { retryWhenBusy, type Database } from './connection.js';
import { announce } from './notices.js';

export type { TasteVersion };

/** every star rating of a poem (not a couplet): who, how many stars, when (its last change) */
export async function poemRatings(db: Database): Promise<{ poemId: number; userId: string; stars: number; at: Date }[]> {
  const rows = await db.prisma.rating.findMany({
    where: { poem: { kind: 'poem' } },
    select: { poemId: true, userId: true, stars: true, updatedAt: true },
    orderBy: { id: 'asc' },
  });
  return rows.map((r) => ({ poemId: r.poemId, userId: r.userId, stars: r.stars, at: r.updatedAt }));
}

/** every 🔄: the poem its asker got instead of one they replaced */
export async function replacements(db: Database): Promise<{ keptId: number; replacedId: number; userId: string; at: Date }[]> {
  const rows = await db.prisma.poem.findMany({
    where: { kind: 'poem', replacesPoemId: { not: null } },
    select: { id: true, replacesPoemId: true, userId: true, createdAt: true },
    orderBy: { id: 'asc' },
  });
  return rows.map((r) => ({ keptId: r.id, replacedId: r.replacesPoemId!, userId: r.userId, at: r.createdAt }));
}

/** the text, form and script of these poems */
export async function poemTexts(db: Database, ids: number[]): Promise<{ id: number; text: string; form: string; script: string }[]> {
  if (ids.length === 0) return [];
  return db.prisma.poem.findMany({ where: { id: { in: ids } }, select: { id: true, text: true, form: true, script: true } });
}

/** the prompts readers asked with lately (newest first), with who asked: what the night's samples are written for */
export async function recentPrompts(db: Database, take: number): Promise<{ userId: string; promptKind: string; promptText: string; options: string }[]> {
  return db.prisma.poem.findMany({
    where: { kind: 'poem' },
    select: { userId: true, promptKind: true, promptText: true, options: true },
    orderBy: { id: 'desc' },
    take,
  });
}

export function activeTaste(db: Database): Promise<TasteVersion | null> {
  return db.prisma.tasteVersion.findFirst({ where: { active: true } });
}

export function recordTaste(db: Database, row: Omit<TasteVersion, 'createdAt' | 'active' | 'activatedAt'>): Promise<TasteVersion> {
  return retryWhenBusy(() => db.prisma.tasteVersion.create({ data: row }));
}

/** Marks `version` as the taste model choosing among candidates (and no other), in one transaction; on PostgreSQL every process hears of it. */
export async function markTasteActive(db: Database, version: string): Promise<void> {
  await retryWhenBusy(() =>
    db.prisma.$transaction([
      db.prisma.tasteVersion.updateMany({ where: { active: true, NOT: { version } }, data: { active: false } }),
      db.prisma.tasteVersion.update({ where: { version }, data: { active: true, activatedAt: new Date() } }),
      ...announce(db, { kind: 'taste', version }),
    ]),
  );
}

/** the newest finished runs with their gate's figures, newest first (the /model status chart) */
export function recentRuns(db: Database, take: number) {
  return db.prisma.trainingRun.findMany({
    where: { status: { in: ['promoted', 'rejected'] } },
    orderBy: { id: 'desc' },
    take,
    select: { id: true, status: true, candidateVersion: true, pplBefore: true, pplAfter: true, gate: true, startedAt: true, recipe: true },
  });
}
