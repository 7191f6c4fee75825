/**
 * The rules for input from outside (Discord): every function of the data layer that takes such input
 * checks it here with zod and throws InvalidInputError, whose message names the field and the rule.
 */
import { z } from 'zod';
import { COUPLET_FORMS, FORMS, SCRIPTS } from '../shared/verse.js';

/** Input that breaks a rule (stars out of range, an empty id…). The message says which and why. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly issues: z.ZodIssue[] = [],
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

export function checkInput<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new InvalidInputError(`${what}: ${details}`, result.error.issues);
}

export const DiscordId = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');
export const PoemId = z.number({ invalid_type_error: 'must be a number' }).int('must be a whole number').positive('must be positive');
const Stars = z
  .number({ required_error: 'is required', invalid_type_error: 'must be a number' })
  .int('must be a whole number from 1 to 5')
  .min(1, 'must be from 1 to 5')
  .max(5, 'must be from 1 to 5');

export const PoemInput = z
  .object({
    guildId: DiscordId,
    channelId: DiscordId,
    userId: DiscordId,
    kind: z.enum(['poem', 'couplet']).default('poem'),
    promptKind: z.enum(['start', 'acrostic', 'none']),
    promptText: z.string().max(64).default(''),
    form: z.enum([...FORMS, ...COUPLET_FORMS]),
    script: z.enum(SCRIPTS),
    text: z.string().min(1, 'must not be empty').max(2000),
    checkpointVersion: z.string().min(1, 'must not be empty').max(200),
    messageId: DiscordId.nullish(),
    seed: z.number().int().nullish(),
    /** the request's other options, as JSON (what 🔄 asks again with) */
    options: z.string().max(500).default('{}'),
    candidates: z.number().int().min(1).default(1),
    tasteVersion: z.string().max(200).nullish(),
    replacesPoemId: PoemId.nullish(),
  })
  .superRefine((p, ctx) => {
    if (p.promptKind === 'none' && p.promptText !== '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['promptText'], message: 'must be empty when promptKind is "none"' });
    }
    if (p.promptKind !== 'none' && p.promptText === '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['promptText'], message: `must not be empty when promptKind is "${p.promptKind}"` });
    }
    if ((p.kind === 'couplet') !== p.form.startsWith('couplet')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['form'], message: `"${p.form}" is not a form of a ${p.kind}` });
    }
  });
export type PoemInput = z.input<typeof PoemInput>;

export const RatingInput = z.object({ poemId: PoemId, userId: DiscordId, stars: Stars });
export type RatingInput = z.input<typeof RatingInput>;

export const TopQuery = z.object({
  period: z.enum(['day', 'week', 'all']),
  kind: z.enum(['poem', 'couplet']).default('poem'),
  guildId: DiscordId.optional(),
  limit: z.number().int().min(1).max(100).default(10),
  now: z.date().default(() => new Date()),
});
export type TopQuery = z.input<typeof TopQuery>;
