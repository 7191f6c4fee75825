/** Poems the bot wrote and the stars people gave them. */
import { Prisma, type Poem } from '../generated/prisma/client.js';
import { type Database, retryWhenBusy } from './connection.js';
import { checkInput, DiscordId, PoemId, PoemInput, RatingInput, TopQuery } from './inputs.js';

/**
 * Gathers the calls made in one turn of the event loop and runs them as one query, each caller getting its own
 * result. Why: Prisma 6 compiles every query anew on the main thread (prisma/orm#28845), and a
 * burst of /poem finishes its poems a batch at a time; one INSERT and one UPDATE a batch instead of one a poem
 * keeps the main thread free for Discord. A failed query fails every call of its batch.
 */
function batchedPerTick<Input, Output>(run: (db: Database, inputs: Input[]) => Promise<Output[]>, maxBatch = 256) {
  type Call = { input: Input; resolve: (output: Output) => void; reject: (e: unknown) => void };
  const waiting = new WeakMap<Database, Call[]>();
  const flush = (db: Database, calls: Call[]) => {
    waiting.delete(db);
    run(
      db,
      calls.map((c) => c.input),
    ).then(
      (outputs) => calls.forEach((c, i) => c.resolve(outputs[i]!)),
      (e: unknown) => calls.forEach((c) => c.reject(e)),
    );
  };
  return (db: Database, input: Input) =>
    new Promise<Output>((resolve, reject) => {
      let calls = waiting.get(db);
      if (!calls) {
        const batch: Call[] = [];
        calls = batch;
        waiting.set(db, batch);
        setImmediate(() => {
          if (waiting.get(db) === batch) flush(db, batch);
        });
      }
      calls.push({ input, resolve, reject });
      if (calls.length >= maxBatch) flush(db, calls);
    });
}

// One INSERT … RETURNING for the batch (SQLite 3.35+ and PostgreSQL; the enum cast below): Prisma's raw query
// skips its query compiler, which costs the main thread more than the query itself for the small batches a
// burst finishes (bench/bot-latency.ts). createdAt is set here, as Prisma's @default(now()) does.
const insertPoems = batchedPerTick(async (db, rows: ReturnType<typeof poemRow>[]) => {
  const createdAt = new Date();
  // PostgreSQL's column is the enum "PromptKind": a text parameter must be cast to it (SQLite stores text)
  const promptKind = (kind: string) => (db.provider === 'postgresql' ? Prisma.sql`CAST(${kind} AS "PromptKind")` : Prisma.sql`${kind}`);
  const values = Prisma.join(
    rows.map(
      (r) =>
        Prisma.sql`(${r.kind}, ${r.guildId}, ${r.channelId}, ${r.userId}, ${promptKind(r.promptKind)}, ${r.promptText}, ${r.form}, ${r.script}, ${r.text}, ${r.checkpointVersion}, ${r.messageId}, ${createdAt}, ${r.seed}, ${r.options}, ${r.candidates}, ${r.tasteVersion}, ${r.replacesPoemId})`,
    ),
  );
  type Row = Omit<Poem, 'id' | 'createdAt' | 'seed' | 'candidates' | 'replacesPoemId'> & {
    id: number | bigint;
    createdAt: Date | string;
    seed: number | bigint | null;
    candidates: number | bigint;
    replacesPoemId: number | bigint | null;
  };
  const stored = await db.prisma.$queryRaw<Row[]>`
    INSERT INTO "Poem" ("kind", "guildId", "channelId", "userId", "promptKind", "promptText", "form", "script", "text", "checkpointVersion", "messageId", "createdAt", "seed", "options", "candidates", "tasteVersion", "replacesPoemId")
    VALUES ${values} RETURNING *`;
  // one INSERT numbers its rows in order; RETURNING's order is not promised, the ids are
  return stored
    .map((p) => ({
      ...p,
      id: Number(p.id),
      createdAt: new Date(p.createdAt),
      seed: p.seed === null ? null : Number(p.seed),
      candidates: Number(p.candidates),
      replacesPoemId: p.replacesPoemId === null ? null : Number(p.replacesPoemId),
    }))
    .sort((a, b) => a.id - b.id);
});

const poemRow = (input: PoemInput) => {
  const data = checkInput(PoemInput, input, 'recordPoem');
  return {
    ...data,
    messageId: data.messageId ?? null,
    seed: data.seed ?? null,
    tasteVersion: data.tasteVersion ?? null,
    replacesPoemId: data.replacesPoemId ?? null,
  };
};

/** Stores a poem that was just written (messageId usually comes later, through setPoemMessage). */
export async function recordPoem(db: Database, input: PoemInput): Promise<Poem> {
  return insertPoems(db, poemRow(input));
}

// One UPDATE … CASE for the batch, in SQL that SQLite (3.35+) and PostgreSQL both run; RETURNING says which poems exist.
const linkMessages = batchedPerTick(async (db, links: { id: number; messageId: string }[]) => {
  const cases = Prisma.join(
    links.map((l) => Prisma.sql`WHEN ${l.id} THEN ${l.messageId}`),
    ' ',
  );
  const updated = await db.prisma.$queryRaw<{ id: number | bigint }[]>`
    UPDATE "Poem" SET "messageId" = CASE "id" ${cases} END WHERE "id" IN (${Prisma.join(links.map((l) => l.id))}) RETURNING "id"`;
  const found = new Set(updated.map((r) => Number(r.id)));
  return links.map((l) => found.has(l.id));
});

