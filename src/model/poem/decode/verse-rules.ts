/**
 * The rules of verse as masks over the vocabulary, for the poem writer (generate.ts) to draw inside: at each
 * position, which characters the form, the tone template (格律) and the rhyme allow, and which ones the draw
 * must pass over (stutters, a line copied from the corpus). Nothing is retried: every poem keeps them by
 * construction.
 */
import prand from 'pure-rand';
import { classicalRhymeGroups } from '../../verse/classical-rhyme.js';
import { FORM_SHAPE, type Form } from '../../verse/corpus.js';
import type { CorpusLines } from '../../verse/corpus-lines.js';
import { rhymeClasses, rhymeGroups } from '../../verse/modern-rhyme.js';
import { toneTemplate, type Tonal } from '../../verse/poetics.js';
import { clearTone } from '../../verse/tones.js';
import type { Vocab } from '../../verse/vocab.js';
import type { RhymeSystem } from './poem-request.js';

/**
 * Characters a poem may repeat (beyond reduplication such as 青青), by form: about what the Tang poems of the
 * training split repeat on average (bench/verse-measures.ts), so a 七言 poem may repeat one and a 五言 poem none.
 * The user's own characters are never held to it.
 */
export const REPEAT_ALLOWANCE: Record<Form, number> = { wujue: 0, qijue: 1, wulv: 0, qilv: 1 };
/**
 * How often the first line rhymes too (首句入韵), by form: the share of the training split's regular poems that
 * rhyme (classical groups) whose first line ends in the group of the second (bench/verse-measures.ts).
 */
export const FIRST_LINE_RHYMES: Record<Form, number> = { wujue: 0.119, qijue: 0.704, wulv: 0.187, qilv: 0.734 };
// A rhyme group needs this many characters in the vocabulary to be started on line 2.
const MIN_RHYME_GROUP = 20;

/** What the draw passes over (banned[id] = 1) but `except` (see sampler.ts). */
export type Skip = { banned: Uint8Array; except?: number };

/** One poem's rules as it is written: ask `allowedAt` and `skipAt` before a draw, tell `place` every character. */
export type PoemRules = {
  /** the ids position `pos` may take, or undefined where the user's character stands (or past the end) */
  allowedAt(pos: number): Int32Array | undefined;
  /** what the draw at `pos` must pass over: characters already used (beyond the allowance), a copied line's end */
  skipAt(pos: number): Skip | undefined;
  /** records the character at `pos` (`drawn`: chosen by the sampler, not fixed by the user) */
  place(pos: number, token: number, drawn: boolean): void;
};

/** The masks of one vocabulary, computed once per loaded model. */
export class VerseRules {
  private readonly contentIds: Int32Array;
  /** rhyme group → vocabulary ids that can end an even line in that group */
  private readonly rhyme: Record<RhymeSystem, { members: Map<string, Int32Array>; starters: Int32Array; groupsOf: (ch: string) => Set<string> }>;
  /** per vocabulary id: 1 level, 2 oblique, 0 either or unknown (tones.ts) */
  private readonly toneOfId: Uint8Array;
  /** content ids fit for a position that must be level / oblique */
  private readonly fitFor: Record<'level' | 'oblique', Int32Array>;

  constructor(
    private readonly vocab: Vocab,
    /** the training split's lines: no poem copies one */
    private readonly corpusLines: CorpusLines,
  ) {
    const content: number[] = [];
    for (let id = vocab.firstChar; id < vocab.size; id++) content.push(id);
    this.contentIds = Int32Array.from(content);
    const chars = content.map((id) => vocab.tokens[id]!);
    const classical = classicalRhymeGroups();
    const system = (classes: Map<string, number[]>, groupsOf: (ch: string) => Set<string>) => {
      const members = new Map([...classes].map(([group, idx]) => [group, Int32Array.from(idx, (k) => content[k]!)]));
      const starters = new Set([...members.values()].filter((ids) => ids.length >= MIN_RHYME_GROUP).flatMap((ids) => [...ids]));
      return { members, starters: Int32Array.from([...starters].sort((a, b) => a - b)), groupsOf };
    };
    const classicalClasses = new Map<string, number[]>();
    chars.forEach((ch, k) => {
      const group = classical.get(ch);
      if (group) classicalClasses.set(group, [...(classicalClasses.get(group) ?? []), k]);
    });
    this.rhyme = {
      classical: system(classicalClasses, (ch) => new Set(classical.has(ch) ? [classical.get(ch)!] : [])),
      modern: system(rhymeClasses(chars), rhymeGroups),
    };
    this.toneOfId = new Uint8Array(vocab.size);
    for (const id of content) this.toneOfId[id] = { level: 1, oblique: 2, none: 0 }[clearTone(vocab.tokens[id]!) ?? 'none'];
    this.fitFor = { level: this.contentIds.filter((id) => this.toneOfId[id] !== 2), oblique: this.contentIds.filter((id) => this.toneOfId[id] !== 1) };
  }

