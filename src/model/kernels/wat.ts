/** WebAssembly kernels written as text (wasm/*.wat), assembled with wabt once per thread. */
import { readFileSync } from 'node:fs';
import wabtInit from 'wabt';

const compiled = new Map<string, Promise<WebAssembly.Module>>();

export function compileWat(file: string): Promise<WebAssembly.Module> {
  let module = compiled.get(file);
  if (!module) {
    module = (async () => {
      const wabt = await wabtInit();
      const parsed = wabt.parseWat(file, readFileSync(new URL(`./wasm/${file}`, import.meta.url), 'utf8'), { simd: true, threads: true });
      try {
        return await WebAssembly.compile(parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
      } finally {
        parsed.destroy();
      }
    })();
    compiled.set(file, module);
  }
  return module;
}
