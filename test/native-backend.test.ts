/**
 * Native TensorFlow (tfjs-node) in this process: it is the backend the native test project runs on, it names
 * its TensorFlow, a broken libtensorflow falls back to wasm (auto) or fails with the reason (node), and its
 * pool of threads can be started at the lowest priority (the bot's fine-tunes run there).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackendInfo, describeBackend, tf } from '../src/model/runtime/backend.js';
import { LOWEST_PRIORITY } from '../src/model/runtime/threads.js';

describe('the native backend', () => {
  it('is what this project runs on, with the TensorFlow behind it', async () => {
    const info = await initBackendInfo();
    expect(info.name).toBe('node');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(info.tensorflow).toMatch(/^\d+\.\d+\.\d+/);
    expect(describeBackend(info)).toContain(`TensorFlow ${info.tensorflow}`);
    expect(tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0])).toBe(11);
  });

  // A truncated libtensorflow found first on the library path: the dynamic loader refuses it, as it would
  // a damaged or foreign build.
  const broken = mkdtempSync(join(tmpdir(), 'tangshi-broken-tf-'));
  for (const name of ['libtensorflow_cc.so.2', 'libtensorflow.so.2', 'libtensorflow_framework.so.2']) writeFileSync(join(broken, name), Buffer.alloc(64, 1));
  const probe = (backend: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const b = await import('${new URL('../src/model/runtime/backend.ts', import.meta.url).href}'); try { console.log('RESULT ' + JSON.stringify(await b.initBackendInfo('${backend}'))); } catch (e) { console.log('FAILED ' + e.message); }`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, LD_LIBRARY_PATH: broken, TFJS_BACKEND: backend },
        timeout: 60_000,
      },
    );

  it('falls back to wasm under auto when libtensorflow is damaged, saying why in one line', () => {
    const r = probe('auto');
    const result = JSON.parse(/RESULT (.*)/.exec(r.stdout)![1]!);
    expect(result.name).toBe('wasm');
    expect(result.fallback).toMatch(/@tensorflow\/tfjs-node cannot be loaded: .*libtensorflow/);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('not native TensorFlow'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/runs on wasm.*libtensorflow.*(too short|invalid ELF|cannot open)/);
  });

  it('fails under TFJS_BACKEND=node with a message naming what is missing', () => {
    const r = probe('node');
    expect(r.stdout).toMatch(/FAILED TFJS_BACKEND=node: @tensorflow\/tfjs-node cannot be loaded: .*libtensorflow.*scripts\/setup-native\.mjs/);
  });

  // Where native TensorFlow cannot load, the low-priority thread has no pool to start: it loads nothing
  // else (before, it loaded wasm there for nothing) and the bot's own load falls back as above.
  it('starts no low-priority thread backend where native TensorFlow cannot load', () => {
    const script = `
      const { startNativePoolAtLowPriority } = await import('${new URL('../src/model/runtime/threads.ts', import.meta.url).href}');
      console.log('RESULT ' + JSON.stringify({ backend: await startNativePoolAtLowPriority() }));
    `;
    const file = join(mkdtempSync(join(tmpdir(), 'tangshi-pool-')), 'pool.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      env: { ...process.env, LD_LIBRARY_PATH: broken, TFJS_BACKEND: 'auto' },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(/RESULT (.*)/.exec(r.stdout)![1]!)).toEqual({ backend: null });
    expect(r.stderr).not.toMatch(/runs on wasm/); // the fallback's line is the model's to say, once
  });

  // In a fresh process (TensorFlow.js loads once per process): after startNativePoolAtLowPriority, the work of
  // products asked for on the main thread is done on threads of the lowest priority — TensorFlow's pool.
  it.runIf(existsSync('/proc/thread-self/stat'))('TensorFlow.js loaded first on a low-priority thread does its work on low-priority threads', () => {
    const script = `
      import { readdirSync, readFileSync } from 'node:fs';
      const { startNativePoolAtLowPriority } = await import('${new URL('../src/model/runtime/threads.ts', import.meta.url).href}');
      const backend = await startNativePoolAtLowPriority();
      const { initBackendInfo, tf } = await import('${new URL('../src/model/runtime/backend.ts', import.meta.url).href}');
      await initBackendInfo();
      const a = tf.randomNormal([512, 512]);
      for (let k = 0; k < 40; k++) tf.tidy(() => tf.matMul(a, a).dataSync());
      const threads = readdirSync('/proc/self/task').map((t) => {
        const fields = readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ');
        return { nice: Number(fields[16]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
      });
      const low = threads.filter((t) => t.nice === ${LOWEST_PRIORITY});
      console.log('RESULT ' + JSON.stringify({ backend, low: low.length, lowTicks: low.reduce((n, t) => n + t.cpuTicks, 0) }));
    `;
    const file = join(mkdtempSync(join(tmpdir(), 'tangshi-pool-')), 'pool.mjs'); // (a file: --input-type would reach the worker threads)
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      env: { ...process.env, TF_NUM_INTRAOP_THREADS: '2' },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0); // (a native backend loaded on a thread that has ended must not crash the exit)
    const result = JSON.parse(/RESULT (.*)/.exec(r.stdout)![1]!);
    expect(result.backend).toBe('node');
    expect(result.low).toBeGreaterThan(0);
    expect(result.lowTicks).toBeGreaterThan(0);
  });
});
