import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NATIVE_KERNELS_FILE, nativeLstmKernels, nativeTopK } from '../src/model/kernels/native-kernels.js';
import { topK } from '../src/model/poem/decode/sampler.js';
import { lcg } from './helpers.js';

const PRODUCTS = new URL('./support/kernel-outputs.ts', import.meta.url).pathname;

/** runs test/support/kernel-outputs.ts with `env` added: the kernel it ran on and the digest of its products */
function products(env: Record<string, string>): { kernel: { kernel: string; isa?: string; why?: string }; digest: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// CI expects it built (it is x86-64 with AVX-512 there); elsewhere a missing build skips these
const built = existsSync(NATIVE_KERNELS_FILE);
if (!built && process.env.TANGSHI_EXPECT_NATIVE === '1') throw new Error(`${NATIVE_KERNELS_FILE} was not built (node scripts/build-native-kernels.mjs)`);

describe.runIf(built || process.env.TANGSHI_EXPECT_NATIVE === '1')('the native poem kernels', () => {
  it('gives every product and every LSTM cell step bit for bit what the WebAssembly kernels give, with AVX-512 and with AVX2, alone and with the helper thread', () => {
    const wasm = products({ POEM_KERNELS: 'wasm' });
    expect(wasm.kernel.kernel).toBe('wasm');
    const native = products({ POEM_KERNELS: 'native' });
    expect(native.kernel.kernel).toBe('native');
    expect(native.digest).toBe(wasm.digest);
    const avx2 = products({ POEM_KERNELS: 'native', TANGSHI_KERNELS_ISA: 'avx2' });
    expect(avx2.kernel).toEqual({ kernel: 'native', isa: 'avx2' });
    expect(avx2.digest).toBe(wasm.digest);
    // auto picks it
    expect(products({}).kernel.kernel).toBe('native');
  });

  it("keeps the same top-k ids in the same order as the sampler's JavaScript pass, ties and banned ids included", () => {
    const native = nativeTopK();
    expect(native).toBeDefined();
    fc.assert(
      fc.property(
        // logits from a few values only (many ties), some ids banned, k from 1 to beyond the allowed count
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        (levels, seed, kAsked, withBans) => {
          const next = lcg(seed);
          const logits = Float32Array.from(levels, (v) => v / 2);
          const allowed = Int32Array.from(levels.keys()).filter(() => next() < 0.7);
          if (allowed.length === 0) return;
          const banned = Uint8Array.from(levels, () => (next() < 0.3 ? 1 : 0));
          const except = withBans ? allowed[Math.floor(next() * allowed.length)]! : -1;
          const k = Math.min(kAsked, allowed.length);
          const skip = withBans ? { banned, except } : undefined;
          const [jsIds, jsValues, cIds, cValues] = [
            new Int32Array(k),
            new Float64Array(k).fill(-Infinity),
            new Int32Array(k),
            new Float64Array(k).fill(-Infinity),
          ];
          const jsCount = topK(logits, allowed, skip, k, jsIds, jsValues);
          const cCount = native!(logits, allowed, withBans ? banned : null, except, k, cIds, cValues);
          expect(cCount).toBe(jsCount);
          expect([...cIds.subarray(0, cCount)]).toEqual([...jsIds.subarray(0, jsCount)]);
          expect([...cValues.subarray(0, cCount)]).toEqual([...jsValues.subarray(0, jsCount)]);
        },
      ),
      { numRuns: 300 },
    );
    expect(() => native!(new Float32Array(3), Int32Array.from([5]), null, -1, 1, new Int32Array(1), new Float64Array(1))).toThrow(/outside the logits/);
  });

  it('falls back to WebAssembly when the build is damaged (auto), and names the file when native was asked for', () => {
    const damaged = join(mkdtempSync(join(tmpdir(), 'kernels-')), 'native-kernels.node');
    writeFileSync(damaged, 'not a shared library');
    const auto = products({ TANGSHI_NATIVE_KERNELS_FILE: damaged });
    expect(auto.kernel.kernel).toBe('wasm');
    expect(auto.kernel.why).toContain(damaged);
    expect(auto.digest).toBe(products({ POEM_KERNELS: 'wasm' }).digest);
    const r = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], {
      encoding: 'utf8',
      env: { ...process.env, POEM_KERNELS: 'native', TANGSHI_NATIVE_KERNELS_FILE: damaged },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`POEM_KERNELS=native, but ${damaged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} did not load`));
    const bad = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], { encoding: 'utf8', env: { ...process.env, POEM_KERNELS: 'fast' } });
    expect(bad.stderr).toMatch(/POEM_KERNELS must be auto, native or wasm, not "fast"/);
  });
});

