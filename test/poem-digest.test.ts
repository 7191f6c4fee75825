/**
 * The shipped model's seeded poems, bit for bit: a fixed set of requests (every form, a start, an acrostic,
 * tones off, modern rhyme, both scripts, int8 and float32) written one by one and as one batch, hashed and
 * compared with test/fixtures/poem-digest.json. A change to decoding, the kernels or the verse rules that
 * alters any poem fails here. When the shipped model itself changes (its weights' sha256 differs), write the
 * new digest on purpose: `npx tsx test/support/poem-digest.ts --write`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/model/poem/checkpoint.js';
import { BASE_CHECKPOINT } from '../src/model/runtime/paths.js';
import { DIGEST_FILE, poemDigest } from './support/poem-digest.js';

describe('the shipped model writes the same poems for the same seeds', () => {
  const recorded = JSON.parse(readFileSync(DIGEST_FILE, 'utf8')) as { weightsSha256: string; poems: number; int8: string; float32: string };

  it('is the model the digest was recorded with', () => {
    expect(loadCheckpoint(BASE_CHECKPOINT).manifest.files['weights.bin']).toBe(recorded.weightsSha256);
  });

  it.each(['int8', 'float32'] as const)('%s: the same poems, alone and in one batch', async (precision) => {
    const { poems, alone, batched } = await poemDigest(precision);
    expect(poems).toBe(recorded.poems);
    expect(batched).toBe(alone);
    expect(alone).toBe(recorded[precision]);
  });
});
