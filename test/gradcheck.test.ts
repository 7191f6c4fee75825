/**
 * The hand-derived LSTM backward pass (BPTT through h and c) against TensorFlow.js autograd of the
 * unrolled loop, on a tiny model, for every parameter.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../src/model/backend.js';
import { initParams, lossAndGrads, toTensors, type Batch, type ModelConfig } from '../src/model/model.js';
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
