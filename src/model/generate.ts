/**
 * The poem writer. Every poem is exactly its form by construction: at each position a mask allows only
 * what the form permits (a character inside a line, `，`/`。` at line ends, the end token last, never
 * <unk>), even lines end on characters of one rhyme group, the tone template (格律) holds, no character
 * stutters and no line is copied from the corpus. Nothing is retried. The network is serving-lstm.ts; the
 * request's own characters, prompt.ts; the draw, sampler.ts.
 */
import { LRUCache } from 'lru-cache';
import prand from 'pure-rand';
import type { z } from 'zod';
import type { BackendInfo } from './backend.js';
import { BASE_CHECKPOINT, type Manifest } from './checkpoint.js';
import { FORM_SHAPE, poemText, type Form } from './corpus.js';
import { CorpusLines } from './corpus-lines.js';
import { classicalRhymeGroups } from './classical-rhyme.js';
import { rhymeClasses, rhymeGroups } from './rhyme.js';
import type { RhymeSystem } from './poem-request.js';
import { toneTemplate, type Tonal } from './poetics.js';
import { resolvePrompt, type Prompt } from './prompt.js';
import { sample } from './sampler.js';
import { ServingLstm, type LstmState, type Precision, type WantLogits } from './serving-lstm.js';
import { clearTone } from './tones.js';
import { inScript } from './script.js';
import { BOS, type Vocab } from './vocab.js';
import { PoemInputError, PoemRequest, parseRequest, type GeneratedPoem } from './poem-request.js';

export { PoemInputError, PoemRequest, type GeneratedPoem };
export { Precision } from './serving-lstm.js';

/**
 * Characters a poem may repeat (beyond reduplication such as 青青): the Tang poems of each form repeat, on
 * average, 0.41 (五绝), 0.58 (七绝), 0.48 (五律) and 0.96 (七律) characters a poem that way (training split,
 * 1.6% of their characters), so a 七言 poem may repeat one and a 五言 poem none. The user's own characters
 * are never held to it.
 */
export const REPEAT_ALLOWANCE: Record<Form, number> = { wujue: 0, qijue: 1, wulv: 0, qilv: 1 };
/**
 * How often the first line rhymes too (首句入韵), by form: the share of the training split's regular poems
 * that rhyme (classical groups) whose first line ends in the group of the second: 11.9% (五绝), 70.4% (七绝),
 * 18.7% (五律), 73.4% (七律).
 */
export const FIRST_LINE_RHYMES: Record<Form, number> = { wujue: 0.119, qijue: 0.704, wulv: 0.187, qilv: 0.734 };
// A rhyme group needs this many characters in the vocabulary to be started on line 2.
const MIN_RHYME_GROUP = 20;
/**
 * LSTM steps kept for the tokens a request fixes before its first drawn character (BOS, the form, the
 * user's first characters): the state after them and the next-token logits, ~29 KB each (2 layers, H = 512,
 * 5,286 ids): a burst of /poem 月 computes them once, not once a poem.
 */
const PREFIX_CACHE_SIZE = 128;

/** A token for the LSTM to feed; `drawn`: chosen by the sampler (not fixed by the form or the user). */
type Feed = { token: number; wantLogits: WantLogits; drawn: boolean };

/** A poem being written: the token it feeds next, and the poem once it is done (see PoemModel.step). */
export type PoemDraft = {
  state: LstmState;
  next: Feed;
  steps: Generator<Feed, GeneratedPoem, Float32Array | undefined>;
  poem: GeneratedPoem | undefined;
};

