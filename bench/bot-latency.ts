/**
 * Bot latency against the local Discord stand-in (the same one the tests use): interaction → first
 * response for /poem, sequentially (p50, p99 over N requests), and bursts of concurrent /poem requests:
 * how many get their first response inside Discord's 3-second rule, when the last poem is visible, and
 * the poems per second that makes. The stand-in runs in this process, on the bot's main thread, so a
 * burst pays Discord's side too.
 *
 *   npx tsx bench/bot-latency.ts [--requests 200] [--bursts 10,50,200,1000] [--poem-workers N]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startBenchBot } from './bench-bot.js';
import { percentile } from '../src/shared/stats.js';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '200' }, bursts: { type: 'string', default: '10,50,200,1000' }, 'poem-workers': { type: 'string' } },
});

const { discord, bot } = await startBenchBot({ POEM_WORKERS: values['poem-workers'] });
const starts = ['日', '紅', '山', '夜', '湖', '海', '月'];
let userCount = 0;
const ask = async (k: number) => {
  const user = { id: String(400000000000000000n + BigInt(userCount++)), username: `bench${k}` };
  const i = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: starts[k % starts.length]! }], user });
  const answer = await i.response();
  return { first: answer.latencyMs, visible: answer.answeredMs, deferred: answer.deferred };
};

for (let k = 0; k < 5; k++) await ask(k); // warm-up
const sequential: number[] = [];
for (let k = 0; k < Number(values.requests); k++) sequential.push((await ask(k)).first);
sequential.sort((a, b) => a - b);

const bursts: {
  concurrent: number;
  within3s: number;
  acknowledgedFirst: number;
  maxFirstMs: number;
  maxVisibleMs: number;
  poemsPerSecond: number;
  mainThreadBusy: number;
  coresUsed: number;
}[] = [];
for (const n of values.bursts!.split(',').map(Number)) {
  const [elu0, cpu0, t0] = [performance.eventLoopUtilization(), process.cpuUsage(), performance.now()];
  const results = await Promise.allSettled(Array.from({ length: n }, (_, k) => ask(k)));
  // where the time went: the main thread's busy share (bot and stand-in), and the cores the process used (all threads)
  const mainThreadBusy = +performance.eventLoopUtilization(elu0).utilization.toFixed(2);
  const cpu = process.cpuUsage(cpu0);
  const coresUsed = +((cpu.user + cpu.system) / 1000 / (performance.now() - t0)).toFixed(2);
  const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof ask>>> => r.status === 'fulfilled').map((r) => r.value);
  const maxVisibleMs = Math.max(...ok.map((r) => r.visible));
  bursts.push({
    concurrent: n,
    within3s: ok.filter((r) => r.first < 3000).length,
    acknowledgedFirst: ok.filter((r) => r.deferred).length,
    maxFirstMs: Math.round(Math.max(...ok.map((r) => r.first))),
    maxVisibleMs: Math.round(maxVisibleMs),
    poemsPerSecond: Math.round((ok.length / maxVisibleMs) * 1000),
    mainThreadBusy,
    coresUsed,
  });
}
console.log(
  JSON.stringify({
    backend: bot.ctx.model.backend,
    model: bot.ctx.model.version,
    poem_workers: bot.ctx.model.workers,
    sequential_requests: sequential.length,
    first_response_ms_p50: +percentile(sequential, 50).toFixed(1),
    first_response_ms_p99: +percentile(sequential, 99).toFixed(1),
    bursts,
  }),
);
await bot.stop();
await discord.close();
