/** The benchmarks' user: one /poem against the Discord stand-in (bot-latency.ts, discord-thread.ts). */
import type { DiscordStandIn } from '../test/support/discord/index.js';

/**
 * first, visible: ms from the interaction's dispatch to its first response and to its poem being visible;
 * sentAt, visibleAt: when the user sent it and when the poem became visible, on the stand-in's clock (one
 * clock for every poem of a burst: a burst is timed from its first request sent to its last poem visible)
 */
export type BenchAnswer = { first: number; visible: number; deferred: boolean; sentAt: number; visibleAt: number };
const STARTS = ['日', '紅', '山', '夜', '湖', '海', '月'];
let benchUsers = 0;

/** One /poem from a new user (no cooldown in the way), starting with one of the report poems' characters; its timings. */
export async function askPoem(discord: DiscordStandIn, k: number): Promise<BenchAnswer> {
  const user = { id: String(400000000000000000n + BigInt(benchUsers++)), username: `bench${k}` };
  const sentAt = discord.now();
  const i = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: STARTS[k % STARTS.length]! }], user });
  const answer = await i.response();
  return { first: answer.latencyMs, visible: answer.answeredMs, deferred: answer.deferred, sentAt, visibleAt: discord.now() };
}