/** nativeLstmKernels() in a child process with `env` added: 'native', 'tensorflow' or the error's message */
function lstmKernelsIn(env: Record<string, string>): string {
  const code =
    "import('./src/model/kernels/native-kernels.ts').then((m) => (m.nativeLstmKernels() ? 'native' : 'tensorflow')).then(console.log, (e) => console.log(e.message))";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').pop()!;
}

describe("training's native LSTM layer: LSTM_KERNELS", () => {
  it.runIf(built || process.env.TANGSHI_EXPECT_NATIVE === '1')('runs native by default where the addon loads, and TensorFlow when asked', () => {
    expect(lstmKernelsIn({})).toBe('native');
    expect(lstmKernelsIn({ LSTM_KERNELS: 'native' })).toBe('native');
    expect(lstmKernelsIn({ LSTM_KERNELS: 'tensorflow' })).toBe('tensorflow');
  });

  it.runIf(built || process.env.TANGSHI_EXPECT_NATIVE === '1')('refuses bad sizes and arrays with a clear error, writing nothing', () => {
    const kernels = nativeLstmKernels()!;
    const [T, B, I, H] = [2, 3, 16, 16];
    const f = (n: number) => new Float32Array(n);
    const outputs = () => [f(T * B * 4 * H), f(T * B * H), f(T * B * H), f(T * B * H)];
    const hs = outputs();
    kernels.lstmForward(T, B, I, H, f(T * B * I).fill(1), f(I * 4 * H).fill(0.1), f(4 * H), f(H * 4 * H), ...hs);
    expect(hs[3]!.some((v) => v !== 0)).toBe(true); // the right sizes do write
    const untouched = outputs();
    expect(() => kernels.lstmForward(T, B, I, 8, f(T * B * I), f(I * 32), f(32), f(8 * 32), ...untouched)).toThrow(/I and H multiples of 16/);
    expect(() => kernels.lstmForward(T, B, I, H, f(T * B * I - 1), f(I * 4 * H), f(4 * H), f(H * 4 * H), ...untouched)).toThrow(/does not match T, B, I, H/);
    const notFloats = new Int32Array(T * B * I) as unknown as Float32Array;
    expect(() => kernels.lstmForward(T, B, I, H, notFloats, f(I * 4 * H), f(4 * H), f(H * 4 * H), ...untouched)).toThrow(/Float32Arrays/);
    expect(() => kernels.lstmBackward(T, B, I, H, f(1))).toThrow(/lstmBackward\(/);
    expect(untouched.every((a) => a.every((v) => v === 0))).toBe(true);
  });

  it('falls back to TensorFlow where the addon does not load, and LSTM_KERNELS=native says why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tangshi-lstm-'));
    const broken = join(dir, 'native-kernels.node');
    writeFileSync(broken, 'not an addon');
    expect(lstmKernelsIn({ TANGSHI_NATIVE_KERNELS_FILE: broken })).toBe('tensorflow');
    expect(lstmKernelsIn({ TANGSHI_NATIVE_KERNELS_FILE: broken, LSTM_KERNELS: 'native' })).toMatch(
      /LSTM_KERNELS=native, but .*native-kernels\.node did not load/,
    );
    expect(lstmKernelsIn({ LSTM_KERNELS: 'fast' })).toMatch(/LSTM_KERNELS must be auto, native or tensorflow/);
  });
});
