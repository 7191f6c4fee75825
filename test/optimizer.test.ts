/** The optimizers' WebAssembly kernel against the update rules written out in plain JavaScript (float64). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParamOptimizer, type Optimizer } from '../src/model/poem/train/optimizer.js';
import { lcg } from './helpers.js';

type Arrays = Map<string, Float32Array>;
const copy = (m: Arrays): Arrays => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));

/** The rules as train.ts wrote them before the kernel: the reference. */
function reference(kind: Optimizer, params: Arrays, gradSteps: Arrays[], weightSum: number, clip: number, lr: number) {
  const p = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
  const slots = new Map([...params].map(([k, v]) => [k, [new Float64Array(v.length), new Float64Array(v.length)]]));
  const norms: number[] = [];
  gradSteps.forEach((grads, step) => {
    const t = step + 1;
    let sq = 0;
    for (const g of grads.values()) for (const x of g) sq += x * x;
    const norm = Math.sqrt(sq) / weightSum;
    norms.push(norm);
    const scale = (norm > clip ? clip / norm : 1) / weightSum;
    for (const [name, values] of p) {
      const g = grads.get(name)!;
      const [a, b] = slots.get(name)!;
      for (let i = 0; i < values.length; i++) {
        const gi = g[i]! * scale;
        if (kind === 'adam') {
          a![i] = 0.9 * a![i]! + 0.1 * gi;
          b![i] = 0.999 * b![i]! + 0.001 * gi * gi;
          values[i]! -= (((lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t)) * a![i]!) / (Math.sqrt(b![i]!) + 1e-8);
        } else if (kind === 'sgd-momentum') {
          a![i] = 0.9 * a![i]! + gi;
          values[i]! -= lr * a![i]!;
        } else {
          a![i] = a![i]! + gi * gi;
          values[i]! -= (lr * gi) / (Math.sqrt(a![i]!) + 1e-8);
        }
      }
    }
  });
  return { params: p, norms };
}

const arrays = (sizes: number[], seed: number, scale: number): Arrays => {
  const uniform = lcg(seed);
  const next = () => (uniform() - 0.5) * scale;
  return new Map(sizes.map((n, k) => [`w${k}`, Float32Array.from({ length: n }, next)]));
};

describe('ParamOptimizer', () => {
  it.each(['adam', 'sgd-momentum', 'adagrad'] as const)('%s matches the rule written out, with and without clipping', async (kind) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom(0.01, 100),
        async (sizes, seed, clip) => {
          const params = arrays(sizes, seed, 1);
          const steps = [1, 2, 3].map((k) => arrays(sizes, seed + k, 40));
          const expected = reference(kind, params, steps, 7, clip, 0.01);
          const live = copy(params);
          const optimizer = await ParamOptimizer.create(kind, live);
          const norms = steps.map((g) => optimizer.step([g], 7, clip, 0.01));
          norms.forEach((n, k) => expect(n).toBeCloseTo(expected.norms[k]!, 3));
          for (const [name, values] of live) {
            const want = expected.params.get(name)!;
            for (let i = 0; i < values.length; i++) expect(Math.abs(values[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
          }
        },
      ),
      { numRuns: 20 },
    );
  });

  it('adds up the gradient sums of several workers, exactly as one set of their float32 sums', async () => {
    await fc.assert(
      fc.asyncProperty(
        // sizes that are not multiples of 4, a large one before small ones: the padding after a copy must not add old values
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 2, maxLength: 4 }),
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        async (sizes, workers, seed) => {
          const params = arrays(sizes, seed, 1);
          const parts = [1, 2].map((k) => Array.from({ length: workers }, (_, w) => arrays(sizes, seed + 10 * k + w, 40)));
          const sums = parts.map(
            (step) => new Map([...step[0]!].map(([name, g]) => [name, g.map((x, i) => step.slice(1).reduce((s, p) => Math.fround(s + p.get(name)![i]!), x))])),
          );
          const [split, summed] = [copy(params), copy(params)];
          const [a, b] = [await ParamOptimizer.create('adam', split), await ParamOptimizer.create('adam', summed)];
          parts.forEach((step, k) => expect(a.step(step, 7, 5, 0.01)).toBe(b.step([sums[k]!], 7, 5, 0.01)));
          for (const [name, v] of summed) expect(Array.from(split.get(name)!)).toEqual(Array.from(v));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('resumes from saved state exactly where it left off', async () => {
    const params = arrays([37, 5], 3, 1);
    const steps = [1, 2, 3, 4].map((k) => arrays([37, 5], 9 + k, 3));
    const straight = copy(params);
    const a = await ParamOptimizer.create('adam', straight);
    steps.forEach((g) => a.step([g], 2, 5, 0.01));
    const resumed = copy(params);
    const b = await ParamOptimizer.create('adam', resumed);
    steps.slice(0, 2).forEach((g) => b.step([g], 2, 5, 0.01));
    const saved = copy(b.state);
    expect([...saved.keys()].sort()).toEqual(['#t', 'w0#m', 'w0#v', 'w1#m', 'w1#v']);
    const c = await ParamOptimizer.create('adam', resumed, saved);
    steps.slice(2).forEach((g) => c.step([g], 2, 5, 0.01));
    for (const [name, v] of straight) expect(Array.from(resumed.get(name)!)).toEqual(Array.from(v));
  });
});
