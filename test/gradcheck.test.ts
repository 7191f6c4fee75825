/**
 * The hand-derived LSTM backward pass (BPTT through h and c) against TensorFlow.js autograd of the
 * unrolled loop, on a tiny model, for every parameter.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../src/model/runtime/backend.js';
import { features, initParams, lossAndGrads, toTensors, type Batch, type ModelConfig } from '../src/model/poem/network.js';
import { nativeLstmKernels } from '../src/model/kernels/native-kernels.js';
import { lcg } from './helpers.js';

function randomBatch(V: number, T: number, B: number, seed: number): Batch {
  const next = lcg(seed);
  const n = T * B;
  return {
    inputs: Int32Array.from({ length: n }, () => Math.floor(next() * V)),
    targets: Int32Array.from({ length: n }, () => Math.floor(next() * V)),
    weights: Float32Array.from({ length: n }, () => (next() < 0.1 ? 0 : 1)),
    T,
    B,
  };
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0,
    norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += a[i]! ** 2 + b[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
}

// the native test project checks native TensorFlow (its fused forward kernel, its fused softmax loss)
const BACKENDS = process.env.TFJS_BACKEND === 'node' ? (['node'] as const) : (['wasm', 'cpu'] as const);

describe.each(BACKENDS)('hand-derived BPTT on %s', (backend) => {
  beforeAll(async () => {
    expect((await useBackend(backend)).name).toBe(backend);
  });

  it.each([1, 2])('matches autograd for every parameter of a %i-layer LSTM', (layers) => {
    const config: ModelConfig = { vocabSize: 23, embedDim: 6, hiddenDim: 7, layers };
    const params = toTensors(config, initParams(config, 3));
    const batch = randomBatch(config.vocabSize, 9, 4, 11);
    const hand = lossAndGrads(config, params, batch, { grads: true, handGrad: true });
    const auto = lossAndGrads(config, params, batch, { grads: true, handGrad: false });
    expect(hand.nllSum).toBeCloseTo(auto.nllSum, 4);
    for (const [name, g] of auto.grads!) {
      const h = hand.grads!.get(name)!;
      expect(h.length).toBe(g.length);
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0); // every parameter gets a gradient
      expect(relativeError(h, g), name).toBeLessThan(1e-4);
    }
  });

  // kernels/x86/train-lstm.c runs a layer whose input and hidden sizes are multiples of 16; CI expects it built
  it.runIf(nativeLstmKernels() || process.env.TANGSHI_EXPECT_NATIVE === '1').each([
    [9, 4],
    [2, 7],
    [13, 13],
  ])('matches autograd with the native LSTM layers (kernels/x86/train-lstm.c), T = %i, B = %i', (T, B) => {
    expect(nativeLstmKernels()).toBeDefined();
    const config: ModelConfig = { vocabSize: 23, embedDim: 16, hiddenDim: 32, layers: 2 };
    const params = toTensors(config, initParams(config, 3));
    const batch = randomBatch(config.vocabSize, T, B, 11);
    const hand = lossAndGrads(config, params, batch, { grads: true, handGrad: true });
    const auto = lossAndGrads(config, params, batch, { grads: true, handGrad: false });
    expect(hand.nllSum).toBeCloseTo(auto.nllSum, 3);
    for (const [name, g] of auto.grads!) {
      expect(Math.max(...g.map(Math.abs)), name).toBeGreaterThan(0);
      expect(relativeError(hand.grads!.get(name)!, g), name).toBeLessThan(1e-4);
    }
  });

  it('matches autograd with tied embeddings: the output matrix is P·Eᵀ, and the embedding learns from both ends', () => {
    const config: ModelConfig = { vocabSize: 23, embedDim: 6, hiddenDim: 7, layers: 2, tied: true };
    const values = initParams(config, 3);
    expect(values.has('out.w')).toBe(false);
    expect(values.get('out.proj')).toHaveLength(7 * 6);
    const params = toTensors(config, values);
    const batch = randomBatch(config.vocabSize, 9, 4, 11);
    const dropout = { rate: 0.3, locked: true, recurrent: 0.3, embedding: 0.2, seed: 9 };
    const hand = lossAndGrads(config, params, batch, { grads: true, handGrad: true, dropout });
    const auto = lossAndGrads(config, params, batch, { grads: true, handGrad: false, dropout });
    expect(hand.nllSum).toBeCloseTo(auto.nllSum, 4);
    for (const [name, g] of auto.grads!) expect(relativeError(hand.grads!.get(name)!, g), name).toBeLessThan(1e-4);
    // a character never fed in (nor dropped) still gets an embedding gradient: from the output layer
    const fed = new Set(batch.inputs);
    const unseen = Array.from({ length: config.vocabSize }, (_, id) => id).filter((id) => !fed.has(id));
    expect(unseen.length).toBeGreaterThan(0);
    const embeddingGrad = hand.grads!.get('embedding')!;
    for (const id of unseen)
      expect(
        embeddingGrad.subarray(id * 6, (id + 1) * 6).some((v) => v !== 0),
        `row ${id}`,
      ).toBe(true);
  });

  it('matches autograd under the same masks of every regulariser (locked dropout, weight-drop, embedding dropout)', () => {
    const config: ModelConfig = { vocabSize: 23, embedDim: 6, hiddenDim: 7, layers: 2 };
    const params = toTensors(config, initParams(config, 3));
    const batch = randomBatch(config.vocabSize, 9, 4, 11);
    const dropout = { rate: 0.3, locked: true, recurrent: 0.3, embedding: 0.2, seed: 9 };
    const hand = lossAndGrads(config, params, batch, { grads: true, handGrad: true, dropout });
    const auto = lossAndGrads(config, params, batch, { grads: true, handGrad: false, dropout });
    const plain = lossAndGrads(config, params, batch, { grads: true });
    expect(hand.nllSum).not.toBeCloseTo(plain.nllSum, 2); // the masks are there
    expect(hand.nllSum).toBeCloseTo(auto.nllSum, 4);
    for (const [name, g] of auto.grads!) expect(relativeError(hand.grads!.get(name)!, g), name).toBeLessThan(1e-4);
    // a dropped recurrent weight gets no gradient: about 30% of each Wh's entries are exactly 0
    for (const name of ['lstm0.wh', 'lstm1.wh']) {
      const g = hand.grads!.get(name)!;
      const zeros = g.filter((v) => v === 0).length / g.length;
      expect(zeros, name).toBeGreaterThan(0.2);
      expect(zeros, name).toBeLessThan(0.4);
      expect(plain.grads!.get(name)!.filter((v) => v === 0).length).toBe(0);
    }
    // a dropped character's embedding row gets no gradient although the character is in the batch
    const seen = [...new Set(batch.inputs)];
    const embeddingGrad = hand.grads!.get('embedding')!;
    const rowIsZero = (id: number) => embeddingGrad.subarray(id * config.embedDim, (id + 1) * config.embedDim).every((v) => v === 0);
    expect(seen.filter(rowIsZero).length).toBeGreaterThan(0);
    expect(seen.filter(rowIsZero).length).toBeLessThan(seen.length);
  });

  it.each([true, false])('locked dropout keeps one mask per sequence for all its steps (locked: %s)', (locked) => {
    const config: ModelConfig = { vocabSize: 23, embedDim: 6, hiddenDim: 16, layers: 1 };
    const params = toTensors(config, initParams(config, 3));
    const [T, B] = [9, 4];
    const batch = randomBatch(config.vocabSize, T, B, 5);
    const out = tf.tidy(() => features(config, params, tf.tensor1d(batch.inputs, 'int32'), T, B, true, { rate: 0.5, locked, seed: 3 }).arraySync());
    const dropped = (t: number, b: number) =>
      out[t * B + b]!.slice(0, config.hiddenDim)
        .map((v) => v === 0)
        .join();
    const sameOverTime = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => dropped(t, b)).every((m) => m === dropped(0, b)));
    expect(sameOverTime.every(Boolean)).toBe(locked);
    expect(dropped(0, 0)).toContain('true');
    expect(dropped(0, 0)).not.toBe(dropped(0, 1)); // one mask per sequence, not one for the batch
  });

  it('matches a central finite difference on a few recurrent weights', () => {
    const config: ModelConfig = { vocabSize: 11, embedDim: 4, hiddenDim: 5, layers: 1 };
    const values = initParams(config, 5);
    const batch = randomBatch(config.vocabSize, 6, 3, 2);
    const loss = () => lossAndGrads(config, toTensors(config, values), batch, { grads: false }).nllSum;
    const grads = lossAndGrads(config, toTensors(config, values), batch, { grads: true }).grads!;
    const wh = values.get('lstm0.wh')!;
    for (const i of [0, 7, 23, 42, 99]) {
      const eps = 1e-2;
      const saved = wh[i]!;
      wh[i] = saved + eps;
      const up = loss();
      wh[i] = saved - eps;
      const down = loss();
      wh[i] = saved;
      const numeric = (up - down) / (2 * eps);
      expect(grads.get('lstm0.wh')![i]!).toBeCloseTo(numeric, 2);
    }
  });
});
