/**
 * The sampler. Every poem is exactly its form by construction: at each position a mask allows only what
 * the form permits (a character inside a line, `，`/`。` at line ends, the end token last, never <unk>),
 * and even lines end on characters of one rhyme group. Nothing is retried.
 */
import prand from 'pure-rand';
import { z } from 'zod';
import { initBackend, tf } from './backend.js';
import { BASE_CHECKPOINT, loadCheckpoint, type Manifest } from './checkpoint.js';
import { FORM_SHAPE, FORMS, poemText, type Form } from './corpus.js';
import type { ModelParams } from './model.js';
import { rhymeClasses, rhymeGroups } from './rhyme.js';
import { inScript, toTraditional, type Script } from './script.js';
import { BOS, type Vocab } from './vocab.js';
import { PoemInputError, PoemRequest, type GeneratedPoem } from './poem-request.js';

export { PoemInputError, PoemRequest, type GeneratedPoem };

// How often each form appears among the corpus's regular poems (train split): the default form is drawn so.
const FORM_SHARE: Record<Form, number> = { wujue: 3962, qijue: 10384, wulv: 14116, qilv: 7849 };
// A rhyme group needs this many characters in the vocabulary to be started on line 2.
const MIN_RHYME_GROUP = 20;
const HAN = /^\p{Script=Han}$/u;

type Prompt = { form: Form; forced: Map<number, number> }; // content position → token id

/** Validates and resolves start text / acrostic / form into the characters the poem must contain. */
export function resolvePrompt(vocab: Vocab, req: z.infer<typeof PoemRequest>, rng: prand.RandomGenerator): Prompt {
  if (req.start !== undefined && req.acrostic !== undefined) {
    throw new PoemInputError('Give either a start text or an acrostic, not both.');
  }
  const kind = req.acrostic !== undefined ? 'acrostic' : 'start text';
  const raw = (req.acrostic ?? req.start ?? '').trim();
  if ((req.acrostic !== undefined || req.start !== undefined) && raw.length === 0) {
    throw new PoemInputError(`The ${kind} is empty: type 1 to 7 Chinese characters, e.g. 月.`);
  }
  const chars = [...raw];
  const notChinese = [...new Set(chars.filter((ch) => !HAN.test(ch)))];
  if (notChinese.length > 0) {
    throw new PoemInputError(`The ${kind} may hold only Chinese characters; these are not: ${notChinese.map((c) => `「${c}」`).join(' ')}.`);
  }
  if (req.start !== undefined && chars.length > 7) {
    throw new PoemInputError(`The start text is too long (${chars.length} characters): a poem line holds at most 7.`);
  }
  if (req.acrostic !== undefined && chars.length !== 4 && chars.length !== 8) {
    throw new PoemInputError(`An acrostic needs 4 characters (a 绝句) or 8 (a 律诗), one per line; got ${chars.length}.`);
  }
  // The model writes traditional characters: convert the whole text (phrases convert better than single
  // characters), falling back to the character as typed when only that one is known.
  const converted = [...toTraditional(raw)];
  const ids = chars.map((ch, i) => (vocab.has(converted[i]!) ? vocab.id(converted[i]!) : vocab.has(ch) ? vocab.id(ch) : -1));
  const unknown = [...new Set(chars.filter((_, i) => ids[i] === -1))];
  if (unknown.length > 0) {
    throw new PoemInputError(`The model does not know ${unknown.map((c) => `「${c}」`).join(' ')}: try another character.`);
  }

  let allowed = [...FORMS];
  if (req.acrostic !== undefined) allowed = allowed.filter((f) => FORM_SHAPE[f].lines === chars.length);
  if (req.start !== undefined) allowed = allowed.filter((f) => FORM_SHAPE[f].lineLength >= chars.length);
  let form = req.form;
  if (form && !allowed.includes(form)) {
    const shape = FORM_SHAPE[form];
    throw new PoemInputError(
      req.acrostic !== undefined
        ? `A ${shape.name} has ${shape.lines} lines, so its acrostic needs ${shape.lines} characters, not ${chars.length}.`
        : `A ${shape.name} line holds ${shape.lineLength} characters; the start text has ${chars.length}. Choose a 七言 form or a shorter start.`,
    );
  }
  if (!form) {
    const total = allowed.reduce((n, f) => n + FORM_SHARE[f], 0);
    let pick = prand.unsafeUniformIntDistribution(0, total - 1, rng);
    form = allowed.find((f) => (pick -= FORM_SHARE[f]) < 0)!;
  }
  const forced = new Map<number, number>();
  const lineLength = FORM_SHAPE[form].lineLength;
  ids.forEach((id, i) => forced.set(req.acrostic !== undefined ? i * lineLength : i, id));
  return { form, forced };
}

