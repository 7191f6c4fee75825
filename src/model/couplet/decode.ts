/**
 * Answering an upper line (上联) with a lower line (下联), as served: the trained encoder–decoder run in
 * plain products (int8 kernel, SIMD cell, as the poem writer) and the rules of a couplet kept by masking
 * at each position, never by retries:
 *   - exactly as long as the upper line;
 *   - opposite tones (平/仄, from the corpus's own labels) at the 2nd, 4th and 6th characters and the last,
 *     where the upper line's tone is clear (an upper line ending 仄 gets a lower line ending 平);
 *   - no character of the upper line, and no character twice, except where the upper line repeats one:
 *     then the lower line repeats at the same places (青青 ↔ 白白).
 */
import prand from 'pure-rand';
import { z } from 'zod';
import { sample } from '../poem/decode/sampler.js';
import { Int8Matrix } from '../kernels/int8-matvec.js';
import { LstmCells } from '../kernels/lstm-cell.js';
import { PoemInputError, parseRequest } from '../poem/decode/poem-request.js';
import { inScript, spellIn, toTraditional } from '../verse/script.js';
import { clearTone } from '../verse/tones.js';
import { BOS, UNK } from '../verse/vocab.js';
import { COUPLET_SAMPLING, DEFAULT_SCRIPT, SCRIPTS, type Script } from '../../shared/verse.js';
import { COUPLET_CHECKPOINT, loadCouplet, type CoupletManifest } from './checkpoint.js';

export { COUPLET_CHECKPOINT };

export const CoupletRequest = z.object({
  upper: z.string(),
  temperature: z.number().min(0.05).max(3).default(COUPLET_SAMPLING.temperature),
  topK: z.number().int().min(1).default(COUPLET_SAMPLING.topK),
  topP: z.number().gt(0).max(1).default(COUPLET_SAMPLING.topP),
  seed: z.number().int().optional(),
  script: z.enum(SCRIPTS).default(DEFAULT_SCRIPT),
  /** the couplet rules (tones, no reuse) in decoding; off: the model alone (for comparison) */
  rules: z.boolean().default(true),
  /** beam search of this width instead of sampling: the most likely lower line the search finds (deterministic) */
  beam: z.number().int().min(1).max(32).optional(),
});
export type CoupletRequest = z.input<typeof CoupletRequest>;
export type CoupletAnswer = { upper: string; lower: string; text: string; script: Script; version: string };

const HAN = /^\p{Script=Han}$/u;
/** 0-based positions whose tones a lower line opposes: the 2nd, 4th, 6th and the last */
export const keyPositions = (n: number) => [...new Set([1, 3, 5].filter((k) => k < n - 1).concat(n - 1))];

type State = { h: Float32Array; c: Float32Array }[];
type UpperLine = { upperChars: string[]; upper: number[]; encoded: Float32Array[]; rules: boolean };

export class CoupletModel {
  private readonly contentIds: Int32Array;
  private readonly toneOfId: Uint8Array; // 1 level, 2 oblique, 0 either
  /** content ids fit for a position that must be level (1) / oblique (2) */
  private readonly fitFor: Record<1 | 2, Int32Array>;

  private constructor(
    readonly manifest: CoupletManifest,
    readonly vocab: ReturnType<typeof loadCouplet>['vocab'],
    private readonly embedding: Float32Array,
    private readonly encoder: Int8Matrix,
    private readonly decoder: Int8Matrix,
    private readonly biases: { encoder: Float32Array; decoder: Float32Array },
    private readonly attention: { wa: Int8Matrix; wc: Int8Matrix } | undefined,
    private readonly out: Int8Matrix,
    private readonly cells: LstmCells,
  ) {
    const ids: number[] = [];
    for (let id = vocab.firstChar; id < vocab.size; id++) ids.push(id);
    this.contentIds = Int32Array.from(ids);
    this.toneOfId = new Uint8Array(vocab.size);
    for (const id of ids) this.toneOfId[id] = { level: 1, oblique: 2, none: 0 }[clearTone(vocab.tokens[id]!) ?? 'none'];
    this.fitFor = { 1: this.contentIds.filter((id) => this.toneOfId[id] !== 2), 2: this.contentIds.filter((id) => this.toneOfId[id] !== 1) };
  }

