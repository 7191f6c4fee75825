import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INT8_KERNEL_FILE } from '../src/model/int8-native.js';

const PRODUCTS = new URL('./support/int8-products.ts', import.meta.url).pathname;

/** runs test/support/int8-products.ts with `env` added: the kernel it ran on and the digest of its products */
function products(env: Record<string, string>): { kernel: { kernel: string; isa?: string; why?: string }; digest: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// CI expects it built (it is x86-64 with AVX-512 there); elsewhere a missing build skips these
const built = existsSync(INT8_KERNEL_FILE);
if (!built && process.env.TANGSHI_EXPECT_NATIVE === '1') throw new Error(`${INT8_KERNEL_FILE} was not built (node scripts/build-int8-kernel.mjs)`);

describe.runIf(built || process.env.TANGSHI_EXPECT_NATIVE === '1')('the native int8 kernel', () => {
  it('gives every product and every LSTM cell step bit for bit what the WebAssembly kernels give, with AVX-512 and with AVX2, alone and with the helper thread', () => {
    const wasm = products({ POEM_INT8_KERNEL: 'wasm' });
    expect(wasm.kernel.kernel).toBe('wasm');
    const native = products({ POEM_INT8_KERNEL: 'native' });
    expect(native.kernel.kernel).toBe('native');
    expect(native.digest).toBe(wasm.digest);
    const avx2 = products({ POEM_INT8_KERNEL: 'native', TANGSHI_INT8_ISA: 'avx2' });
    expect(avx2.kernel).toEqual({ kernel: 'native', isa: 'avx2' });
    expect(avx2.digest).toBe(wasm.digest);
    // auto picks it
    expect(products({}).kernel.kernel).toBe('native');
  });

  it('falls back to WebAssembly when the build is damaged (auto), and names the file when native was asked for', () => {
    const damaged = join(mkdtempSync(join(tmpdir(), 'int8-')), 'int8-kernel.node');
    writeFileSync(damaged, 'not a shared library');
    const auto = products({ TANGSHI_INT8_KERNEL_FILE: damaged });
    expect(auto.kernel.kernel).toBe('wasm');
    expect(auto.kernel.why).toContain(damaged);
    expect(auto.digest).toBe(products({ POEM_INT8_KERNEL: 'wasm' }).digest);
    const r = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], {
      encoding: 'utf8',
      env: { ...process.env, POEM_INT8_KERNEL: 'native', TANGSHI_INT8_KERNEL_FILE: damaged },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`POEM_INT8_KERNEL=native, but ${damaged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} did not load`));
    const bad = spawnSync(process.execPath, ['--import', 'tsx', PRODUCTS], { encoding: 'utf8', env: { ...process.env, POEM_INT8_KERNEL: 'fast' } });
    expect(bad.stderr).toMatch(/POEM_INT8_KERNEL must be auto, native or wasm, not "fast"/);
  });
});
