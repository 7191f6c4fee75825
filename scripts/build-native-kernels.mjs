#!/usr/bin/env node
/**
 * Builds the native poem kernels (src/model/kernels/x86/*.c → build/native-kernels.node), run by `npm install` /
 * `npm ci` (postinstall) or by hand: `node scripts/build-native-kernels.mjs`. One C file, compiled by the
 * system's C compiler (CC, default cc) against Node's own headers (node_api.h): no node-gyp, no download,
 * about 2 s. It never fails the install: when it cannot build (no compiler, no headers, not x86-64) it prints
 * one line saying that poems use the WebAssembly kernels and why, and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['src/model/kernels/x86/poem-kernels.c', 'src/model/kernels/x86/train-lstm.c', 'src/model/runtime/quiet-stderr.c'].map((file) =>
  join(root, file),
);
const target = join(root, 'build/native-kernels.node');
const say = (line) => console.log(`tangshi native kernels: ${line}`);

/** node_api.h: beside the running node (official builds, nvm), npm's nodedir, or the system's (Debian's nodejs) */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
    join(dirname(dirname(process.execPath)), 'include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function main() {
  if (process.arch !== 'x64') return `not built (the kernel is x86-64 code; this is ${process.arch})`;
  const headers = nodeHeaders();
  if (!headers) return "not built (Node's headers, node_api.h, were not found; install them or set npm_config_nodedir)";
  mkdirSync(dirname(target), { recursive: true });
  const partial = join(dirname(target), 'native-kernels.partial.node'); // (require loads .node files as addons)
  const cc = process.env.CC || 'cc';
  // -ffp-contract=off: no fused multiply-add, so the f32 arithmetic is the WebAssembly kernels', bit for bit
  const args = ['-O3', '-shared', '-fPIC', '-ffp-contract=off', `-I${headers}`, ...sources, '-o', partial];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  const t0 = Date.now();
  const r = spawnSync(cc, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    rmSync(partial, { force: true });
    const why = r.error?.message ?? `${r.stderr ?? ''}`.trim().split('\n').filter(Boolean).pop() ?? `${cc} failed`;
    return `not built (${why.slice(0, 300)})`;
  }
  // load it in a child process: a bad build must not be left where the bot would load it
  const probe = spawnSync(process.execPath, ['-e', `console.log('ISA=' + require(${JSON.stringify(partial)}).isa)`], { encoding: 'utf8', timeout: 60_000 });
  const isa = /ISA=(\S*)/.exec(probe.stdout ?? '')?.[1];
  if (isa === undefined) {
    rmSync(partial, { force: true });
    return `not built (it compiled but does not load: ${`${probe.stderr ?? ''}`.trim().split('\n')[0]})`;
  }
  renameSync(partial, target);
  if (!isa) return `built ${target}, but this CPU has neither AVX-512 VNNI nor AVX2: poems use the WebAssembly kernels`;
  return `built ${target} for ${isa} in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

let line;
try {
  line = main();
} catch (e) {
  line = `not built (${e.message})`;
}
say(line.startsWith('not built') ? `${line}; poems use the WebAssembly kernels.` : `${line}.`);
process.exit(0);
