/**
 * Bot latency against the local Discord stand-in (the same one the tests use): interaction → first
 * response for /poem, sequentially (p50, p99 over N requests), and bursts of concurrent /poem requests:
 * how many get their first response inside Discord's 3-second rule, and the poems per second from the
 * first request sent to the last poem visible (both on the stand-in's clock). The stand-in runs on a thread of its own (`--discord thread`, the
 * default: Discord's side is not the bot's main thread's work) or on the bot's main thread
 * (`--discord main`, how this bench measured before 2026-12-03); either way on the same cores as the bot.
 * On Linux each burst also says where its CPU went, in ms a poem: the bot's main thread, the stand-in's
 * thread, the poem threads and every other thread (V8's compiler and collector helpers, a product helper).
 * The bursts run `--rounds` times: the first round is cold (the code that only bursts run — acknowledgements
 * first, queued requests, edits — is compiled as it goes, for V8 has seen sequential poems only); later rounds
 * measure the same bot warm, as one that has been serving for a while is. The machine's load average is
 * printed beside each burst: figures taken with other work on the cores are not comparable.
 *
 * With `--taste FILE` the bot serves with that taste model (best-of-n, BEST_OF_N candidates a poem, fewer under
 * load), as a bot that has learnt from its readers does.
 *
 *   npx tsx bench/bot-latency.ts [--requests 200] [--bursts 10,50,200,1000] [--rounds 2] [--poem-workers N] [--discord thread|main] [--taste FILE]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { askPoem, type BenchAnswer } from './ask-poem.js';
import { osThreadId, threadCpuMs } from './thread-cpu.js';
import { startBenchBot, startBenchBotAgainst } from './bench-bot.js';
import { percentile } from '../src/shared/stats.js';
import { TasteModel } from '../src/model/taste/taste-model.js';
import { TS_WORKER } from '../src/model/runtime/paths.js';
import type { RunningBot } from '../src/bot/bot.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    bursts: { type: 'string', default: '10,50,200,1000' },
    rounds: { type: 'string', default: '2' },
    'poem-workers': { type: 'string' },
    discord: { type: 'string', default: 'thread' },
    taste: { type: 'string' },
  },
});
if (values.discord !== 'thread' && values.discord !== 'main') throw new Error('--discord must be thread or main');

type Answer = BenchAnswer;
const loadBefore = loadavg()[0]!;
const settings = { POEM_WORKERS: values['poem-workers'] };
let bot: RunningBot;
let ask: (k: number) => Promise<Answer>;
let closeDiscord: () => Promise<unknown>;
/** the stand-in's OS thread, when it has its own */
let standInThread: number | undefined;
if (values.discord === 'main') {
  const started = await startBenchBot(settings);
  bot = started.bot;
  ask = (k) => askPoem(started.discord, k);
  closeDiscord = () => started.discord.close();
} else {
  const thread = new Worker(TS_WORKER, { workerData: { module: new URL('./discord-thread.ts', import.meta.url).href } });
  const waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  type Ready = { token: string; apiUrl: string; guildId: string; tid?: number };
  const ready = new Promise<Ready>((resolve, reject) => {
    thread.once('error', reject);
    thread.on('message', (m: { ready?: Ready; id?: number; answer?: Answer; error?: string }) => {
      if (m.ready) return resolve(m.ready);
      const w = waiting.get(m.id!)!;
      waiting.delete(m.id!);
      if (m.answer) w.resolve(m.answer);
      else w.reject(new Error(m.error));
    });
  });
  const discordReady = await ready;
  standInThread = discordReady.tid;
  bot = await startBenchBotAgainst(discordReady, settings);
  let nextId = 0;
  ask = (k) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      thread.postMessage({ ask: k, id });
    });
  closeDiscord = () => {
    thread.postMessage({ close: true });
    return new Promise((resolve) => thread.once('exit', resolve));
  };
}

if (values.taste) {
  const json = readFileSync(values.taste, 'utf8');
  const problem = await bot.ctx.model.useTaste({ path: values.taste, sha256: TasteModel.sha256(json), version: TasteModel.fromJSON(json).version });
  if (problem) throw new Error(problem);
}
for (let k = 0; k < 5; k++) await ask(k); // warm-up
const sequential: number[] = [];
for (let k = 0; k < Number(values.requests); k++) sequential.push((await ask(k)).first);
sequential.sort((a, b) => a - b);

