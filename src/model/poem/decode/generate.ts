/**
 * Decoding a poem. Every poem is exactly its form by construction: at each position a mask allows only
 * what the form permits (a character inside a line, `，`/`。` at line ends, the end token last, never
 * <unk>), even lines end on characters of one rhyme group, the tone template (格律) holds, no character
 * stutters and no line is copied from the corpus (the masks: verse-rules.ts). Nothing is retried. The
 * network is serving-lstm.ts; the request's own characters, prompt.ts; the draw, sampler.ts.
 */
import { LRUCache } from 'lru-cache';
import prand from 'pure-rand';
import type { z } from 'zod';
import type { BackendInfo } from '../../runtime/backend.js';
import { BASE_CHECKPOINT, type Manifest } from '../checkpoint.js';
import { FORM_SHAPE, poemText } from '../../verse/corpus.js';
import { CorpusLines } from '../../verse/corpus-lines.js';
import { resolvePrompt, type Prompt } from './prompt.js';
import { sample } from './sampler.js';
import { ServingLstm, type LstmState, type Precision, type WantLogits } from './serving-lstm.js';
import { inScript } from '../../verse/script.js';
import { VerseRules } from './verse-rules.js';
import { BOS, type Vocab } from '../../verse/vocab.js';
import { PoemInputError, PoemRequest, parseRequest, type GeneratedPoem } from './poem-request.js';

export { PoemInputError, PoemRequest, type GeneratedPoem };
export { Precision } from './serving-lstm.js';

/**
 * LSTM steps kept for the tokens a request fixes before its first drawn character (BOS, the form, the
 * user's first characters): the state after them and the next-token logits, so a burst of /poem 月 computes
 * them once, not once a poem.
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
  /** the rules of verse as masks over this model's vocabulary */
  private readonly rules: VerseRules;
  /** the tokens before a request's first drawn one, joined → the LSTM state after them and all next-token logits */
  private readonly prefixes = new LRUCache<string, { state: LstmState; logits: Float32Array }>({ max: PREFIX_CACHE_SIZE });

  private constructor(
    /** the network, as generation runs it */
    readonly lstm: ServingLstm,
    corpusLines: CorpusLines,
  ) {
    this.rules = new VerseRules(lstm.vocab, corpusLines);
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
   * needed) and is given those logits back. Each free position is drawn by the sampler inside the masks of
   * verse-rules.ts (the form, 格律, rhyme, repeats, copied lines).
   */
  private *writePoem(req: z.output<typeof PoemRequest>, { form, forced }: Prompt, rng: prand.RandomGenerator): PoemDraft['steps'] {
    const { lineLength, lines: lineCount } = FORM_SHAPE[form];
    const rules = this.rules.forPoem(form, forced, req, rng);
    const chosen: number[] = [];
    yield { token: BOS, wantLogits: false, drawn: false };
    let allowed = rules.allowedAt(0);
    let logits = yield { token: this.vocab.formToken(form), wantLogits: allowed ?? false, drawn: false };
    for (let line = 0; line < lineCount; line++) {
      for (let col = 0; col < lineLength; col++) {
        const pos = line * lineLength + col;
        const forcedToken = forced.get(pos);
        const drawn = forcedToken === undefined;
        const token = forcedToken ?? sample(logits!, allowed!, req, rng, rules.skipAt(pos));
        rules.place(pos, token, drawn);
        chosen.push(token);
        // the last character needs no feeding: nothing is drawn after it
        if (pos === lineCount * lineLength - 1) break;
        // The logits after this token are needed only where the next position is free to choose, and only
        // for the ids it allows (a line's next position: the punctuation comes first).
        allowed = col < lineLength - 1 ? rules.allowedAt(pos + 1) : undefined;
        logits = yield { token, wantLogits: allowed ?? false, drawn };
      }
      // nor the last punctuation
      if (line + 1 < lineCount) {
        allowed = rules.allowedAt((line + 1) * lineLength);
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
