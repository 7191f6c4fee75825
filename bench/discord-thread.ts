/**
 * The Discord stand-in and the users of a bot benchmark, on a thread of their own: Discord does its side of
 * an interaction on its own machines, so the bot's main thread should carry only the bot's side. The stand-in
 * still runs on the same cores as the bot. Messages: { ask: k, id } → { id, answer } (one /poem, answered).
 */
import { parentPort } from 'node:worker_threads';
import { startDiscordStandIn } from '../test/support/discord/index.js';
import { askPoem } from './ask-poem.js';
import { osThreadId } from './thread-cpu.js';

const discord = await startDiscordStandIn();
parentPort!.on('message', (m: { ask: number; id: number } | { close: true }) => {
  if ('close' in m) {
    void discord.close().then(() => parentPort!.close());
    return;
  }
  askPoem(discord, m.ask).then(
    (answer) => parentPort!.postMessage({ id: m.id, answer }),
    (e: unknown) => parentPort!.postMessage({ id: m.id, error: String(e) }),
  );
});
parentPort!.postMessage({ ready: { token: discord.token, apiUrl: discord.apiUrl, guildId: discord.guildId, tid: osThreadId() } });
