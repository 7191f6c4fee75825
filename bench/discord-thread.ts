/**
 * The Discord stand-in and the users of a bot benchmark, on a thread of their own: Discord does its side of
 * an interaction on its own machines, so the bot's main thread should carry only the bot's side. The stand-in
 * still runs on the same cores as the bot. Messages: { ask: k, id } → { id, answer } (one /poem, answered).
 */
import { parentPort } from 'node:worker_threads';
import { startDiscordStandIn } from '../test/support/discord/index.js';

const discord = await startDiscordStandIn();
const starts = ['日', '紅', '山', '夜', '湖', '海', '月'];
let userCount = 0;

async function ask(k: number) {
  const user = { id: String(400000000000000000n + BigInt(userCount++)), username: `bench${k}` };
  const i = await discord.slashCommand({ name: 'poem', options: [{ name: 'start', type: 3, value: starts[k % starts.length]! }], user });
  const answer = await i.response();
  return { first: answer.latencyMs, visible: answer.answeredMs, deferred: answer.deferred };
}

parentPort!.on('message', (m: { ask: number; id: number } | { close: true }) => {
  if ('close' in m) {
    void discord.close().then(() => parentPort!.close());
    return;
  }
  ask(m.ask).then(
    (answer) => parentPort!.postMessage({ id: m.id, answer }),
    (e: unknown) => parentPort!.postMessage({ id: m.id, error: String(e) }),
  );
});
parentPort!.postMessage({ ready: { token: discord.token, apiUrl: discord.apiUrl, guildId: discord.guildId } });
