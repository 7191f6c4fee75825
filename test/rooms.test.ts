/**
 * The rules that keep the rooms of src/ (.dependency-cruiser.cjs, .dependency-cruiser.runtime.cjs; `npm test`
 * checks src/ against them first) each fail on a deliberate violation: a probe file written into the room,
 * cruised alone, then removed.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const LAYERS = '.dependency-cruiser.cjs';
const RUNTIME = '.dependency-cruiser.runtime.cjs';

/** Cruises `file` (written with `source` for the run) under `config`: the names of the rules it breaks. */
function broken(file: string, source: string, config: string): string[] {
  writeFileSync(file, source);
  try {
    const run = spawnSync('npx', ['depcruise', file, '--config', config, '--output-type', 'json'], { encoding: 'utf8' });
    const report = JSON.parse(run.stdout) as { summary: { violations: { rule: { name: string }; from: string }[] } };
    return [...new Set(report.summary.violations.filter((v) => v.from === file).map((v) => v.rule.name))];
  } finally {
    rmSync(file, { force: true });
  }
}

describe('the rooms of src/', () => {
  it('refuse an upward import (verse reaching the poem network)', () => {
    const rules = broken('src/model/verse/zz-probe.ts', "export { paramSpecs } from '../poem/network.js';\n", LAYERS);
    expect(rules).toContain('verse-imports-only-below');
  });

  it('refuse Prisma outside src/db', () => {
    const rules = broken('src/jobs/zz-probe.ts', "export { PrismaClient } from '../generated/prisma/client.js';\n", LAYERS);
    expect(rules).toContain('prisma-only-in-db');
  });

  it.each([
    ['src/model/verse/zz-probe.ts', "import * as tf from '@tensorflow/tfjs-core';\nexport const backend = () => tf.getBackend();\n"],
    ['src/model/kernels/zz-probe.ts', "import { tf } from '../runtime/backend.js';\nexport const backend = () => tf.getBackend();\n"],
  ])('refuse TensorFlow.js in verse and kernels (%s)', (file, source) => {
    expect(broken(file, source, RUNTIME)).toContain('verse-and-kernels-without-tensorflow');
  });

  it("refuse TensorFlow.js on the bot's main thread, even through another room", () => {
    const source = "import { PoemModel } from '../model/poem/decode/generate.js';\nexport const load = () => PoemModel.load();\n";
    expect(broken('src/bot/zz-probe.ts', source, RUNTIME)).toContain('bot-main-thread-without-tensorflow');
  });

  it('let the bot name a model type: a type-only import loads nothing', () => {
    const source = "import type { PoemModel } from '../model/poem/decode/generate.js';\nexport type Model = PoemModel;\n";
    expect(broken('src/bot/zz-probe.ts', source, RUNTIME)).toEqual([]);
  });
});
