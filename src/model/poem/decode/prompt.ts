/**
 * A request's own characters: the start text or acrostic checked (clear messages for bad input), converted
 * to the model's traditional characters, and placed; the form chosen where the request leaves it open.
 */
import prand from 'pure-rand';
import type { z } from 'zod';
import { FORM_SHAPE, FORMS, type Form } from '../../verse/corpus.js';
import { PoemInputError, type PoemRequest } from './poem-request.js';
import { spellIn } from '../../verse/script.js';
import type { Vocab } from '../../verse/vocab.js';

// How often each form appears among the corpus's regular poems (train split): the default form is drawn so.
const FORM_SHARE: Record<Form, number> = { wujue: 3962, qijue: 10384, wulv: 14116, qilv: 7849 };
const HAN = /^\p{Script=Han}$/u;

/** the form, and the user's characters by content position (position → token id) */
export type Prompt = { form: Form; forced: Map<number, number> };

/** Validates and resolves start text / acrostic / form into the characters the poem must contain. */
export function resolvePrompt(vocab: Vocab, req: z.infer<typeof PoemRequest>, rng: prand.RandomGenerator): Prompt {
  if (req.start !== undefined && req.acrostic !== undefined) {
    throw new PoemInputError('Give either a start text or an acrostic, not both.', { code: 'bothPrompts' });
  }
  const kind = req.acrostic !== undefined ? 'acrostic' : 'start text';
  const which = req.acrostic !== undefined ? 'acrostic' : 'start';
  const raw = (req.acrostic ?? req.start ?? '').trim();
  if ((req.acrostic !== undefined || req.start !== undefined) && raw.length === 0) {
    throw new PoemInputError(`The ${kind} is empty: type 1 to 7 Chinese characters, e.g. 月.`, { code: 'empty', kind: which });
  }
  const chars = [...raw];
  const notChinese = [...new Set(chars.filter((ch) => !HAN.test(ch)))];
  if (notChinese.length > 0) {
    throw new PoemInputError(`The ${kind} may hold only Chinese characters; these are not: ${notChinese.map((c) => `「${c}」`).join(' ')}.`, {
      code: 'notChinese',
      kind: which,
      chars: notChinese,
    });
  }
  if (req.start !== undefined && chars.length > 7) {
    throw new PoemInputError(`The start text is too long (${chars.length} characters): a poem line holds at most 7.`, {
      code: 'startTooLong',
      length: chars.length,
    });
  }
  if (req.acrostic !== undefined && chars.length !== 4 && chars.length !== 8) {
    throw new PoemInputError(`An acrostic needs 4 characters (a 绝句) or 8 (a 律诗), one per line; got ${chars.length}.`, {
      code: 'acrosticLength',
      length: chars.length,
    });
  }
  // The model writes traditional characters: the text converted, as typed, or a variant form it knows (顔 → 顏)
  const spelt = spellIn(raw, (ch) => vocab.has(ch));
  const ids = spelt.map((ch) => (ch === undefined ? -1 : vocab.id(ch)));
  const unknown = [...new Set(chars.filter((_, i) => ids[i] === -1))];
  if (unknown.length > 0) {
    throw new PoemInputError(`The model cannot write ${unknown.map((c) => `「${c}」`).join(' ')} (nor a variant form of it): try another character.`, {
      code: 'unknownChars',
      chars: unknown,
    });
  }

  let allowed = [...FORMS];
  if (req.acrostic !== undefined) allowed = allowed.filter((f) => FORM_SHAPE[f].lines === chars.length);
  if (req.start !== undefined) allowed = allowed.filter((f) => FORM_SHAPE[f].lineLength >= chars.length);
  let form = req.form;
  if (form && !allowed.includes(form)) {
    const shape = FORM_SHAPE[form];
    throw req.acrostic !== undefined
      ? new PoemInputError(`A ${shape.name} has ${shape.lines} lines, so its acrostic needs ${shape.lines} characters, not ${chars.length}.`, {
          code: 'formLines',
          form: shape.name,
          lines: shape.lines,
          length: chars.length,
        })
      : new PoemInputError(
          `A ${shape.name} line holds ${shape.lineLength} characters; the start text has ${chars.length}. Choose a 七言 form or a shorter start.`,
          {
            code: 'formLineLength',
            form: shape.name,
            lineLength: shape.lineLength,
            length: chars.length,
          },
        );
  }
  if (!form) {
    const total = allowed.reduce((n, f) => n + FORM_SHARE[f], 0);
    let pick = prand.unsafeUniformIntDistribution(0, total - 1, rng);
    form = allowed.find((f) => {
      pick -= FORM_SHARE[f];
      return pick < 0;
    })!;
  }
  const forced = new Map<number, number>();
  const lineLength = FORM_SHAPE[form].lineLength;
  ids.forEach((id, i) => forced.set(req.acrostic !== undefined ? i * lineLength : i, id));
  return { form, forced };
}