/** A loaded checkpoint, ready to write poems: weights as tensors, decoding masks precomputed. */
export class PoemModel {
  private readonly inputTable: Float32Array;
  private readonly layerWeights: tf.Tensor[];
  private readonly biases: Float32Array[];
  private readonly outWeight: tf.Tensor;
  private readonly outBias: Float32Array;
  private readonly contentIds: Int32Array;
  /** rhyme group → vocabulary ids that can end an even line in that group */
  private readonly rhymeMembers: Map<string, number[]>;
  private readonly rhymeStarters: Int32Array;

  private constructor(readonly manifest: Manifest, readonly vocab: Vocab, params: ModelParams, readonly backend: string) {
    const shapes = new Map(manifest.weights.tensors.map((t) => [t.name, t.shape]));
    const c = manifest.config.model;
    const get = (name: string) => tf.tensor(params.get(name)!, shapes.get(name)!);
    // Layer 0's input projection for every token at once (x·Wx + b): a step then reads one row.
    const table = tf.tidy(() => tf.add(tf.matMul(get('embedding'), get('lstm0.wx')), get('lstm0.b')));
    this.inputTable = table.dataSync() as Float32Array;
    table.dispose();
    // Deeper layers take [x, h] against [Wx; Wh] in one product.
    this.layerWeights = Array.from({ length: c.layers }, (_, l) =>
      l === 0 ? get('lstm0.wh') : tf.tidy(() => tf.concat([get(`lstm${l}.wx`), get(`lstm${l}.wh`)], 0)),
    );
    this.biases = Array.from({ length: c.layers }, (_, l) => params.get(`lstm${l}.b`)!);
    this.outWeight = get('out.w');
    this.outBias = params.get('out.b')!;
    const content: number[] = [];
    for (let id = vocab.firstChar; id < vocab.size; id++) content.push(id);
    this.contentIds = Int32Array.from(content);
    const classes = rhymeClasses(content.map((id) => vocab.tokens[id]!));
    this.rhymeMembers = new Map([...classes].map(([group, idx]) => [group, idx.map((k) => content[k]!)]));
    const starters = new Set([...this.rhymeMembers.values()].filter((ids) => ids.length >= MIN_RHYME_GROUP).flat());
    this.rhymeStarters = Int32Array.from([...starters].sort((a, b) => a - b));
  }

  static async load(dir = BASE_CHECKPOINT): Promise<PoemModel> {
    const backend = await initBackend();
    const ck = loadCheckpoint(dir);
    return new PoemModel(ck.manifest, ck.vocab, ck.params, backend);
  }

  get version(): string {
    return this.manifest.version;
  }

  dispose(): void {
    for (const t of [...this.layerWeights, this.outWeight]) t.dispose();
  }