  static async load(dir = COUPLET_CHECKPOINT): Promise<CoupletModel> {
    const { manifest, vocab, params } = loadCouplet(dir);
    const { embedDim: E, hiddenDim: H, vocabSize: V } = manifest.config;
    const stacked = async (part: string) => {
      const w = new Float32Array((E + H) * 4 * H);
      w.set(params.get(`${part}.wx`)!);
      w.set(params.get(`${part}.wh`)!, E * 4 * H);
      return Int8Matrix.create(w, E + H, 4 * H);
    };
    const attention = manifest.config.attention
      ? {
          wa: await Int8Matrix.create(params.get('attention.wa')!, H, H),
          wc: await Int8Matrix.create(params.get('attention.wc')!, 2 * H, H, params.get('attention.bc')!),
        }
      : undefined;
    return new CoupletModel(
      manifest,
      vocab,
      params.get('embedding')!,
      await stacked('encoder'),
      await stacked('decoder'),
      { encoder: params.get('encoder.b')!, decoder: params.get('decoder.b')! },
      attention,
      await Int8Matrix.create(params.get('out.w')!, H, V, params.get('out.b')!),
      await LstmCells.create(H),
    );
  }

  get version(): string {
    return this.manifest.version;
  }

  /**
   * Validates an upper line: 5 or 7 Chinese characters. Returns each character as the model spells it
   * (traditional, or the variant form it knows: 顔 → 顏) and its id; a character the model has never seen is
   * still understood as a character, the encoder's unknown token, with its own tone where the corpus gives it.
   */
  parseUpper(text: string): { chars: string[]; ids: number[] } {
    const chars = [...text.trim()];
    if (chars.length === 0)
      throw new PoemInputError('The upper line is empty: type 5 or 7 Chinese characters, e.g. 白日依山盡.', { code: 'empty', kind: 'upper' });
    const notChinese = [...new Set(chars.filter((ch) => !HAN.test(ch)))];
    if (notChinese.length > 0)
      throw new PoemInputError(`The upper line may hold only Chinese characters; these are not: ${notChinese.map((c) => `「${c}」`).join(' ')}.`, {
        code: 'notChinese',
        kind: 'upper',
        chars: notChinese,
      });
    if (chars.length !== 5 && chars.length !== 7)
      throw new PoemInputError(`An upper line has 5 or 7 characters (a line of 五言 or 七言 verse); this one has ${chars.length}.`, {
        code: 'upperLength',
        length: chars.length,
      });
    const spelt = spellIn(chars.join(''), (ch) => this.vocab.has(ch));
    const converted = [...toTraditional(chars.join(''))];
    return {
      chars: spelt.map((ch, i) => ch ?? (converted.length === chars.length ? converted[i]! : chars[i]!)),
      ids: spelt.map((ch) => (ch === undefined ? UNK : this.vocab.id(ch))),
    };
  }

  /** Writes the lower line for an upper line. Throws PoemInputError for bad input. */
  answer(request: CoupletRequest): CoupletAnswer {
    const req = parseRequest(CoupletRequest, request);
    const { chars: upperChars, ids: upper } = this.parseUpper(req.upper);
    const { hiddenDim: H } = this.manifest.config;
    const state: State = [{ h: new Float32Array(H), c: new Float32Array(H) }];
    const encoded: Float32Array[] = [];
    for (const id of upper) {
      this.step(this.encoder, this.biases.encoder, state, id);
      encoded.push(state[0]!.h.slice());
    }
    const line = { upperChars, upper, encoded, rules: req.rules };
    const lower = req.beam
      ? this.beamSearch(line, state[0]!, req.beam)
      : this.sampleLine(line, state, req, prand.mersenne(req.seed ?? Math.floor(Math.random() * 2 ** 31)));
    const script = req.script;
    const shown = { upper: inScript(upperChars.join(''), script), lower: inScript(this.vocab.decode(lower), script) };
    return { ...shown, text: `${shown.upper}，${shown.lower}。`, script, version: this.version };
  }

  /** What the rules allow at position t: a forced repeat of an earlier lower character, or the ids fit for its tone. */
  private allowedAt(line: UpperLine, t: number, lower: number[]): { repeat: number } | { ids: Int32Array } {
    const { upperChars, upper, rules } = line;
    const repeatOf = upperChars.findIndex((ch, s) => s < t && ch === upperChars[t]);
    if (rules && repeatOf >= 0) return { repeat: lower[repeatOf]! }; // the upper line repeats here: so does the lower
    const n = upper.length;
    const upperTone = upper[t] === UNK ? { level: 1, oblique: 2, none: 0 }[clearTone(upperChars[t]!) ?? 'none'] : this.toneOfId[upper[t]!];
    const opposite = rules && keyPositions(n).includes(t) && upperTone !== 0 ? (upperTone === 1 ? 2 : 1) : 0;
    return { ids: opposite === 0 ? this.contentIds : this.fitFor[opposite] };
  }

