import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tests train tiny models: two files at a time on a 2-core machine
    maxWorkers: 2,
    minWorkers: 1,
    env: { TFJS_BACKEND: 'wasm' },
  },
});