/** Links a poem to the Discord message that shows it. False when the poem does not exist. */
export async function setPoemMessage(db: Database, poemId: number, messageId: string): Promise<boolean> {
  const id = checkInput(PoemId, poemId, 'setPoemMessage poemId');
  const message = checkInput(DiscordId, messageId, 'setPoemMessage messageId');
  return linkMessages(db, { id, messageId: message });
}

export async function poemById(db: Database, poemId: number): Promise<Poem | null> {
  const id = checkInput(PoemId, poemId, 'poemById poemId');
  return db.prisma.poem.findUnique({ where: { id } });
}

export async function poemByMessage(db: Database, messageId: string): Promise<Poem | null> {
  const message = checkInput(DiscordId, messageId, 'poemByMessage messageId');
  return db.prisma.poem.findUnique({ where: { messageId: message } });
}

export type RatingSummary = { average: number; count: number };

/**
 * Stores `userId`'s stars for a poem: one rating per user and poem, a second click changes it. Returns the
 * poem's new average and number of ratings, or null when the poem does not exist. The write is one
 * INSERT … ON CONFLICT DO UPDATE statement, so concurrent clicks (from one process or several) never
 * lose a rating and never create two for one user.
 */
export async function ratePoem(db: Database, input: RatingInput): Promise<RatingSummary | null> {
  const { poemId, userId, stars } = checkInput(RatingInput, input, 'ratePoem');
  try {
    await db.prisma.rating.upsert({
      where: { poemId_userId: { poemId, userId } },
      create: { poemId, userId, stars },
      update: { stars },
    });
  } catch (e) {
    // P2003: the foreign key to Poem failed, i.e. the poem does not exist (or was deleted meanwhile).
    if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2003') return null;
    throw e;
  }
  return ratingSummary(db, poemId);
}

export async function ratingSummary(db: Database, poemId: number): Promise<RatingSummary> {
  const id = checkInput(PoemId, poemId, 'ratingSummary poemId');
  const agg = await db.prisma.rating.aggregate({ where: { poemId: id }, _avg: { stars: true }, _count: { _all: true } });
  return { average: agg._avg.stars ?? 0, count: agg._count._all };
}

export type TopPoem = Poem & RatingSummary;

const PERIOD_MS = { day: 24 * 3600 * 1000, week: 7 * 24 * 3600 * 1000 } as const;

/**
 * The best-rated poems: highest average first, then most ratings, then the older poem. `period` is a
 * rolling window ending at `now` (day: the last 24 hours, week: the last 7 days) over the poems' creation
 * time; `all` has no window. Poems nobody rated are not listed. `guildId` keeps one server's poems.
 */
export async function topPoems(db: Database, query: TopQuery): Promise<TopPoem[]> {
  const { period, kind, guildId, limit, now } = checkInput(TopQuery, query, 'topPoems');
  const poem: Prisma.PoemWhereInput = { kind };
  if (period !== 'all') poem.createdAt = { gt: new Date(now.getTime() - PERIOD_MS[period]), lte: now };
  if (guildId !== undefined) poem.guildId = guildId;
  const groups = await db.prisma.rating.groupBy({
    by: ['poemId'],
    where: { poem },
    _avg: { stars: true },
    _count: { stars: true },
    orderBy: [{ _avg: { stars: 'desc' } }, { _count: { stars: 'desc' } }, { poemId: 'asc' }],
    take: limit,
  });
  const poems = await db.prisma.poem.findMany({ where: { id: { in: groups.map((g) => g.poemId) } } });
  const byId = new Map(poems.map((p) => [p.id, p]));
  return groups.flatMap((g) => {
    const p = byId.get(g.poemId);
    return p ? [{ ...p, average: g._avg.stars ?? 0, count: g._count.stars }] : [];
  });
}

/** How many poems and ratings are stored (for /model). */
export async function counts(db: Database): Promise<{ poems: number; ratings: number }> {
  const [poems, ratings] = await Promise.all([db.prisma.poem.count(), db.prisma.rating.count()]);
  return { poems, ratings };
}

/**
 * 🔄: the message that showed `fromPoemId` shows `toPoemId` now (one message, one poem). Both in one
 * transaction; false when either poem is gone.
 */
export async function moveMessage(db: Database, fromPoemId: number, toPoemId: number, messageId: string): Promise<boolean> {
  const [from, to] = [checkInput(PoemId, fromPoemId, 'moveMessage from'), checkInput(PoemId, toPoemId, 'moveMessage to')];
  const message = checkInput(DiscordId, messageId, 'moveMessage messageId');
  try {
    await retryWhenBusy(() =>
      db.prisma.$transaction([
        db.prisma.poem.updateMany({ where: { id: from, messageId: message }, data: { messageId: null } }),
        db.prisma.poem.update({ where: { id: to }, data: { messageId: message } }),
      ]),
    );
    return true;
  } catch (e) {
    if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2025') return false;
    throw e;
  }
}
