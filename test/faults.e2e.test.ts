/**
 * PostgreSQL restarting under the bot: every connection to it cut and new ones refused for a while (a TCP
 * proxy in front of the real server), mid-traffic. What was written before is all there; requests during the
 * outage get a clear "try again" and leave nothing half-written; the bot does not crash and, once the server
 * is back, answers, stores and hears version notices again. PostgreSQL only (the `postgresql` vitest project).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markActive, registerVersion } from '../src/jobs/model-versions.js';
import { openDatabase } from '../src/db/db.js';
import { makeTinyCheckpoint } from './helpers.js';
import { testProvider } from './support/databases.js';
import type { InteractionAnswer } from './support/discord/index.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { buttonIds, STRING, startTestBot, users } from './support/test-bot.js';

const TRY_AGAIN = /try again/i;

/** several processes, real training and a loaded CI machine: generous */
const E2E_TIMEOUT_MS = 300_000;

describe.runIf(testProvider() === 'postgresql')('PostgreSQL restarted mid-traffic', () => {
  it(
    'loses nothing written, answers "try again" during the outage, and carries on after it',
    async () => {
      let proxy!: TcpProxy;
      let direct = '';
      const t = await startTestBot({
        reachDatabase: async (url) => {
          direct = url;
          const u = new URL(url);
          proxy = await new TcpProxy(u.hostname, Number(u.port || 5432)).listen();
          u.hostname = '127.0.0.1';
          u.port = String(proxy.port);
          return u.toString();
        },
      });
      const check = await openDatabase(direct); // the test's own view of the database, not through the proxy
      try {
        const readers = users(2, 500000000000000000n);
        const ask = (start: string) => t.poem([{ name: 'start', type: STRING, value: start }], readers[0]!);
        const rate = (a: InteractionAnswer, stars: number, k: number) => t.rate(a, stars, readers[k]!);
        const isPoem = (a: InteractionAnswer) => a.embeds.length === 1 && a.components.length > 0;

        const before = [await ask('山'), await ask('水'), await ask('月')];
        expect(before.every(isPoem)).toBe(true);
        for (const [i, a] of before.entries()) await rate(a, (i % 5) + 1, 0);

        proxy.outage();
        const during = await ask('風');
        expect(during.ephemeral).toBe(true);
        expect(during.content).toMatch(TRY_AGAIN);
        const ratedDuring = await rate(before[0]!, 5, 1);
        expect(ratedDuring.ephemeral).toBe(true);
        expect(ratedDuring.content).toMatch(TRY_AGAIN);

        proxy.restore();
        // the first requests after may still meet a connection the pool had not yet found dead: they too say "try again"
        let after: InteractionAnswer | undefined;
        for (let k = 0; k < 50 && !after; k++) {
          const a = await ask('雲');
          if (isPoem(a)) after = a;
          else {
            expect(a.content).toMatch(TRY_AGAIN);
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        expect(after, 'no poem within 50 tries after the server came back').toBeDefined();
        let ratedAfter = await rate(after!, 4, 1);
        for (let k = 0; k < 20 && ratedAfter.ephemeral; k++) {
          expect(ratedAfter.content).toMatch(TRY_AGAIN);
          await new Promise((r) => setTimeout(r, 200));
          ratedAfter = await rate(after!, 4, 1);
        }
        expect(ratedAfter.ephemeral).toBe(false); // the poem's message, updated with its rating

        // all that was answered is stored, once; nothing of the failed requests is
        const poems = await check.prisma.poem.findMany({ orderBy: { id: 'asc' } });
        // (by the id its buttons carry: a poem's message id is stored after it is shown)
        const shown = [...before, after!].map((a) => Number(buttonIds(a)[0]!.split(':')[1]));
        expect(poems.filter((p) => shown.includes(p.id))).toHaveLength(shown.length);
        expect(poems.map((p) => p.promptText)).not.toContain('風');
        const ratings = await check.prisma.rating.findMany({ orderBy: { id: 'asc' } });
        expect(ratings.map((r) => r.stars)).toEqual([1, 2, 3, 4]);

        // the connection that hears of new versions came back too
        const next = makeTinyCheckpoint({ dir: join(t.dir, 'models', 'versions', 'next') });
        await registerVersion(check, next.manifest, next.dir);
        await markActive(check, next.manifest.version);
        for (let k = 0; t.bot.ctx.model.version !== next.manifest.version; k++) {
          if (k > 300) throw new Error('the bot did not hear of the new version within 30 s of the outage ending');
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await check.close();
        await t.stop();
        await proxy.close();
      }
    },
    E2E_TIMEOUT_MS,
  );
});