  /** The tone template that the user's own characters break least (a tie drawn at random); none with tones off. */
  private chooseTemplate(form: Form, forced: Map<number, number>, tones: boolean, firstLineRhymes: boolean, rng: prand.RandomGenerator): Tonal[][] | undefined {
    if (!tones) return undefined;
    const { lineLength, lines } = FORM_SHAPE[form];
    const candidates = ([0, 1] as const).map((k) => toneTemplate(k, lineLength, lines, firstLineRhymes));
    const conflicts = candidates.map(
      (t) =>
        [...forced].filter(([pos, id]) => {
          const want = t[Math.floor(pos / lineLength)]![pos % lineLength];
          return want && this.toneOfId[id] === (want === 'level' ? 2 : 1);
        }).length,
    );
    if (conflicts[0] !== conflicts[1]) return candidates[conflicts[0]! < conflicts[1]! ? 0 : 1];
    return candidates[prand.unsafeUniformIntDistribution(0, 1, rng)];
  }

  /**
   * The rules for one poem of `form` with the user's characters `forced` (position → id): draws whether the
   * first line rhymes (首句入韵, as often as the Tang poets did in this form; never where the user's character
   * ends line 1) and the tone template, from `rng`.
   */
  forPoem(form: Form, forced: Map<number, number>, options: { tones: boolean; rhyme: RhymeSystem }, rng: prand.RandomGenerator): PoemRules {
    const { lineLength, lines: lineCount } = FORM_SHAPE[form];
    const vocab = this.vocab;
    const chosen: number[] = [];
    let rhymeGroupsLeft: Set<string> | undefined;
    const usedRhymes = new Set<number>();
    const used = new Uint8Array(vocab.size); // 1: already in the poem
    let repeatsLeft = REPEAT_ALLOWANCE[form];
    const firstLineRhymes = prand.unsafeUniformIntDistribution(0, 999, rng) < 1000 * FIRST_LINE_RHYMES[form] && !forced.has(lineLength - 1);
    const template = this.chooseTemplate(form, forced, options.tones, firstLineRhymes, rng);
    const rhyme = this.rhyme[options.rhyme];
    const rhymesAt = (line: number) => line % 2 === 1 || (line === 0 && firstLineRhymes);
    /** a reduplication of the character before (青青, never 青青青) is no stutter */
    const reduplicableAt = (col: number) => {
      const previous = col > 0 ? chosen[chosen.length - 1] : undefined;
      return previous !== undefined && (col < 2 || chosen[chosen.length - 2] !== previous) ? previous : undefined;
    };

    return {
      allowedAt: (pos) => {
        if (pos >= lineCount * lineLength || forced.has(pos)) return undefined;
        const line = Math.floor(pos / lineLength),
          col = pos % lineLength;
        // 格律: the template's tone here, if it sets one (the user's characters were placed regardless)
        const want = template?.[line]?.[col];
        if (!(col === lineLength - 1 && rhymesAt(line))) return want ? this.fitFor[want] : this.contentIds;
        // a rhyming line's end: a group with enough characters to start, then the groups left, no rhyme twice
        let allowed = rhymeGroupsLeft
          ? Int32Array.from([...rhymeGroupsLeft].flatMap((g) => [...(rhyme.members.get(g) ?? [])]).filter((id) => !usedRhymes.has(id)))
          : rhyme.starters;
        if (want) {
          const fit = allowed.filter((id) => this.toneOfId[id] !== (want === 'level' ? 2 : 1));
          if (fit.length > 0) allowed = fit;
        }
        return allowed;
      },

      skipAt: (pos) => {
        const line = Math.floor(pos / lineLength),
          col = pos % lineLength;
        // no stutter: a character already in the poem only as a reduplication, unless the form's allowance of
        // repeats is not spent yet (the sampler skips the banned ids in its one pass: no filtered copy per step)
        const reduplicable = reduplicableAt(col);
        let skip: Skip | undefined = repeatsLeft === 0 ? { banned: used, except: reduplicable } : undefined;
        // no copying: a line's last character never completes a line of the training corpus
        if (col === lineLength - 1) {
          const copies = this.corpusLines.completions(vocab.decode(chosen.slice(line * lineLength))).flatMap((ch) => (vocab.has(ch) ? [vocab.id(ch)] : []));
          if (copies.length > 0) {
            const banned = skip ? used.slice() : new Uint8Array(vocab.size);
            for (const id of copies) banned[id] = 1;
            skip = { banned, except: skip && reduplicable !== undefined && !copies.includes(reduplicable) ? reduplicable : undefined };
          }
        }
        return skip;
      },

      place: (pos, token, drawn) => {
        const line = Math.floor(pos / lineLength),
          col = pos % lineLength;
        if (drawn) {
          if (used[token] && token !== reduplicableAt(col)) repeatsLeft = Math.max(0, repeatsLeft - 1);
          if (col === lineLength - 1 && rhymesAt(line)) {
            const groups = rhyme.groupsOf(vocab.tokens[token]!);
            rhymeGroupsLeft = new Set(rhymeGroupsLeft ? [...rhymeGroupsLeft].filter((g) => groups.has(g)) : groups);
            usedRhymes.add(token);
          }
        }
        chosen.push(token);
        used[token] = 1;
      },
    };
  }
}
