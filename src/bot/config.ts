/** The bot's settings, read from the environment (and .env) and validated once at start. */
import { z } from 'zod';

const idList = z
  .string()
  .default('')
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^\d{5,25}$/, 'ADMIN_USER_IDS must be Discord user ids separated by commas')));

export const Config = z.object({
  DISCORD_TOKEN: z.string().min(1).optional(),
  DISCORD_GUILD_ID: z.string().regex(/^\d{5,25}$/, 'DISCORD_GUILD_ID must be a server id (digits)').optional(),
  DISCORD_API_URL: z.string().url('DISCORD_API_URL must be a URL such as http://127.0.0.1:8080/api').optional(),
  DATABASE_URL: z.string().default('file:./data/tangshi.db'),
  MODEL_DIR: z.string().default('data/models'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  POEM_COOLDOWN_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  ADMIN_USER_IDS: idList,
});
export type Config = z.infer<typeof Config>;

/** Parses the environment; throws one readable sentence per problem. Empty values count as unset. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Config.safeParse(present);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
