/** The bot's settings, read from the environment (and .env) and validated once at start. */
import cron from 'node-cron';
import { BASE_CHECKPOINT, COUPLET_CHECKPOINT } from '../model/runtime/paths.js';
import { z } from 'zod';
import { RECIPES } from '../shared/verse.js';
import { KernelsChoice, LstmKernelsChoice } from '../model/kernels/native-kernels.js';
import type { FinetuneSettings } from '../jobs/runner.js';
import { providerOf } from '../db/connection.js';

const idList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^\d{5,25}$/, 'ADMIN_USER_IDS must be Discord user ids separated by commas')));

/** every setting, each on its own (Config adds the checks across settings) */
export const Settings = z.object({
  DISCORD_TOKEN: z.string().min(1).optional(),
  DISCORD_GUILD_ID: z
    .string()
    .regex(/^\d{5,25}$/, 'DISCORD_GUILD_ID must be a server id (digits)')
    .optional(),
  DISCORD_API_URL: z.string().url('DISCORD_API_URL must be a URL such as http://127.0.0.1:8080/api').optional(),
  DATABASE_URL: z.string().default('file:./data/tangshi.db'),
  MODEL_DIR: z.string().default('data/models'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  POEM_COOLDOWN_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  ADMIN_USER_IDS: idList,

  // The learning loop (src/jobs/)
  /** The checkpoint used when no fine-tuned version is active (or every one is damaged). */
  BASE_MODEL_DIR: z.string().default(BASE_CHECKPOINT),
  /** The couplet model /couplet answers with; without one, /couplet says it is not installed. */
  COUPLET_MODEL_DIR: z.string().default(COUPLET_CHECKPOINT),
  /** When the nightly fine-tune starts (cron syntax, seconds optional); "off" disables the schedule. */
  TRAIN_CRON: z
    .string()
    .default('0 3 * * *')
    .refine((v) => v === 'off' || cron.validate(v), 'TRAIN_CRON must be a cron expression such as "0 3 * * *" (03:00 every day), or "off"'),
  TRAIN_TZ: z
    .string()
    .default(() => Intl.DateTimeFormat().resolvedOptions().timeZone)
    .refine(isTimeZone, 'TRAIN_TZ must be an IANA time zone such as Asia/Shanghai or UTC'),
  FINETUNE_MAX_STEPS: z.coerce.number().int().positive().optional(),
  FINETUNE_MAX_MINUTES: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .optional(),
  FINETUNE_LR: z.coerce.number().positive().max(1).default(1.5e-4),
  /** Gradient worker threads of a fine-tune (default: all cores; 1 leaves a core to /poem). */
  FINETUNE_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  /** Threads that write poems (default: one per core but one, at most two; see poem-writer.ts). */
  POEM_WORKERS: z.coerce.number().int().min(1).max(16).optional(),
  /** What the poem writer's kernels run on (read by every poem thread itself, native-kernels.ts; checked here at start). */
  POEM_KERNELS: KernelsChoice.default('auto'),
  /** What a fine-tune's LSTM layers run on (read by the training threads, native-kernels.ts; checked here at start). */
  LSTM_KERNELS: LstmKernelsChoice.default('auto'),
  /** Threads a poem thread's big int8 products use (default: 2 for a lone poem thread on 2+ cores, else 1). */
  POEM_PRODUCT_THREADS: z.coerce.number().int().min(1).max(2).optional(),
  /** Model versions kept under MODEL_DIR/versions besides the active one and rollback's target. */
  MODEL_KEEP_VERSIONS: z.coerce.number().int().min(1).max(1000).default(5),
  /** Dev perplexity may rise by at most this share when a candidate is promoted for the readers' taste. */
  PROMOTE_PPL_BUDGET: z.coerce.number().min(0).max(0.5).default(0.015),
  /** Dev perplexity may have risen by at most this share since BASE_MODEL_DIR's, all nights together. */
  PROMOTE_PPL_TOTAL_BUDGET: z.coerce.number().min(0).max(1).default(0.045),
  /** How the nightly update learns from the readers: raft (the model's own poems the taste model ranks best) or kto (liked and disliked poems). */
  FINETUNE_RECIPE: z.enum(RECIPES).default('raft'),
  /** The share of a fine-tune's steps that learn from the readers (the rest replay the corpus). */
  PREFERENCE_SHARE: z.coerce.number().min(0).max(0.9).default(0.2),
  /** The most one reader's ratings may weigh of a night's learning. */
  READER_MAX_SHARE: z.coerce.number().gt(0).max(1).default(0.05),
  /** Candidates a /poem is written as, the taste model serving the best (1: off); fewer under load. */
  BEST_OF_N: z.coerce.number().int().min(1).max(16).default(4),
  REPORT_CHANNEL_ID: z
    .string()
    .regex(/^\d{5,25}$/, 'REPORT_CHANNEL_ID must be a channel id (digits)')
    .optional(),
  /** How often the admin's /model retrain message shows new progress. */
  PROGRESS_EDIT_SECONDS: z.coerce.number().min(0.2).max(600).default(5),

  // More than one process (docs/topology.md)
  /** The bot's total shard count, the same in every process (Discord requires one shard per 2,500 servers). */
  SHARD_COUNT: z.coerce.number().int().min(1).max(10_000).default(1),
  /** The shards this process runs, e.g. "0,1" or "2-3" (default: all of SHARD_COUNT). */
  SHARD_IDS: z
    .string()
    .regex(/^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$/, 'SHARD_IDS must be shard numbers and ranges such as "0,1" or "0-3"')
    .optional(),
  /** Where fine-tunes run: here (this process, on TRAIN_CRON) or queue (PostgreSQL: a `tangshi trainer` process takes them from a queue). */
  TRAINER: z.enum(['here', 'queue']).default('here'),
  /** How often (seconds) a process re-reads the active model version, besides PostgreSQL's notices. */
  VERSION_CHECK_SECONDS: z.coerce.number().min(1).max(86_400).default(60),
});
export const Config = Settings.superRefine((c, ctx) => {
  const ids = shardIds(c);
  const outside = ids.filter((id) => id >= c.SHARD_COUNT);
  if (c.TRAINER === 'queue' && providerOf(c.DATABASE_URL) !== 'postgresql')
    ctx.addIssue({
      code: 'custom',
      path: ['TRAINER'],
      message: 'TRAINER=queue needs a PostgreSQL DATABASE_URL (postgresql://…): with SQLite the bot trains in its own process',
    });
  if (ids.length === 0) ctx.addIssue({ code: 'custom', path: ['SHARD_IDS'], message: 'SHARD_IDS names no shard (a range runs low to high, e.g. "0-3")' });
  else if (ids.length < c.SHARD_COUNT && c.TRAINER === 'here')
    // the other shards run in other processes: each would schedule its own nightly run
    ctx.addIssue({
      code: 'custom',
      path: ['TRAINER'],
      message:
        'SHARD_IDS runs some of the shards, so other processes run the rest: set TRAINER=queue (PostgreSQL) and run `npx tangshi trainer`, or every process would start its own nightly fine-tune',
    });
  else if (outside.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['SHARD_IDS'],
      message: `shard ${outside[0]} is not below SHARD_COUNT (${c.SHARD_COUNT}): shards are numbered from 0`,
    });
});
export type Config = z.infer<typeof Config>;

