/** `tangshi trainer`: the trainer role with the bot's settings (.env and the environment), until SIGTERM/SIGINT. */
import { existsSync } from 'node:fs';
import { startTrainer } from '../jobs/trainer.js';
import { providerOf } from '../db/connection.js';
import { log } from '../shared/log.js';
import { finetuneSettings, readConfig, type Config } from '../bot/config.js';

export async function runTrainer(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    config = readConfig();
  } catch (e) {
    console.error(`tangshi trainer: invalid settings: ${(e as Error).message}`);
    process.exit(2);
  }
  if (providerOf(config.DATABASE_URL) !== 'postgresql') {
    console.error(
      'tangshi trainer: the trainer shares a PostgreSQL database with the bot processes (DATABASE_URL=postgresql://…); with SQLite the bot trains in its own process',
    );
    process.exit(2);
  }
  log.level = config.LOG_LEVEL;
  try {
    const trainer = await startTrainer({
      databaseUrl: config.DATABASE_URL,
      log,
      modelDir: config.MODEL_DIR,
      baseDir: config.BASE_MODEL_DIR,
      settings: finetuneSettings(config),
      cron: config.TRAIN_CRON,
      timezone: config.TRAIN_TZ,
    });
    // the command ends (and the CLI exits) only when the trainer has stopped
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void trainer.stop().then(resolve));
    });
  } catch (e) {
    log.fatal({ err: e }, 'the trainer could not start');
    process.exit(1);
  }
}
