/**
 * The learning loop inside the running bot, against the local Discord stand-in, with the shipped model:
 *
 *  1. users ask for `--rated` poems and rate them (scripted readers, see RULE below);
 *  2. /poem first-response latency while idle (p50, p99 over `--requests`);
 *  3. an admin's /model retrain with FINETUNE_MAX_MINUTES=`--minutes`, while /poem keeps being asked
 *     (one request every 500 ms): the fine-tune's tokens/s inside the bot, /poem p50/p99 while training, and
 *     the run's dev perplexity before → after and its decision;
 *  4. `--swaps` hot swaps (/model rollback back and forth) under a steady stream of /poem requests: how long
 *     each swap takes (load and warm beside the old model) and what the poems in the meantime saw.
 *
 *   npx tsx bench/learning-loop.ts [--minutes 30] [--rated 200] [--requests 200] [--swaps 6] [--workers N]
 */
import { parseArgs } from 'node:util';
import { PermissionFlagsBits } from 'discord.js';
import type { RunPhase } from '../src/jobs/runner.js';
import type { InteractionAnswer } from '../test/support/discord/index.js';
import { startBenchBot } from './bench-bot.js';
import { percentile as percentileOf } from '../src/shared/stats.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rated: { type: 'string', default: '200' },
    requests: { type: 'string', default: '200' },
    swaps: { type: 'string', default: '6' },
    workers: { type: 'string' },
  },
});
const percentile = (xs: number[], p: number) => +percentileOf(xs, p).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { discord, bot } = await startBenchBot({ FINETUNE_MAX_MINUTES: values.minutes, FINETUNE_WORKERS: values.workers });
const admin = { id: '300000000000000001', username: 'admin' };
const starts = ['日', '紅', '山', '夜', '湖', '海', '月'];
let asked = 0;
async function poem(): Promise<InteractionAnswer> {
  const user = { id: String(400000000000000000n + BigInt(asked % 50)), username: `reader${asked % 50}` };
  const i = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: starts[asked++ % starts.length]! }], user });
  return i.response();
}
const model = async (sub: string, options: { name: string; type: number; value: string }[] = []) =>
  (
    await discord.slashCommand({
      name: 'model',
      options: [{ name: sub, type: 1, options } as never],
      user: admin,
      permissions: PermissionFlagsBits.ManageGuild,
    })
  ).response({ timeoutMs: 600_000 });

// 1. RULE: two scripted readers give 5 and 4 stars to a poem with no repeated character and 2 and 1 to
// the others (repetition is the most visible flaw of generated verse). A stand-in for taste, stated as such.
let wellRated = 0;
for (let k = 0; k < Number(values.rated); k++) {
  const answer = await poem();
  const lines = answer.embeds[0]!.description!.split('\n');
  const chars = [...lines.join('')];
  const good = new Set(chars).size === chars.length;
  if (good) wellRated++;
  const ids = (answer.components as unknown as { components: { custom_id: string }[] }[]).flatMap((r) => r.components.map((b) => b.custom_id));
  for (const [j, stars] of (good ? [5, 4] : [2, 1]).entries()) {
    await (
      await discord.clickButton({
        message: answer.messageId,
        customId: ids[stars - 1]!,
        user: { id: String(500000000000000000n + BigInt(j)), username: `critic${j}` },
      })
    ).response();
  }
}

// 2. idle
for (let k = 0; k < 5; k++) await poem();
const idle: number[] = [];
for (let k = 0; k < Number(values.requests); k++) idle.push((await poem()).latencyMs);

// 3. a fine-tune with poems asked meanwhile
const phaseAt = new Map<RunPhase, number>();
bot.ctx.finetunes.on('progress', (state) => {
  if (!phaseAt.has(state.phase)) phaseAt.set(state.phase, performance.now());
});
const report = new Promise<import('../src/jobs/runner.js').RunReport>((resolve) => bot.ctx.finetunes.once('finished', resolve));
await model('retrain');
const during: number[] = [];
/** [seconds since the run started training, ms] of each poem asked while it trained: where the slow ones fall */
const duringAt: [number, number][] = [];
let finished = false;
void report.then(() => (finished = true));
while (!finished) {
  if (bot.ctx.finetunes.current?.phase === 'training') {
    const asked = performance.now();
    const { latencyMs } = await poem();
    during.push(latencyMs);
    duringAt.push([+((asked - phaseAt.get('training')!) / 1000).toFixed(1), latencyMs]);
  }
  await sleep(500);
}
const run = await report;
const trainingSeconds = ((phaseAt.get('evaluating') ?? performance.now()) - phaseAt.get('training')!) / 1000;

// 4. hot swaps under a steady stream of poems
const swapMs: number[] = [];
const whileSwapping: number[] = [];
let swapping = true;
const stream = (async () => {
  while (swapping) whileSwapping.push((await poem()).latencyMs);
})();
const failedBefore = discord.refusals.length;
// back and forth between the run's candidate and the base (named: a rejected candidate was never active)
const versions = run.candidateVersion ? [run.candidateVersion, run.baseVersion] : [];
for (let k = 0; k < Number(values.swaps) && versions.length > 0; k++) {
  const version = bot.ctx.model.version === versions[0] ? versions[1]! : versions[0]!;
  const t = performance.now();
  const answer = await model('rollback', [{ name: 'version', type: 3, value: version }]);
  if (!answer.content.startsWith('Now answering')) throw new Error(`swap failed: ${answer.content}`);
  swapMs.push(performance.now() - t);
}
swapping = false;
await stream;

console.log(
  JSON.stringify(
    {
      backend: bot.ctx.model.backend,
      base: run.baseVersion,
      rated_poems_asked: Number(values.rated),
      rated_well: wellRated,
      finetune: {
        status: run.status,
        decision: run.decision,
        error: run.error,
        minutes_budget: Number(values.minutes),
        steps: run.steps,
        tokens: run.tokens,
        rated_poems_used: run.ratedPoems,
        training_seconds: +trainingSeconds.toFixed(1),
        tokens_per_second: Math.round(run.tokens / trainingSeconds),
        total_seconds: +run.seconds.toFixed(1),
        dev_perplexity_before: run.pplBefore,
        dev_perplexity_after: run.pplAfter,
      },
      poem_first_response_ms: {
        idle: { n: idle.length, p50: percentile(idle, 50), p99: percentile(idle, 99) },
        while_training: {
          n: during.length,
          p50: percentile(during, 50),
          p99: percentile(during, 99),
          max: percentile(during, 100),
          slowest_at_seconds: duringAt
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([at, ms]) => [at, +ms.toFixed(1)]),
        },
        while_swapping: {
          n: whileSwapping.length,
          p50: percentile(whileSwapping, 50),
          p99: percentile(whileSwapping, 99),
          max: percentile(whileSwapping, 100),
        },
      },
      swaps: {
        n: swapMs.length,
        rollback_command_ms_p50: percentile(swapMs, 50),
        max: percentile(swapMs, 100),
        refused_rest_calls: discord.refusals.length - failedBefore,
      },
    },
    null,
    2,
  ),
);
await bot.stop();
await discord.close();