/** The shards this process runs: SHARD_IDS's numbers and ranges, sorted, or every shard of SHARD_COUNT. */
export function shardIds(c: { SHARD_COUNT: number; SHARD_IDS?: string }): number[] {
  if (!c.SHARD_IDS) return Array.from({ length: c.SHARD_COUNT }, (_, k) => k);
  const ids = new Set<number>();
  for (const part of c.SHARD_IDS.split(',')) {
    const [from, to = from] = part.split('-').map((x) => Number(x.trim()));
    for (let id = from!; id <= to!; id++) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A night's budget, taste models and gate included: the steps and/or minutes set, else this many minutes. */
export const DEFAULT_FINETUNE_MINUTES = 8;

export function finetuneBudget(config: Config): { maxSteps?: number; maxMinutes?: number } {
  if (!config.FINETUNE_MAX_STEPS && !config.FINETUNE_MAX_MINUTES) return { maxMinutes: DEFAULT_FINETUNE_MINUTES };
  return { maxSteps: config.FINETUNE_MAX_STEPS, maxMinutes: config.FINETUNE_MAX_MINUTES };
}

/** What a fine-tune runs with, from the settings (the bot's runner and the trainer's are the same). */
export function finetuneSettings(config: Config): FinetuneSettings {
  return {
    ...finetuneBudget(config),
    lr: config.FINETUNE_LR,
    workers: config.FINETUNE_WORKERS,
    keepVersions: config.MODEL_KEEP_VERSIONS,
    pplBudget: config.PROMOTE_PPL_BUDGET,
    totalBudget: config.PROMOTE_PPL_TOTAL_BUDGET,
    recipe: config.FINETUNE_RECIPE,
    preferenceShare: config.PREFERENCE_SHARE,
    maxReaderShare: config.READER_MAX_SHARE,
  };
}

/** Parses the environment; throws one readable sentence per problem. Empty values count as unset. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Config.safeParse(present);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