type Burst = {
  concurrent: number;
  within3s: number;
  acknowledgedFirst: number;
  maxFirstMs: number;
  /** first request sent → last poem visible */
  burstMs: number;
  poemsPerSecond: number;
  /** the machine's 1-minute load average when the burst ended */
  load1: number;
  mainThreadBusy: number;
  coresUsed: number;
  cpuMsPerPoem?: { mainThread: number; standIn?: number; poemThreads: number; otherThreads: number };
};
const rounds: Burst[][] = [];
const mainThread = osThreadId();
for (let round = 0; round < Number(values.rounds); round++) rounds.push(await burstRound());

async function burstRound(): Promise<Burst[]> {
  const bursts: Burst[] = [];
  for (const n of values.bursts!.split(',').map(Number)) {
    const [elu0, cpu0, t0, threads0] = [performance.eventLoopUtilization(), process.cpuUsage(), performance.now(), threadCpuMs()];
    const results = await Promise.allSettled(Array.from({ length: n }, (_, k) => ask(k)));
    // where the time went: the main thread's busy share (the bot's, and the stand-in's with --discord main), and the cores the process used (all threads)
    const mainThreadBusy = +performance.eventLoopUtilization(elu0).utilization.toFixed(2);
    const cpu = process.cpuUsage(cpu0);
    const coresUsed = +((cpu.user + cpu.system) / 1000 / (performance.now() - t0)).toFixed(2);
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof ask>>> => r.status === 'fulfilled').map((r) => r.value);
    const burstMs = Math.max(...ok.map((r) => r.visibleAt)) - Math.min(...ok.map((r) => r.sentAt));
    // CPU a poem, thread by thread (Linux): the main thread, the stand-in's, the poem threads (the busiest of
    // the others, one per poem worker) and the rest (V8's compiler and GC helpers, libuv's pool)
    const spent = [...threadCpuMs()].map(([tid, ms]) => ({ tid, ms: ms - (threads0.get(tid) ?? 0) }));
    const perPoem = (ms: number) => +(ms / Math.max(1, ok.length)).toFixed(2);
    const others = spent.filter(({ tid }) => tid !== mainThread && tid !== standInThread).sort((a, b) => b.ms - a.ms);
    const sum = (xs: { ms: number }[]) => xs.reduce((n, x) => n + x.ms, 0);
    const cpuMsPerPoem =
      spent.length === 0
        ? undefined
        : {
            mainThread: perPoem(sum(spent.filter(({ tid }) => tid === mainThread))),
            standIn: standInThread === undefined ? undefined : perPoem(sum(spent.filter(({ tid }) => tid === standInThread))),
            poemThreads: perPoem(sum(others.slice(0, bot.ctx.model.workers))),
            otherThreads: perPoem(sum(others.slice(bot.ctx.model.workers))),
          };
    bursts.push({
      concurrent: n,
      within3s: ok.filter((r) => r.first < 3000).length,
      acknowledgedFirst: ok.filter((r) => r.deferred).length,
      maxFirstMs: Math.round(Math.max(...ok.map((r) => r.first))),
      burstMs: Math.round(burstMs),
      poemsPerSecond: Math.round((ok.length / burstMs) * 1000),
      load1: +loadavg()[0]!.toFixed(2),
      mainThreadBusy,
      coresUsed,
      cpuMsPerPoem,
    });
  }
  return bursts;
}
console.log(
  JSON.stringify({
    backend: bot.ctx.model.backend,
    discord: values.discord === 'thread' ? 'stand-in on its own thread' : "stand-in on the bot's main thread",
    model: bot.ctx.model.version,
    poem_workers: bot.ctx.model.workers,
    best_of: bot.ctx.model.tasteModel ? bot.ctx.model.bestOf : 1,
    sequential_requests: sequential.length,
    first_response_ms_p50: +percentile(sequential, 50).toFixed(1),
    first_response_ms_p99: +percentile(sequential, 99).toFixed(1),
    load_before: +loadBefore.toFixed(2),
    cores: availableParallelism(),
    rounds: rounds.map((bursts, k) => ({ round: k + 1, kind: k === 0 ? 'cold' : 'warm', bursts })),
    // what the bursts leave behind: @discordjs/rest's queues (one per edited interaction until its minute's sweep) and cooldowns
    rest_queues_after: bot.client.rest.handlers.size,
    cooldowns_after: bot.ctx.cooldowns.size,
  }),
);
await bot.stop();
await closeDiscord();
