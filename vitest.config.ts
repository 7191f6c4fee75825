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
  'test/couplet.test.ts',
  'test/native-backend.test.ts',
];
const nativeLoads =
  spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } }).status === 0;
const nativeExpected = process.env.TANGSHI_EXPECT_NATIVE === '1';
// The database and end-to-end tests run again on PostgreSQL when a server is named (.ci/run starts one with
// pg_virtualenv, which sets PGHOST/PGUSER; or TANGSHI_TEST_POSTGRES=postgresql://…/postgres). TANGSHI_EXPECT_POSTGRES=1
// makes a missing server fail the suite.
const POSTGRES_TESTS = [
  'test/db.test.ts',
  'test/bot.e2e.test.ts',
  'test/learning-loop.e2e.test.ts',
  'test/shards.e2e.test.ts',
  'test/trainer.e2e.test.ts',
  'test/faults.e2e.test.ts',
];
const postgresNamed = Boolean(process.env.TANGSHI_TEST_POSTGRES || (process.env.PGHOST && process.env.PGUSER));
if (!postgresNamed && process.env.TANGSHI_EXPECT_POSTGRES === '1')
  throw new Error('TANGSHI_EXPECT_POSTGRES=1, but no PostgreSQL server is named (PGHOST/PGUSER or TANGSHI_TEST_POSTGRES)');
if (!postgresNamed)
  console.warn('no PostgreSQL server named: the database and end-to-end tests run on SQLite only (docs/testing.md says how to run them on PostgreSQL)');
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
      ...(postgresNamed
        ? [{ test: { ...common, name: 'postgresql', include: POSTGRES_TESTS, env: { TFJS_BACKEND: 'wasm', TANGSHI_TEST_DATABASE: 'postgresql' } } }]
        : []),
    ],
  },
});
