/**
 * The sampler. Every poem is exactly its form by construction: at each position a mask allows only what
 * the form permits (a character inside a line, `，`/`。` at line ends, the end token last, never <unk>),
 * and even lines end on characters of one rhyme group. Nothing is retried.
 */
import prand from 'pure-rand';
import { z } from 'zod';
import { describeBackend, initBackendInfo, tf, type BackendInfo } from './backend.js';
import { BASE_CHECKPOINT, loadCheckpoint, type Manifest } from './checkpoint.js';
import { FORM_SHAPE, FORMS, poemText, type Form, type Poem } from './corpus.js';
import { Int8Matrix } from './int8-matvec.js';
import { PRECISIONS, type Precision as PrecisionName } from '../shared/verse.js';
import { LstmCells } from './lstm-cell.js';
import { CorpusLines } from './corpus-lines.js';
import { classicalRhymeGroups } from './classical-rhyme.js';
import { rhymeClasses, rhymeGroups } from './rhyme.js';
import type { RhymeSystem } from './poem-request.js';
import { toneTemplate, type Tonal } from './poetics.js';
import { clearTone } from './tones.js';
import { inScript, toTraditional } from './script.js';
import { BOS, type Vocab } from './vocab.js';
import { PoemInputError, PoemRequest, parseRequest, type GeneratedPoem } from './poem-request.js';

export { PoemInputError, PoemRequest, type GeneratedPoem };

// How often each form appears among the corpus's regular poems (train split): the default form is drawn so.
const FORM_SHARE: Record<Form, number> = { wujue: 3962, qijue: 10384, wulv: 14116, qilv: 7849 };
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
const HAN = /^\p{Script=Han}$/u;