  private sampleLine(line: UpperLine, state: State, req: z.output<typeof CoupletRequest>, rng: prand.RandomGenerator): number[] {
    const used = new Uint8Array(this.vocab.size);
    for (const id of line.upper) used[id] = 1;
    const lower: number[] = [];
    let previous = BOS;
    for (let t = 0; t < line.upper.length; t++) {
      this.step(this.decoder, this.biases.decoder, state, previous);
      const allowed = this.allowedAt(line, t, lower);
      let token: number;
      if ('repeat' in allowed) token = allowed.repeat;
      else {
        const logits = this.out.applyMany([this.attend(state[0]!.h, line.encoded)], allowed.ids)[0]!;
        token = sample(logits, allowed.ids, req, rng, req.rules ? { banned: used } : undefined);
      }
      lower.push(token);
      used[token] = 1;
      previous = token;
    }
    return lower;
  }

  /** Keeps the `width` most likely partial lower lines (log-probabilities over what the rules allow) at each position. */
  private beamSearch(line: UpperLine, start: { h: Float32Array; c: Float32Array }, width: number): number[] {
    type Hypothesis = { h: Float32Array; c: Float32Array; lower: number[]; logp: number };
    let beams: Hypothesis[] = [{ h: start.h.slice(), c: start.c.slice(), lower: [], logp: 0 }];
    for (let t = 0; t < line.upper.length; t++) {
      const next: Hypothesis[] = [];
      for (const hyp of beams) {
        const state: State = [{ h: hyp.h.slice(), c: hyp.c.slice() }];
        this.step(this.decoder, this.biases.decoder, state, hyp.lower.at(-1) ?? BOS);
        const { h, c } = state[0]!;
        const allowed = this.allowedAt(line, t, hyp.lower);
        if ('repeat' in allowed) {
          next.push({ h, c, lower: [...hyp.lower, allowed.repeat], logp: hyp.logp });
          continue;
        }
        const used = new Set(line.rules ? [...line.upper, ...hyp.lower] : []);
        const logits = this.out.applyMany([this.attend(h, line.encoded)], allowed.ids)[0]!; // indexed by id
        const ids = [...allowed.ids].filter((id) => !used.has(id)).sort((a, b) => logits[b]! - logits[a]!);
        const max = logits[ids[0]!]!;
        const logZ = max + Math.log(ids.reduce((sum, id) => sum + Math.exp(logits[id]! - max), 0));
        for (const id of ids.slice(0, width)) next.push({ h, c, lower: [...hyp.lower, id], logp: hyp.logp + logits[id]! - logZ });
      }
      beams = next.sort((a, b) => b.logp - a.logp).slice(0, width);
    }
    return beams[0]!.lower;
  }

  /** One LSTM step of the encoder or decoder: [x; h]·[Wx; Wh] + b, then the cell. */
  private step(matrix: Int8Matrix, bias: Float32Array, state: State, token: number): void {
    const E = this.manifest.config.embedDim;
    const s = state[0]!;
    const input = new Float32Array(E + s.h.length);
    input.set(this.embedding.subarray(token * E, (token + 1) * E));
    input.set(s.h, E);
    this.cells.step([matrix.apply(input)], bias, [s]);
  }

  /** Luong's attentional state tanh(Wc·[h; Σ softmax(h·Wa·e)·e]), or h without attention. */
  private attend(h: Float32Array, encoded: Float32Array[]): Float32Array {
    if (!this.attention) return h;
    const query = this.attention.wa.apply(h);
    const scores = encoded.map((e) => e.reduce((sum, v, j) => sum + v * query[j]!, 0));
    const max = Math.max(...scores);
    const weights = scores.map((s) => Math.exp(s - max));
    const total = weights.reduce((a, b) => a + b, 0);
    const joined = new Float32Array(2 * h.length);
    joined.set(h);
    encoded.forEach((e, k) => e.forEach((v, j) => (joined[h.length + j]! += (weights[k]! / total) * v)));
    return this.attention.wc.apply(joined).map(Math.tanh);
  }
}
