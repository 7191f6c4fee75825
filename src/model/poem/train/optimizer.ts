/**
 * The optimizers: Adam (β 0.9/0.999), SGD with momentum 0.9, Adagrad, with global-norm gradient clipping.
 * Their update rules run in a small WebAssembly SIMD kernel (kernels/wasm/optimizer.wat), 4 lanes at a time:
 * as plain JavaScript loops over millions of parameters they were a noticeable share of a training step. Parameters, gradients and the optimizer's slots are copied into the kernel's memory,
 * updated there, and the parameters copied back; the slots live there and are what checkpoints save.
 */
import { z } from 'zod';
import type { ModelParams } from '../network.js';
import { compileWat } from '../../kernels/wat.js';

export const Optimizer = z.enum(['adam', 'sgd-momentum', 'adagrad']);
export type Optimizer = z.infer<typeof Optimizer>;
export const DEFAULT_LR: Record<Optimizer, number> = { adam: 2e-3, 'sgd-momentum': 0.2, adagrad: 0.1 };
const SLOTS: Record<Optimizer, string[]> = { adam: ['m', 'v'], 'sgd-momentum': ['velocity'], adagrad: ['accumulator'] };

type Kernel = {
  memory: WebAssembly.Memory;
  adam(p: number, g: number, m: number, v: number, n: number, step: number, scale: number): void;
  momentum(p: number, g: number, u: number, n: number, lr: number, scale: number): void;
  adagrad(p: number, g: number, a: number, n: number, lr: number, scale: number): void;
  sumOfSquares(g: number, n: number): number;
  addInto(g: number, x: number, n: number): void;
};
type Place = { name: string; size: number; p: number; g: number; slots: number[] };

export class ParamOptimizer {
  private t: number;
  private constructor(
    readonly kind: Optimizer,
    private readonly params: ModelParams,
    private readonly kernel: Kernel,
    private readonly places: Place[],
    /** where a second worker's gradients are copied to be added (the size of the largest parameter) */
    private readonly addend: number,
    /** the slots (views of the kernel's memory) and '#t', the step count: saved with checkpoints */
    readonly state: Map<string, Float32Array>,
  ) {
    this.t = state.get('#t')?.[0] ?? 0;
  }

  /** `state` resumes a checkpoint's optimizer (slot names `${param}#m`, … as saved). */
  static async create(kind: Optimizer, params: ModelParams, state = new Map<string, Float32Array>()): Promise<ParamOptimizer> {
    const kernel = (await WebAssembly.instantiate(await compileWat('optimizer.wat'))).exports as unknown as Kernel;
    const slotNames = SLOTS[kind];
    let offset = 16; // byte 0 stays unused
    const places: Place[] = [];
    const take = (size: number) => {
      const at = offset;
      offset += Math.ceil(size / 4) * 16;
      return at;
    };
    for (const [name, p] of params) places.push({ name, size: p.length, p: take(p.length), g: take(p.length), slots: slotNames.map(() => take(p.length)) });
    const addend = take(Math.max(...places.map((place) => place.size)));
    kernel.memory.grow(Math.ceil(offset / 65536)); // once: growing later would detach the slots' views
    const views = new Map<string, Float32Array>();
    for (const place of places) {
      place.slots.forEach((at, k) => {
        const view = new Float32Array(kernel.memory.buffer, at, place.size);
        const saved = state.get(`${place.name}#${slotNames[k]}`);
        if (saved) view.set(saved);
        views.set(`${place.name}#${slotNames[k]}`, view);
      });
    }
    if (state.has('#t')) views.set('#t', state.get('#t')!);
    return new ParamOptimizer(kind, params, kernel, places, addend, views);
  }

  /**
   * One update from gradient sums, one set per data-parallel worker (added up here, in the kernel, not in a
   * JavaScript loop before it: that is the serial part of a step, both workers idle): divided by `weightSum`
   * (gradients are of the summed loss), their global norm clipped to `clip`. Returns the norm before clipping.
   */
  step(gradParts: readonly ModelParams[], weightSum: number, clip: number, lr: number): number {
    const k = this.kernel;
    const f32 = (at: number, size: number) => new Float32Array(k.memory.buffer, at, size);
    let squares = 0;
    for (const place of this.places) {
      const n = Math.ceil(place.size / 4) * 4;
      f32(place.g, place.size).set(gradParts[0]!.get(place.name)!);
      for (const grads of gradParts.slice(1)) {
        const addend = f32(this.addend, n);
        addend.set(grads.get(place.name)!);
        addend.fill(0, place.size); // the padding: a larger parameter's values may lie there
        k.addInto(place.g, this.addend, n);
      }
      squares += k.sumOfSquares(place.g, n); // the padding is zeros
    }
    const norm = Math.sqrt(squares) / weightSum;
    const scale = (norm > clip ? clip / norm : 1) / weightSum;
    this.t++;
    this.state.set('#t', Float32Array.of(this.t));
    const adamStep = (lr * Math.sqrt(1 - 0.999 ** this.t)) / (1 - 0.9 ** this.t);
    for (const place of this.places) {
      const param = this.params.get(place.name)!;
      f32(place.p, place.size).set(param);
      const n = Math.ceil(place.size / 4) * 4;
      const [s0, s1] = place.slots as [number, number];
      if (this.kind === 'adam') k.adam(place.p, place.g, s0, s1, n, adamStep, scale);
      else if (this.kind === 'sgd-momentum') k.momentum(place.p, place.g, s0, n, lr, scale);
      else k.adagrad(place.p, place.g, s0, n, lr, scale);
      param.set(f32(place.p, place.size));
    }
    return norm;
  }
}