type Prompt = { form: Form; forced: Map<number, number> }; // content position → token id

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
  // The model writes traditional characters: convert the whole text (phrases convert better than single
  // characters), falling back to the character as typed when only that one is known.
  const converted = [...toTraditional(raw)];
  const ids = chars.map((ch, i) => (vocab.has(converted[i]!) ? vocab.id(converted[i]!) : vocab.has(ch) ? vocab.id(ch) : -1));
  const unknown = [...new Set(chars.filter((_, i) => ids[i] === -1))];
  if (unknown.length > 0) {
    throw new PoemInputError(`The model does not know ${unknown.map((c) => `「${c}」`).join(' ')}: try another character.`, {
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

/**
 * How generation multiplies by the weights: `int8` (the default) through the int8 kernel, a quarter of the
 * memory traffic; `float32` through TensorFlow.js, exactly as trained. The bench reports both, with the
 * perplexity each gives on dev poems (servedPerplexity).
 */
export const Precision = z.enum(PRECISIONS);
export type Precision = PrecisionName;

/** x·W for one fixed matrix W, for one x or several at once. */
type MatVec = {
  apply(x: Float32Array): Float32Array;
  /** also given `columns`: only those outputs are needed */
  applyMany(xs: Float32Array[], columns?: Int32Array): Float32Array[];
  dispose?(): void;
};

/**
 * Which next-token logits a step needs: none, all, or only those of the ids a position allows (the
 * others are then left unspecified): a position held to a tone needs about half of the output layer.
 */
type WantLogits = boolean | Int32Array;

/** An LSTM's (h, c) per layer for one sequence. */
type LstmState = { h: Float32Array; c: Float32Array }[];

/** A poem being written: the token it feeds next, and the poem once it is done (see PoemModel.step). */
export type PoemDraft = {
  state: LstmState;
  next: { token: number; wantLogits: WantLogits };
  steps: Generator<{ token: number; wantLogits: WantLogits }, GeneratedPoem, Float32Array | undefined>;
  poem: GeneratedPoem | undefined;
};

/** A loaded checkpoint, ready to write poems: weights ready for products, decoding masks precomputed. */
export class PoemModel {
  private readonly contentIds: Int32Array;
  /** rhyme group → vocabulary ids that can end an even line in that group */
  private readonly rhyme: Record<RhymeSystem, { members: Map<string, Int32Array>; starters: Int32Array; groupsOf: (ch: string) => Set<string> }>;
  /** per vocabulary id: 1 level, 2 oblique, 0 either or unknown (tones.ts) */
  private readonly toneOfId: Uint8Array;
  /** content ids fit for a position that must be level / oblique */
  private readonly fitFor: Record<'level' | 'oblique', Int32Array>;

  private constructor(
    readonly manifest: Manifest,
    readonly vocab: Vocab,
    readonly backendInfo: BackendInfo,
    readonly precision: Precision,
    /** layer 0's input projection x·Wx + b for every token: a step reads one row */
    private readonly inputTable: Float32Array,
    /** per layer: h·Wh for layer 0, [x, h]·[Wx; Wh] for deeper layers */
    private readonly layerWeights: MatVec[],
    private readonly biases: Float32Array[],
    /** h·W + b for the next-token logits */
    private readonly outWeight: MatVec,
    private readonly cells: LstmCells,
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

  static async load(dir = BASE_CHECKPOINT, options: { precision?: Precision; corpusLines?: CorpusLines } = {}): Promise<PoemModel> {
    const precision = Precision.parse(options.precision ?? 'int8');
    const backend = await initBackendInfo();
    const { manifest, vocab, params } = loadCheckpoint(dir);
    const c = manifest.config.model;
    const shapes = new Map(manifest.weights.tensors.map((t) => [t.name, t.shape]));
    const get = (name: string) => tf.tensor(params.get(name)!, shapes.get(name)!);
    const table = tf.tidy(() => tf.add(tf.matMul(get('embedding'), get('lstm0.wx')), get('lstm0.b')));
    const inputTable = table.dataSync() as Float32Array;
    table.dispose();
    const stacked = (l: number) => tf.tidy(() => (l === 0 ? get('lstm0.wh') : tf.concat([get(`lstm${l}.wx`), get(`lstm${l}.wh`)], 0)));
    const matVec = async (w: tf.Tensor, bias?: Float32Array): Promise<MatVec> => {
      if (precision === 'float32') return new FloatMatVec(w as tf.Tensor2D, bias);
      const [rows, cols] = w.shape as [number, number];
      const m = await Int8Matrix.create(w.dataSync() as Float32Array, rows, cols, bias);
      w.dispose();
      return m;
    };
    const layerWeights: MatVec[] = [];
    for (let l = 0; l < c.layers; l++) layerWeights.push(await matVec(stacked(l)));
    const biases = Array.from({ length: c.layers }, (_, l) => params.get(`lstm${l}.b`)!);
    const out = await matVec(get('out.w'), params.get('out.b')!);
    const corpusLines = options.corpusLines ?? CorpusLines.load();
    return new PoemModel(manifest, vocab, backend, precision, inputTable, layerWeights, biases, out, await LstmCells.create(c.hiddenDim), corpusLines);
  }

  get version(): string {
    return this.manifest.version;
  }

  /** the backend and the TensorFlow behind it, e.g. "node (TensorFlow 2.21.0, 2 threads)" */
  get backend(): string {
    return describeBackend(this.backendInfo);
  }

  dispose(): void {
    for (const m of [...this.layerWeights, this.outWeight]) m.dispose?.();
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
    const { hiddenDim, layers } = this.manifest.config.model;
    const state = Array.from({ length: layers }, () => ({ h: new Float32Array(hiddenDim), c: new Float32Array(hiddenDim) }));
    const steps = this.writePoem(req, prompt, rng);
    const first = steps.next(); // runs up to the first token to feed (BOS)
    if (first.done) throw new Error('writePoem: a poem ended before its first token');
    return { state, next: first.value, steps, poem: undefined };
  }

  /**
   * Advances every unfinished draft by one token: the LSTM steps of all of them share each product, then
   * each draft chooses its next token from its own logits.
   */
  step(drafts: PoemDraft[]): void {
    const live = drafts.filter((d) => !d.poem);
    const logits = this.advanceMany(live.map((d) => ({ state: d.state, token: d.next.token, wantLogits: d.next.wantLogits })));
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
    yield { token: BOS, wantLogits: false };
    let allowed = allowedAt(0);
    let logits = yield { token: this.vocab.formToken(form), wantLogits: allowed ?? false };
    for (let line = 0; line < lineCount; line++) {
      for (let col = 0; col < lineLength; col++) {
        const pos = line * lineLength + col;
        let token = forced.get(pos);
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
        // The logits after this token are needed only where the next position is free to choose, and only
        // for the ids it allows (a line's next position: the punctuation comes first).
        allowed = col < lineLength - 1 ? allowedAt(pos + 1) : undefined;
        logits = yield { token, wantLogits: allowed ?? false };
      }
      // the last punctuation needs no feeding: nothing follows it
      if (line + 1 < lineCount) {
        allowed = allowedAt((line + 1) * lineLength);
        logits = yield { token: line % 2 === 0 ? this.vocab.comma : this.vocab.period, wantLogits: allowed ?? false };
      }
    }
    const lines = Array.from({ length: lineCount }, (_, l) => this.vocab.decode(chosen.slice(l * lineLength, (l + 1) * lineLength)));
    const script = req.script;
    const shown = lines.map((l) => inScript(l, script));
    return { text: poemText(shown), lines: shown, form, script, checkpoint: this.version };
  }

  /** Feeds one token through the LSTM, updating `state`; returns next-token logits when asked. */
  advance(state: LstmState, token: number, wantLogits: WantLogits): Float32Array | undefined {
    return this.advanceMany([{ state, token, wantLogits }])[0];
  }

  /**
   * Feeds one token each through the LSTM for several sequences, updating their states, with one product
   * per layer for all of them; returns each one's next-token logits when asked (views valid until the next
   * call). The cell's elementwise math runs in a SIMD kernel (lstm-cell.ts) on 4H numbers a sequence,
   * which is cheaper than a dozen tiny tensor ops per step (the same equations as lstmForwardSteps in model.ts).
   */
  advanceMany(items: { state: LstmState; token: number; wantLogits: WantLogits }[]): (Float32Array | undefined)[] {
    const H = this.manifest.config.model.hiddenDim;
    const layers = this.layerWeights.length;
    let below: Float32Array[] = [];
    for (let l = 0; l < layers; l++) {
      const inputs = items.map(({ state }, k) => (l === 0 ? state[0]!.h : concat(below[k]!, state[l]!.h)));
      const products = this.layerWeights[l]!.applyMany(inputs);
      // layer 0's bias row holds the token's input projection (x·Wx + b, precomputed)
      const bias = l === 0 ? items.map(({ token }) => this.inputTable.subarray(token * 4 * H, (token + 1) * 4 * H)) : this.biases[l]!;
      this.cells.step(
        products,
        bias,
        items.map(({ state }) => state[l]!),
      );
      below = items.map(({ state }) => state[l]!.h);
    }
    // one product per set of ids wanted (the tone masks are shared by every poem at such a position)
    const out: (Float32Array | undefined)[] = new Array(items.length);
    const askedFor = new Map<WantLogits, number[]>();
    items.forEach(({ wantLogits }, k) => {
      if (!wantLogits) return;
      const ks = askedFor.get(wantLogits);
      if (ks) ks.push(k);
      else askedFor.set(wantLogits, [k]);
    });
    for (const [want, ks] of askedFor) {
      const logits = this.outWeight.applyMany(
        ks.map((k) => below[k]!),
        want === true ? undefined : (want as Int32Array),
      );
      ks.forEach((k, a) => (out[k] = logits[a]));
    }
    return out;
  }

  /**
   * Perplexity of poems as this model serves them (teacher-forced through `advance`, at this precision),
   * by the definition in train.ts, over all predicted tokens. It shows what int8 storage costs.
   */
  servedPerplexity(poems: Poem[]): { perplexity: number; tokens: number } {
    const { hiddenDim, layers } = this.manifest.config.model;
    let nll = 0,
      tokens = 0;
    for (const poem of poems) {
      const ids = this.vocab.encodePoem(poem);
      const state = Array.from({ length: layers }, () => ({ h: new Float32Array(hiddenDim), c: new Float32Array(hiddenDim) }));
      this.advance(state, ids[0]!, false);
      for (let t = 1; t < ids.length - 1; t++) {
        const logits = this.advance(state, ids[t]!, true)!;
        let max = -Infinity;
        for (let v = 0; v < logits.length; v++) if (logits[v]! > max) max = logits[v]!;
        let sum = 0;
        for (let v = 0; v < logits.length; v++) sum += Math.exp(logits[v]! - max);
        nll += max + Math.log(sum) - logits[ids[t + 1]!]!;
        tokens++;
      }
    }
    return { perplexity: Math.exp(nll / tokens), tokens };
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** v·W (+ b) on the TensorFlow.js backend, in float32. */
class FloatMatVec implements MatVec {
  constructor(
    private readonly w: tf.Tensor2D,
    private readonly bias?: Float32Array,
  ) {}

  apply(v: Float32Array): Float32Array {
    const input = tf.tensor2d(v, [1, v.length]);
    const product = tf.matMul(input, this.w);
    const values = product.dataSync() as Float32Array; // (not returned through tf.tidy: it walks typed arrays element by element)
    input.dispose();
    product.dispose();
    if (this.bias) for (let j = 0; j < values.length; j++) values[j]! += this.bias[j]!;
    return values;
  }

  /** one product per input, so each is exactly what apply() gives (a batched float product rounds differently) */
  applyMany(xs: Float32Array[]): Float32Array[] {
    return xs.map((x) => this.apply(x));
  }

  dispose(): void {
    this.w.dispose();
  }
}

/** Temperature, then top-k, then top-p (nucleus) sampling over the allowed ids only. */
export function sample(
  logits: Float32Array,
  allowed: ArrayLike<number>,
  opts: { temperature: number; topK: number; topP: number },
  rng: prand.RandomGenerator,
  /** ids to pass over (banned[id] = 1) but `except`; if that leaves none, none is passed over */
  skip?: { banned: Uint8Array; except?: number },
): number {
  if (allowed.length === 0) throw new Error('sampler: no token is allowed here');
  // Keep the k best in a small sorted array: one pass over the allowed ids, no sort of the whole vocabulary.
  const k = Math.min(opts.topK, allowed.length);
  const ids = new Int32Array(k);
  const values = new Float64Array(k).fill(-Infinity);
  let count = 0;
  let floor = -Infinity; // the k-th best so far, once k are kept
  for (let a = 0; a < allowed.length; a++) {
    const id = allowed[a]!;
    const v = logits[id]!;
    if (v <= floor || (skip?.banned[id] && id !== skip.except)) continue;
    let j = count < k ? count++ : k - 1;
    while (j > 0 && values[j - 1]! < v) {
      values[j] = values[j - 1]!;
      ids[j] = ids[j - 1]!;
      j--;
    }
    values[j] = v;
    ids[j] = id;
    if (count === k) floor = values[k - 1]!;
  }
  if (count === 0) return sample(logits, allowed, opts, rng); // every allowed id was banned
  const weights = Array.from(values.subarray(0, count), (v) => Math.exp((v - values[0]!) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = 0,
    mass = 0;
  while (kept < count && mass < opts.topP * total) mass += weights[kept++]!;
  const r = (prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x80000000) * mass;
  let acc = 0;
  for (let j = 0; j < kept; j++) {
    acc += weights[j]!;
    if (acc > r) return ids[j]!;
  }
  return ids[kept - 1]!;
}
