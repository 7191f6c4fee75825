import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

// The model-facing tests run twice: on wasm (what users without libtensorflow get) and on native TensorFlow
// (tfjs-node), when its binding loads here. TANGSHI_EXPECT_NATIVE=1 (set by .ci/run) makes a missing native
// backend fail the suite instead of skipping it, so a silent fallback cannot pass.
const MODEL_TESTS = [
  'test/gradcheck.test.ts',
  'test/train.test.ts',
  'test/checkpoint.test.ts',
  'test/generate.test.ts',
  'test/learning-loop.test.ts',
  'test/native-backend.test.ts',
];
const nativeLoads =
  spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } }).status === 0;
const nativeExpected = process.env.TANGSHI_EXPECT_NATIVE === '1';
if (!nativeLoads && !nativeExpected)
  console.warn('native TensorFlow does not load here: the model tests run on wasm only (node scripts/setup-native.mjs builds it)');

const common = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    // tests train tiny models: two files at a time on a 2-core machine
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { test: { ...common, name: 'wasm', include: ['test/**/*.test.ts'], exclude: ['test/native-backend.test.ts'], env: { TFJS_BACKEND: 'wasm' } } },
      ...(nativeLoads || nativeExpected
        ? // one intra-op thread per test file: two files run at once on two cores
          [{ test: { ...common, name: 'native', include: MODEL_TESTS, env: { TFJS_BACKEND: 'node', TF_NUM_INTRAOP_THREADS: '1' } } }]
        : []),
    ],
  },
});
