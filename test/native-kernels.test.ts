import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NATIVE_KERNELS_FILE } from '../src/model/native-kernels.js';

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

describe.runIf(built || process.env.TANGSHI_EXPECT_NATIVE === '1')('the native int8 kernel', () => {
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
