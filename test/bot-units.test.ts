/** The bot's small pieces: settings, locale → script, button ids, embeds. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startBot } from '../src/bot/bot.js';
import { Settings, DEFAULT_FINETUNE_MINUTES, finetuneBudget, readConfig, shardIds } from '../src/bot/config.js';
import { BASE_CHECKPOINT } from '../src/model/poem/checkpoint.js';
import { scriptForLocale } from '../src/bot/commands/poem.js';
import { poemEmbed, promptLabel, RatingButtonId, ratingButtons } from '../src/bot/poem-message.js';

describe('settings', () => {
  it('fills the defaults and treats empty values as unset', () => {
    const c = readConfig({ DISCORD_TOKEN: 'abc', DISCORD_GUILD_ID: '' });
    expect(c.DISCORD_GUILD_ID).toBeUndefined();
    expect(c.DATABASE_URL).toBe('file:./data/tangshi.db');
    expect(c.MODEL_DIR).toBe('data/models');
    expect(c.POEM_COOLDOWN_SECONDS).toBe(5);
    expect(c.ADMIN_USER_IDS).toEqual([]);
  });

  it('names every bad value in one readable message', () => {
    expect(() => readConfig({ DISCORD_API_URL: 'not a url', DISCORD_GUILD_ID: 'my server', LOG_LEVEL: 'loud' })).toThrow(
      /DISCORD_GUILD_ID: .*server id.*DISCORD_API_URL: .*must be a URL.*LOG_LEVEL/,
    );
    expect(() => readConfig({ ADMIN_USER_IDS: '123456789012345678, bob' })).toThrow(/ADMIN_USER_IDS must be Discord user ids/);
    expect(() => readConfig({ POEM_KERNELS: 'fast' })).toThrow(/POEM_KERNELS/);
    expect(readConfig({ POEM_KERNELS: 'wasm' }).POEM_KERNELS).toBe('wasm');
    expect(() => readConfig({ LSTM_KERNELS: 'wasm' })).toThrow(/LSTM_KERNELS/);
    expect(readConfig({ LSTM_KERNELS: 'tensorflow' }).LSTM_KERNELS).toBe('tensorflow');
    expect(readConfig({ ADMIN_USER_IDS: '123456789012345678, 223456789012345678' }).ADMIN_USER_IDS).toHaveLength(2);
  });

  it('learning-loop settings: defaults, budget, cron and time zone checked', () => {
    const c = readConfig({});
    expect([c.TRAIN_CRON, c.PROMOTE_PPL_BUDGET, c.FINETUNE_RECIPE, c.BEST_OF_N, c.BASE_MODEL_DIR]).toEqual(['0 3 * * *', 0.015, 'raft', 4, BASE_CHECKPOINT]);
    expect(finetuneBudget(c)).toEqual({ maxMinutes: DEFAULT_FINETUNE_MINUTES });
    expect(() => readConfig({ FINETUNE_RECIPE: 'dpo' })).toThrow(/FINETUNE_RECIPE/);
    expect(() => readConfig({ BEST_OF_N: '0' })).toThrow(/BEST_OF_N/);
    expect(finetuneBudget(readConfig({ FINETUNE_MAX_STEPS: '5' }))).toEqual({ maxSteps: 5, maxMinutes: undefined });
    expect(readConfig({ TRAIN_CRON: 'off', TRAIN_TZ: 'Asia/Shanghai' }).TRAIN_TZ).toBe('Asia/Shanghai');
    expect(() => readConfig({ TRAIN_CRON: 'every night' })).toThrow(/TRAIN_CRON must be a cron expression/);
    expect(() => readConfig({ TRAIN_TZ: 'Mars/Olympus' })).toThrow(/TRAIN_TZ must be an IANA time zone/);
    expect(() => readConfig({ FINETUNE_MAX_STEPS: '-3', REPORT_CHANNEL_ID: '#reports' })).toThrow(/FINETUNE_MAX_STEPS.*REPORT_CHANNEL_ID must be a channel id/);
  });

  it('shards: SHARD_IDS as numbers and ranges below SHARD_COUNT (default: all of them); TRAINER=queue only on PostgreSQL', () => {
    expect(shardIds(readConfig({}))).toEqual([0]);
    expect(shardIds(readConfig({ SHARD_COUNT: '4' }))).toEqual([0, 1, 2, 3]);
    const pg = { DATABASE_URL: 'postgresql://u:p@db:5432/tangshi', TRAINER: 'queue' };
    expect(shardIds(readConfig({ SHARD_COUNT: '8', SHARD_IDS: '6-7, 2,0', ...pg }))).toEqual([0, 2, 6, 7]);
    expect(shardIds(readConfig({ SHARD_COUNT: '2', SHARD_IDS: '0-1' }))).toEqual([0, 1]);
    // some of the shards: other processes run the rest, and each would schedule its own nightly run
    expect(() => readConfig({ SHARD_COUNT: '4', SHARD_IDS: '0,1' })).toThrow(/TRAINER: SHARD_IDS runs some of the shards.*TRAINER=queue/);
    expect(() => readConfig({ SHARD_COUNT: '4', SHARD_IDS: '3,4', ...pg })).toThrow(/SHARD_IDS: shard 4 is not below SHARD_COUNT \(4\)/);
    expect(() => readConfig({ SHARD_COUNT: '4', SHARD_IDS: '3-1', ...pg })).toThrow(/SHARD_IDS names no shard/);
    expect(() => readConfig({ SHARD_IDS: 'all' })).toThrow(/SHARD_IDS must be shard numbers and ranges/);
    expect(() => readConfig({ SHARD_COUNT: '0' })).toThrow(/SHARD_COUNT/);
    expect(() => readConfig({ TRAINER: 'queue' })).toThrow(/TRAINER=queue needs a PostgreSQL DATABASE_URL/);
    expect(readConfig({ TRAINER: 'queue', DATABASE_URL: 'postgresql://u:p@db:5432/tangshi' }).TRAINER).toBe('queue');
  });

  it('.env.example documents every setting and is itself valid', () => {
    const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));
    expect(Object.keys(example).sort()).toEqual([...Object.keys(Settings.shape), 'TFJS_BACKEND'].sort());
    expect(() => readConfig(example)).not.toThrow();
  });

  it("the bot's main thread does not load TensorFlow.js (the model lives on worker threads)", () => {
    const probe = (module: string) =>
      execFileSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(module)}); console.log('_tfengine' in globalThis)`],
        { encoding: 'utf8' },
      ).trim();
    expect(probe(new URL('../src/bot/bot.ts', import.meta.url).href)).toBe('false');
    expect(probe(new URL('../src/model/poem/decode/generate.ts', import.meta.url).href)).toBe('true'); // the probe can see it
  });

  it('refuses to start without a token, saying what to set and how to try a poem offline', async () => {
    await expect(startBot(readConfig({}))).rejects.toThrow(/DISCORD_TOKEN is not set.*\.env.*npx tangshi poem 月/);
  });
});

describe('script by locale', () => {
  it.each([
    ['zh-CN', 'simplified'],
    ['zh-TW', 'traditional'],
    ['en-US', 'traditional'],
    ['ja', 'traditional'],
  ])('%s → %s', (locale, script) => expect(scriptForLocale(locale)).toBe(script));
});

describe('rating buttons', () => {
  it('round-trips the custom id of each of the five buttons', () => {
    const ids = ratingButtons(42)
      .toJSON()
      .components.map((b) => (b as { custom_id: string }).custom_id);
    expect(ids.map((id) => RatingButtonId.parse(id))).toEqual([1, 2, 3, 4, 5].map((stars) => ({ poemId: 42, stars })));
  });

  it.each(['rate:42:6', 'rate:42:0', 'rate:x:3', 'rate:42', 'vote:42:3', 'rate:42:3:extra', 'rate:1234567890123:3'])('rejects %s', (id) => {
    expect(RatingButtonId.safeParse(id).success).toBe(false);
  });
});

describe('poem embed', () => {
  it('shows one verse per line, the form, the model version and the prompt; the rating once there is one', () => {
    const view = {
      lines: ['床前明月光', '疑是地上霜', '舉頭望明月', '低頭思故鄉'],
      form: 'wujue' as const,
      version: 'v1',
      prompt: promptLabel('acrostic', '床疑舉低'),
    };
    const plain = poemEmbed(view).toJSON();
    expect(plain.title).toBe('五言绝句');
    expect(plain.description).toBe(view.lines.join('\n'));
    expect(plain.footer?.text).toBe('model v1 · 藏头 床疑舉低');
    expect(plain.fields ?? []).toHaveLength(0);
    const rated = poemEmbed({ ...view, rating: { average: 4.5, count: 2 } }).toJSON();
    expect(rated.fields![0]!.value).toContain('4.5 (2 ratings)');
  });
});