/** A loaded checkpoint, ready to write poems: weights ready for products, decoding masks precomputed. */ export class PoemModel {
  private readonly contentIds: Int32Array;
  /** rhyme group → vocabulary ids that can end an even line in that group */
  private readonly rhyme: Record<RhymeSystem, { members: Map<string, Int32Array>; starters: Int32Array; groupsOf: (ch: string) => Set<string> }>;
  /** per vocabulary id: 1 level, 2 oblique, 0 either or unknown (tones.ts) */
  private readonly toneOfId: Uint8Array;
  /** content ids fit for a position that must be level / oblique */
  private readonly fitFor: Record<'level' | 'oblique', Int32Array>;
  /** the tokens before a request's first drawn one, joined → the LSTM state after them and all next-token logits */
  private readonly prefixes = new LRUCache<string, { state: LstmState; logits: Float32Array }>({ max: PREFIX_CACHE_SIZE });

  private constructor(
    /** the network, as generation runs it */
    readonly lstm: ServingLstm,
    /** the training split's lines: no poem copies one */
    private readonly corpusLines: CorpusLines,
  ) {
    const vocab = lstm.vocab;
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

  /** `threads`: 2 lets a helper thread share the big int8 products (serving-lstm.ts); the poems are the same. */
  static async load(dir = BASE_CHECKPOINT, options: { precision?: Precision; corpusLines?: CorpusLines; threads?: number } = {}): Promise<PoemModel> {
    const lstm = await ServingLstm.load(dir, options.precision ?? 'int8', options.threads ?? 1);
    return new PoemModel(lstm, options.corpusLines ?? CorpusLines.load());
  }

  get manifest(): Manifest {
    return this.lstm.manifest;
  }
  get vocab(): Vocab {
    return this.lstm.vocab;
  }
  get precision(): Precision {
    return this.lstm.precision;
  }
  get backendInfo(): BackendInfo {
    return this.lstm.backendInfo;
  }
  get version(): string {
    return this.manifest.version;
  }

  /** the backend and the TensorFlow behind it, e.g. "node (TensorFlow 2.21.0, 2 threads)" */
  get backend(): string {
    return this.lstm.backend;
  }

  dispose(): void {
    this.lstm.dispose();
  }

  /** Writes one poem. Throws PoemInputError for bad input. */
  generate(request: PoemRequest): GeneratedPoem {
    return this.generateMany([request])[0]!;
  }

  /**
   * Writes several poems together, one step for all of them at a time (the products run as matrix ×
   * matrix), each exactly what generate() gives for its request and seed. Throws PoemInputError for the
   * first bad request before any poem is written.
   */
  generateMany(requests: PoemRequest[]): GeneratedPoem[] {
    const drafts = requests.map((r) => this.startPoem(r));
    let live = drafts;
    while (live.length > 0) {
      this.step(live);
      live = live.filter((d) => !d.poem);
    }
    return drafts.map((d) => d.poem!);
  }

  /**
   * Starts a poem: validates the request (throws PoemInputError) and returns its draft, which step()
   * writes one token at a time until `poem` is set.
   */
  startPoem(request: PoemRequest): PoemDraft {
    const req = parseRequest(PoemRequest, request);
    // Mersenne Twister: its seeding spreads nearby seeds (xoroshiro128+ gave correlated first draws for seeds 0, 1, 2…)
    const rng = prand.mersenne(req.seed ?? Math.floor(Math.random() * 2 ** 31));
    const prompt = resolvePrompt(this.vocab, req, rng);
    const state = this.lstm.newState();
    const steps = this.writePoem(req, prompt, rng);
    let next = steps.next(); // runs up to the first token to feed (BOS)
    // The tokens before the first drawn one follow from the request alone: their steps come from the cache
    // (or are computed here, one poem alone: the same numbers as in a batch), so a poem joins the batch at
    // its first drawn character.
    let prefix = '';
    while (!next.done && !next.value.drawn) {
      prefix += `${next.value.token},`;
      let after = this.prefixes.get(prefix);
      if (after) copyState(after.state, state);
      else {
        // all logits, whichever ids this request's next position allows: another request may allow others
        const logits = this.lstm.advance(state, next.value.token, true)!.slice();
        after = { state: state.map(({ h, c }) => ({ h: h.slice(), c: c.slice() })), logits };
        this.prefixes.set(prefix, after);
      }
      next = steps.next(after.logits);
    }
    if (next.done) throw new Error('writePoem: a poem with no drawn character');
    return { state, next: next.value, steps, poem: undefined };
  }

  /**
   * Advances every unfinished draft by one token: the LSTM steps of all of them share each product, then
   * each draft chooses its next token from its own logits.
   */
  step(drafts: PoemDraft[]): void {
    const live = drafts.filter((d) => !d.poem);
    const logits = this.lstm.advanceMany(live.map((d) => ({ state: d.state, token: d.next.token, wantLogits: d.next.wantLogits })));
    live.forEach((d, k) => {
      const r = d.steps.next(logits[k]);
      if (r.done) d.poem = r.value;
      else d.next = r.value;
    });
  }

  /**
   * One poem, as a sequence of tokens to feed: it yields each token (and whether the logits after it are
   * needed) and is given those logits back. The sampler lives here: masks for the form, 格律, rhyme and
   * repeats at each position.
   */
  private *writePoem(req: z.output<typeof PoemRequest>, { form, forced }: Prompt, rng: prand.RandomGenerator): PoemDraft['steps'] {
    const { lineLength, lines: lineCount } = FORM_SHAPE[form];
    const chosen: number[] = [];
    let rhymeGroupsLeft: Set<string> | undefined;
    const usedRhymes = new Set<number>();
    const used = new Uint8Array(this.vocab.size); // 1: already in the poem
    let repeatsLeft = REPEAT_ALLOWANCE[form];
    // 首句入韵 as often as the Tang poets did it in this form; never where the user's character ends line 1
    const firstLineRhymes = prand.unsafeUniformIntDistribution(0, 999, rng) < 1000 * FIRST_LINE_RHYMES[form] && !forced.has(lineLength - 1);
    const template = this.chooseTemplate(form, forced, req.tones, firstLineRhymes, rng);
    const rhyme = this.rhyme[req.rhyme];
    const rhymesAt = (line: number) => line % 2 === 1 || (line === 0 && firstLineRhymes);
    /** the ids position `pos` may take, or undefined where the user's character stands */
    const allowedAt = (pos: number): Int32Array | undefined => {
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
    };
    yield { token: BOS, wantLogits: false, drawn: false };
    let allowed = allowedAt(0);
    let logits = yield { token: this.vocab.formToken(form), wantLogits: allowed ?? false, drawn: false };
    for (let line = 0; line < lineCount; line++) {
      for (let col = 0; col < lineLength; col++) {
        const pos = line * lineLength + col;
        let token = forced.get(pos);
        const drawn = token === undefined;
        if (token === undefined) {
          // no stutter: a character already in the poem only as a reduplication (青青, never 青青青), unless
          // the form's allowance of repeats is not spent yet
          const previous = col > 0 ? chosen[chosen.length - 1] : undefined;
          const reduplicable = previous !== undefined && (col < 2 || chosen[chosen.length - 2] !== previous) ? previous : undefined;
          // (the sampler skips the banned ids in its one pass: no filtered copy of the vocabulary per step)
          let skip = repeatsLeft === 0 ? { banned: used, except: reduplicable } : undefined;
          // no copying: a line's last character never completes a line of the training corpus
          if (col === lineLength - 1) {
            const copies = this.corpusLines
              .completions(this.vocab.decode(chosen.slice(line * lineLength)))
              .flatMap((ch) => (this.vocab.has(ch) ? [this.vocab.id(ch)] : []));
            if (copies.length > 0) {
              const banned = skip ? used.slice() : new Uint8Array(this.vocab.size);
              for (const id of copies) banned[id] = 1;
              skip = { banned, except: skip && reduplicable !== undefined && !copies.includes(reduplicable) ? reduplicable : undefined };
            }
          }
          token = sample(logits!, allowed!, req, rng, skip);
          if (used[token] && token !== reduplicable) repeatsLeft = Math.max(0, repeatsLeft - 1);
          if (col === lineLength - 1 && rhymesAt(line)) {
            const groups = rhyme.groupsOf(this.vocab.tokens[token]!);
            rhymeGroupsLeft = new Set(rhymeGroupsLeft ? [...rhymeGroupsLeft].filter((g) => groups.has(g)) : groups);
            usedRhymes.add(token);
          }
        }
        chosen.push(token);
        used[token] = 1;
        // the last character needs no feeding: nothing is drawn after it
        if (pos === lineCount * lineLength - 1) break;
        // The logits after this token are needed only where the next position is free to choose, and only
        // for the ids it allows (a line's next position: the punctuation comes first).
        allowed = col < lineLength - 1 ? allowedAt(pos + 1) : undefined;
        logits = yield { token, wantLogits: allowed ?? false, drawn };
      }
      // nor the last punctuation
      if (line + 1 < lineCount) {
        allowed = allowedAt((line + 1) * lineLength);
        logits = yield { token: line % 2 === 0 ? this.vocab.comma : this.vocab.period, wantLogits: allowed ?? false, drawn: false };
      }
    }
    const lines = Array.from({ length: lineCount }, (_, l) => this.vocab.decode(chosen.slice(l * lineLength, (l + 1) * lineLength)));
    const script = req.script;
    const shown = lines.map((l) => inScript(l, script));
    return { text: poemText(shown), lines: shown, form, script, version: this.version };
  }
}

function copyState(from: LstmState, to: LstmState): void {
  from.forEach(({ h, c }, l) => {
    to[l]!.h.set(h);
    to[l]!.c.set(c);
  });
}
