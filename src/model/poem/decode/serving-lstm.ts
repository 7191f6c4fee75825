/**
 * The LSTM as generation runs it: one token at a time for many sequences at once, the products as int8
 * matrices (or float32 through TensorFlow.js), the cell's math in a SIMD kernel (lstm-cell.ts). The same
 * equations as lstmForwardSteps in model.ts; servedPerplexity shows what int8 storage costs.
 */
import { z } from 'zod';
import { PRECISIONS, type Precision as PrecisionName } from '../../../shared/verse.js';
import { describeBackend, initBackendInfo, tf, type BackendInfo } from '../../runtime/backend.js';
import { BASE_CHECKPOINT, loadCheckpoint, type Manifest } from '../checkpoint.js';
import type { Poem } from '../../verse/corpus.js';
import { Int8Matrix, type ProductOptions } from '../../kernels/int8-matvec.js';
import { describeKernels } from '../../kernels/native-kernels.js';
import { LstmCells } from '../../kernels/lstm-cell.js';
import { outputMatrixValues } from '../network.js';
import { ProductHelper } from '../../kernels/product-helper.js';
import type { Vocab } from '../../verse/vocab.js';

/**
 * How generation multiplies by the weights: `int8` (the default) through the int8 kernel, a quarter of the
 * memory traffic; `float32` through TensorFlow.js, exactly as trained. The bench reports both, with the
 * perplexity each gives on dev poems (servedPerplexity).
 */
export const Precision = z.enum(PRECISIONS);
export type Precision = PrecisionName;

/** x·W for one fixed matrix W, for one x or several at once. */
type MatVec = {
  /**
   * x·W for each x, given `columns` only those outputs; the arrays hold until the next product that writes
   * the same rows (Int8Matrix.productViews)
   */
  productViews(xs: readonly Float32Array[], options?: ProductOptions): Float32Array[];
  dispose?(): void;
};

/**
 * Which next-token logits a step needs: none, all, or only those of the ids a position allows (the
 * others are then left unspecified): a position held to a tone needs about half of the output layer.
 */
export type WantLogits = boolean | Int32Array;

/** An LSTM's (h, c) per layer for one sequence. */
export type LstmState = { h: Float32Array; c: Float32Array }[];

/** A checkpoint's weights, ready for one-token steps. */
export class ServingLstm {
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
    /** the second thread of the int8 products, if any */
    private readonly helper?: ProductHelper,
  ) {}

  /** `threads`: 2 splits the big int8 products with a helper thread (the same outputs, bit for bit); 1 runs them here alone. */
  static async load(dir = BASE_CHECKPOINT, precision: Precision = 'int8', threads = 1): Promise<ServingLstm> {
    Precision.parse(precision);
    const backend = await initBackendInfo();
    const { manifest, vocab, params } = loadCheckpoint(dir);
    const c = manifest.config.model;
    const shapes = new Map(manifest.weights.tensors.map((t) => [t.name, t.shape]));
    const get = (name: string) => tf.tensor(params.get(name)!, shapes.get(name)!);
    const table = tf.tidy(() => tf.add(tf.matMul(get('embedding'), get('lstm0.wx')), get('lstm0.b')));
    const inputTable = table.dataSync() as Float32Array;
    table.dispose();
    const stacked = (l: number) => tf.tidy(() => (l === 0 ? get('lstm0.wh') : tf.concat([get(`lstm${l}.wx`), get(`lstm${l}.wh`)], 0)));
    const helper = precision === 'int8' && threads > 1 ? await ProductHelper.start() : undefined;
    const matVec = async (w: tf.Tensor, bias?: Float32Array): Promise<MatVec> => {
      if (precision === 'float32') return new FloatMatVec(w as tf.Tensor2D, bias);
      const [rows, cols] = w.shape as [number, number];
      const m = await Int8Matrix.create(w.dataSync() as Float32Array, rows, cols, bias, helper);
      w.dispose();
      return m;
    };
    const layerWeights: MatVec[] = [];
    for (let l = 0; l < c.layers; l++) layerWeights.push(await matVec(stacked(l)));
    const biases = Array.from({ length: c.layers }, (_, l) => params.get(`lstm${l}.b`)!);
    const out = await matVec(tf.tensor(outputMatrixValues(c, params), [c.hiddenDim, c.vocabSize]), params.get('out.b')!);
    return new ServingLstm(manifest, vocab, backend, precision, inputTable, layerWeights, biases, out, await LstmCells.create(c.hiddenDim), helper);
  }

  /**
   * the backend and the TensorFlow behind it, and what the int8 products run on, e.g. "node (TensorFlow
   * 2.21.0, 2 threads), poem kernels on avx512-vnni"
   */
  get backend(): string {
    if (this.precision !== 'int8') return describeBackend(this.backendInfo);
    return `${describeBackend(this.backendInfo)}, poem kernels on ${describeKernels()}`;
  }

  /** zeros in (h, c) of every layer: where a sequence starts */
  newState(): LstmState {
    const { hiddenDim, layers } = this.manifest.config.model;
    return Array.from({ length: layers }, () => ({ h: new Float32Array(hiddenDim), c: new Float32Array(hiddenDim) }));
  }

  /**
   * Pauses (or resumes) the helper thread: while paused the products run on this thread alone, the same
   * outputs, and the helper's core is free (the bot pauses it while a fine-tune trains beside the poems).
   */
  pauseProductHelper(paused: boolean): void {
    if (this.helper) this.helper.paused = paused;
  }

  dispose(): void {
    for (const m of [...this.layerWeights, this.outWeight]) m.dispose?.();
    void this.helper?.close();
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
      // layer 0's input is h alone (x·Wx is in the table below); deeper layers' is [the layer below's h, h]
      const own = items.map(({ state }) => state[l]!.h);
      const products = l === 0 ? this.layerWeights[0]!.productViews(own) : this.layerWeights[l]!.productViews(below, { tails: own });
      // layer 0's bias row holds the token's input projection (x·Wx + b, precomputed)
      const bias = l === 0 ? items.map(({ token }) => this.inputTable.subarray(token * 4 * H, (token + 1) * 4 * H)) : this.biases[l]!;
      this.cells.step(
        products,
        bias,
        items.map(({ state }) => state[l]!),
      );
      below = own; // (updated in place by the cells)
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
    // each set its own rows of the output memory, so that every set's logits hold until the next step
    let first = 0;
    const inAll = [...askedFor.values()].reduce((n, ks) => n + ks.length, 0);
    for (const [want, ks] of askedFor) {
      const logits = this.outWeight.productViews(
        ks.map((k) => below[k]!),
        { columns: want === true ? undefined : (want as Int32Array), rows: { first, inAll } },
      );
      ks.forEach((k, a) => (out[k] = logits[a]));
      first += ks.length;
    }
    return out;
  }

  /**
   * Perplexity of poems as this model serves them (teacher-forced through `advance`, at this precision),
   * by the definition in train.ts, over all predicted tokens. It shows what int8 storage costs.
   */
  servedPerplexity(poems: Poem[]): { perplexity: number; tokens: number } {
    let nll = 0,
      tokens = 0;
    for (const poem of poems) {
      const ids = this.vocab.encodePoem(poem);
      const state = this.newState();
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

  /** one product per input, so each is exactly what apply() gives (a batched float product rounds differently); new arrays */
  productViews(xs: readonly Float32Array[], { tails }: ProductOptions = {}): Float32Array[] {
    return xs.map((x, b) => this.apply(tails ? concat(x, tails[b]!) : x));
  }

  dispose(): void {
    this.w.dispose();
  }
}