  /** Writes one poem. Throws PoemInputError for bad input. */
  generate(request: PoemRequest): GeneratedPoem {
    const parsed = PoemRequest.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new PoemInputError(`Invalid ${issue.path.join('.') || 'request'}: ${issue.message}.`);
    }
    const req = parsed.data;
    // Mersenne Twister: its seeding spreads nearby seeds (xoroshiro128+ gave correlated first draws for seeds 0, 1, 2…)
    const rng = prand.mersenne(req.seed ?? Math.floor(Math.random() * 2 ** 31));
    const { form, forced } = resolvePrompt(this.vocab, req, rng);
    const { lineLength, lines: lineCount } = FORM_SHAPE[form];
    const c = this.manifest.config.model;
    const state = Array.from({ length: c.layers }, () => ({ h: new Float32Array(c.hiddenDim), c: new Float32Array(c.hiddenDim) }));
    const chosen: number[] = [];
    let rhymeGroupsLeft: Set<string> | undefined;
    const usedRhymes = new Set<number>();
    {
      this.advance(state, BOS, false);
      let logits = this.advance(state, this.vocab.formToken(form), !forced.has(0));
      for (let line = 0; line < lineCount; line++) {
        for (let col = 0; col < lineLength; col++) {
          const pos = line * lineLength + col;
          let token = forced.get(pos);
          if (token === undefined) {
            const evenLineEnd = col === lineLength - 1 && line % 2 === 1;
            let allowed: ArrayLike<number> = this.contentIds;
            if (evenLineEnd && !rhymeGroupsLeft) allowed = this.rhymeStarters;
            else if (evenLineEnd) allowed = [...rhymeGroupsLeft!].flatMap((g) => this.rhymeMembers.get(g) ?? []).filter((id) => !usedRhymes.has(id));
            token = sample(logits!, allowed, req, rng);
            if (evenLineEnd) {
              const groups = rhymeGroups(this.vocab.tokens[token]!);
              rhymeGroupsLeft = new Set(rhymeGroupsLeft ? [...rhymeGroupsLeft].filter((g) => groups.has(g)) : groups);
              usedRhymes.add(token);
            }
          }
          chosen.push(token);
          // The next output needs logits only if the next position is free to choose.
          const nextFree = col < lineLength - 1 && !forced.has(pos + 1);
          logits = this.advance(state, token, nextFree);
        }
        const punctuation = line % 2 === 0 ? this.vocab.comma : this.vocab.period;
        logits = this.advance(state, punctuation, !forced.has((line + 1) * lineLength) && line + 1 < lineCount);
      }
    }
    const lines = Array.from({ length: lineCount }, (_, l) => this.vocab.decode(chosen.slice(l * lineLength, (l + 1) * lineLength)));
    const script = req.script;
    const shown = lines.map((l) => inScript(l, script));
    return { text: poemText(shown), lines: shown, form, script, checkpoint: this.version };
  }

  /**
   * Feeds one token through the LSTM, updating `state`; returns next-token logits when asked. The matrix
   * products run on the backend; the cell's elementwise math runs here on 4H numbers, which is cheaper
   * than a dozen tiny tensor ops per step (the same equations as lstmForwardSteps in model.ts).
   */
  advance(state: { h: Float32Array; c: Float32Array }[], token: number, wantLogits: boolean): Float32Array | undefined {
    const H = this.manifest.config.model.hiddenDim;
    let x: Float32Array | undefined;
    state.forEach((s, l) => {
      const input = l === 0 ? s.h : concat(x!, s.h);
      const z = matVec(input, this.layerWeights[l]!);
      const bias = l === 0 ? this.inputTable.subarray(token * 4 * H, (token + 1) * 4 * H) : this.biases[l]!;
      for (let j = 0; j < H; j++) {
        const i = sigmoid(z[j]! + bias[j]!);
        const f = sigmoid(z[H + j]! + bias[H + j]!);
        const g = Math.tanh(z[2 * H + j]! + bias[2 * H + j]!);
        const o = sigmoid(z[3 * H + j]! + bias[3 * H + j]!);
        s.c[j] = f * s.c[j]! + i * g;
        s.h[j] = o * Math.tanh(s.c[j]!);
      }
      x = s.h;
    });
    if (!wantLogits) return undefined;
    const logits = matVec(x!, this.outWeight);
    for (let v = 0; v < logits.length; v++) logits[v]! += this.outBias[v]!;
    return logits;
  }
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** v·W for a vector v and a weight tensor W: one product on the backend. */
function matVec(v: Float32Array, w: tf.Tensor): Float32Array {
  const input = tf.tensor2d(v, [1, v.length]);
  const product = tf.matMul(input, w as tf.Tensor2D);
  const values = product.dataSync() as Float32Array; // (not returned through tf.tidy: it walks typed arrays element by element)
  input.dispose();
  product.dispose();
  return values;
}

/** Temperature, then top-k, then top-p (nucleus) sampling over the allowed ids only. */
export function sample(
  logits: Float32Array,
  allowed: ArrayLike<number>,
  opts: { temperature: number; topK: number; topP: number },
  rng: prand.RandomGenerator,
): number {
  if (allowed.length === 0) throw new Error('sampler: no token is allowed here');
  // Keep the k best in a small sorted array: one pass over the allowed ids, no sort of the whole vocabulary.
  const k = Math.min(opts.topK, allowed.length);
  const ids = new Int32Array(k);
  const values = new Float32Array(k).fill(-Infinity);
  let count = 0;
  for (let a = 0; a < allowed.length; a++) {
    const id = allowed[a]!;
    const v = logits[id]!;
    if (count === k && v <= values[k - 1]!) continue;
    let j = count < k ? count++ : k - 1;
    while (j > 0 && values[j - 1]! < v) {
      values[j] = values[j - 1]!;
      ids[j] = ids[j - 1]!;
      j--;
    }
    values[j] = v;
    ids[j] = id;
  }
  const weights = Array.from(values, (v) => Math.exp((v - values[0]!) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = 0, mass = 0;
  while (kept < k && mass < opts.topP * total) mass += weights[kept++]!;
  const r = (prand.unsafeUniformIntDistribution(0, 0x7fffffff, rng) / 0x80000000) * mass;
  let acc = 0;
  for (let j = 0; j < kept; j++) if ((acc += weights[j]!) > r) return ids[j]!;
  return ids[kept - 1]!;
}

