/** `npm start`: settings from .env and the environment, then the bot until SIGTERM/SIGINT. */
import { existsSync } from 'node:fs';
import { startBot } from './bot.js';
import { readConfig, type Config } from './config.js';
import { log } from '../shared/log.js';

if (existsSync('.env')) process.loadEnvFile('.env');
let config: Config;
try {
  config = readConfig();
} catch (e) {
  console.error(`tangshi-bot: invalid settings: ${(e as Error).message}`);
  process.exit(2);
}
try {
  const bot = await startBot(config);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void bot.stop().then(() => process.exit(0)));
  }
} catch (e) {
  const message = (e as Error).message;
  if (message.startsWith('DISCORD_TOKEN')) console.error(`tangshi-bot: ${message}`);
  else log.fatal({ err: e }, 'could not start');
  process.exit(1);
}
