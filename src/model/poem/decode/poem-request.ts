/**
 * Asking for a poem: the request, the answer and the bad-input error. Kept apart from the sampler so the
 * bot's main thread (which only passes requests to the poem worker) never loads TensorFlow.js.
 */
import { z } from 'zod';
import { DEFAULT_SCRIPT, FORMS, type Form, POEM_SAMPLING, RHYME_SYSTEMS, SCRIPTS, type Script } from '../../../shared/verse.js';

export const PoemRequest = z.object({
  start: z.string().optional(),
  acrostic: z.string().optional(),
  form: z.enum(FORMS).optional(),
  temperature: z.number().min(0.05).max(3).default(POEM_SAMPLING.temperature),
  topK: z.number().int().min(1).default(POEM_SAMPLING.topK),
  topP: z.number().gt(0).max(1).default(POEM_SAMPLING.topP),
  seed: z.number().int().optional(),
  script: z.enum(SCRIPTS).default(DEFAULT_SCRIPT),
  /** the tone rules of regulated verse (平仄) in decoding; off: any tones */
  tones: z.boolean().default(true),
  /** which rhyme groups the even lines keep: the poets' own (classical-rhyme.ts) or 十三辙 on modern readings (rhyme.ts) */
  rhyme: z.enum(RHYME_SYSTEMS).default('classical'),
});
export type { RhymeSystem } from '../../../shared/verse.js';
export type PoemRequest = z.input<typeof PoemRequest>;
/**
 * a written poem; `version`: the model version that wrote it. Served by the poem threads, also `seed` (the
 * seed of the candidate served), `candidates` (how many were written for it) and, when a taste model chose
 * among them, its version and the served poem's conservative score.
 */
export type GeneratedPoem = {
  text: string;
  lines: string[];
  form: Form;
  script: Script;
  version: string;
  seed?: number;
  candidates?: number;
  taste?: { version: string; score: number };
};

/** What was wrong with a request, for a message in the user's language (the bot's catalog, src/bot/messages.ts). */
export type InputProblem =
  | { code: 'bothPrompts' }
  | { code: 'empty'; kind: 'start' | 'acrostic' | 'upper' }
  | { code: 'notChinese'; kind: 'start' | 'acrostic' | 'upper'; chars: string[] }
  | { code: 'startTooLong'; length: number }
  | { code: 'acrosticLength'; length: number }
  | { code: 'upperLength'; length: number }
  | { code: 'unknownChars'; chars: string[] }
  | { code: 'formLines'; form: string; lines: number; length: number }
  | { code: 'formLineLength'; form: string; lineLength: number; length: number }
  | { code: 'invalid'; field: string; detail: string };

/** A request checked by its schema; the first problem found is a PoemInputError that names the field. */
export function parseRequest<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, request: unknown): T {
  const parsed = schema.safeParse(request);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'request';
  throw new PoemInputError(`Invalid ${field}: ${issue.message}.`, { code: 'invalid', field, detail: issue.message });
}

/** Bad input: the message (English) names the problem and is fit to show a user; `problem` says it in data. */
export class PoemInputError extends Error {
  constructor(
    message?: string,
    readonly problem?: InputProblem,
  ) {
    super(message);
  }
}
