/** Checkpoints: round trips, the manifest, atomic replacement and refusing damaged directories. */
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, FORMAT, loadCheckpoint, saveCheckpoint, type Manifest, type SaveInput } from '../src/model/poem/checkpoint.js';
import { countParams, initParams, paramSpecs, type ModelConfig, type ModelParams } from '../src/model/poem/network.js';
import { PUNCTUATION, SPECIALS, Vocab } from '../src/model/verse/vocab.js';
import { makeTinyCheckpoint, tempDir } from './helpers.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A SaveInput for `params` with the metadata of an existing checkpoint. */
function inputLike(manifest: Manifest, vocab: Vocab, params: ModelParams, extra: Partial<SaveInput> = {}): SaveInput {
  return {
    parent: manifest.version,
    vocab,
    params,
    config: manifest.config,
    split: manifest.split,
    metrics: { devPerplexity: 123.5, devContentPerplexity: 150.25, devTokens: 4321 },
    training: { step: 10, epoch: 1, batchInEpoch: 3, tokensSeen: 5000, seconds: 1.5, history: [{ step: 10, loss: 4.5, devPerplexity: 123.5 }] },
    ...extra,
  };
}

/** A small model whose whole state is easy to build by hand (no corpus needed). */
function handMade(values: number[]) {
  const vocab = new Vocab([...SPECIALS, ...PUNCTUATION, '山', '水'], 1);
  const config: ModelConfig = { vocabSize: vocab.size, embedDim: 2, hiddenDim: 1, layers: 1 };
  const params = initParams(config, 1);
  params.get('embedding')!.set(values);
  const input: SaveInput = {
    parent: null,
    vocab,
    params,
    config: { model: config, training: {} },
    split: { method: 'test', devShare: 0.05, trainPoems: 0, devPoems: 0 },
    metrics: { devPerplexity: null, devContentPerplexity: null, devTokens: null },
    training: { step: 0, epoch: 0, batchInEpoch: 0, tokensSeen: 0, seconds: 0, history: [] },
  };
  return input;
}

function loadError(dir: string): Error {
  try {
    loadCheckpoint(dir);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${dir} loaded although it should not`);
}

let base: { dir: string; manifest: Manifest; vocab: Vocab };
let config: ModelConfig;

beforeAll(() => {
  base = makeTinyCheckpoint({ hidden: 16, embed: 8, layers: 2, poems: 1500 });
  config = base.manifest.config.model;
});

/** A copy of the base checkpoint to damage. */
function copyOfBase(): string {
  const dir = join(tempDir(), 'copy');
  cpSync(base.dir, dir, { recursive: true });
  return dir;
}

describe('save and load', () => {
  it('round-trips float32 parameters bit for bit', () => {
    const ck = loadCheckpoint(base.dir);
    const expected = initParams(config, 7);
    expect([...ck.params.keys()]).toEqual(paramSpecs(config).map((s) => s.name));
    for (const [name, values] of expected) {
      expect(ck.params.get(name)!.length, name).toBe(values.length);
      expect(bits(ck.params.get(name)!).equals(bits(values)), name).toBe(true);
    }
    expect(ck.vocab.tokens).toEqual(base.vocab.tokens);
    expect(ck.optimizerState).toBeUndefined();
    expect(readFileSync(join(base.dir, 'weights.bin')).length).toBe(4 * countParams(config));
  });

  /** Values that do not come back within float16 precision: 11 significant bits for normal numbers, 2^-14 absolute below them (flushed to zero). */
  function float16Misses(expected: ModelParams, actual: ModelParams): string[] {
    const bad: string[] = [];
    for (const [name, values] of expected) {
      const back = actual.get(name)!;
      values.forEach((x, i) => {
        const y = back[i]!;
        const ok = Math.abs(y - x) <= (Math.abs(x) >= 2 ** -14 ? 1e-3 * Math.abs(x) : 2 ** -14);
        if (!ok) bad.push(`${name}[${i}]: ${x} → ${y}`);
      });
    }
    return bad;
  }

  it('round-trips float16 parameters in half the bytes, at float16 precision', () => {
    const tiny = makeTinyCheckpoint({ hidden: 16, embed: 8, layers: 2, poems: 1500, dtype: 'float16' });
    expect(tiny.manifest.weights.dtype).toBe('float16');
    expect(readFileSync(join(tiny.dir, 'weights.bin')).length).toBe(2 * countParams(config));
    const ck = loadCheckpoint(tiny.dir);
    const expected = initParams(config, 7);
    let changed = 0;
    for (const [name, values] of expected) {
      expect(ck.params.get(name)!.length, name).toBe(values.length);
      values.forEach((x, i) => void (ck.params.get(name)![i] !== x && changed++));
    }
    expect(changed).toBeGreaterThan(countParams(config) / 2); // really stored at lower precision
    expect(float16Misses(expected, ck.params)).toEqual([]);
  });

  // Regression: rounding that carries into the exponent once lost the carry for odd exponents and halved the
  // value (1.9999 → 1, 0.0312499 → 0.015625).
  it('rounds float16 values just below a power of two up to it (carry into the exponent)', () => {
    const values = [1.9999, 0.49999, 0.12499, 0.0312499, 0.99999, 0.24999, -1.9999, 0.3];
    const dir = join(tempDir(), 'f16');
    const input = handMade(values);
    saveCheckpoint(dir, { ...input, dtype: 'float16' });
    expect(float16Misses(input.params, loadCheckpoint(dir).params)).toEqual([]);
    // and the realistic case: the tiny checkpoint's random weights
    const tiny = makeTinyCheckpoint({ hidden: 16, embed: 8, layers: 2, poems: 1500, dtype: 'float16' });
    expect(float16Misses(initParams(config, 7), loadCheckpoint(tiny.dir).params)).toEqual([]);
  });

  it('keeps float16 values exactly when they are representable', () => {
    const values = [1, -2, 0.5, 0.25, 1.5, 65504, -0.0009765625, 0];
    const dir = join(tempDir(), 'f16exact');
    saveCheckpoint(dir, { ...handMade(values), dtype: 'float16' });
    expect(Array.from(loadCheckpoint(dir).params.get('embedding')!.subarray(0, values.length))).toEqual(values);
  });

  it('writes a manifest with version, parent, config and the sha256 of every file', () => {
    const m = base.manifest;
    expect(m.format).toBe(FORMAT);
    expect(m.version).toMatch(/^v\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(m.parent).toBeNull();
    expect(m.weights.tensors).toEqual(paramSpecs(config));
    expect(JSON.parse(readFileSync(join(base.dir, 'manifest.json'), 'utf8'))).toEqual(m);
    const onDisk = readdirSync(base.dir)
      .filter((f) => f !== 'manifest.json')
      .sort();
    expect(Object.keys(m.files).sort()).toEqual(onDisk);
    expect(onDisk).toEqual(['vocab.json', 'weights.bin']);
    for (const [name, hash] of Object.entries(m.files)) expect(sha256(readFileSync(join(base.dir, name))), name).toBe(hash);

    const ck = loadCheckpoint(base.dir);
    const child = join(tempDir(), 'child');
    const cm = saveCheckpoint(child, inputLike(m, ck.vocab, ck.params, { version: 'v-child' }));
    expect(cm.version).toBe('v-child');
    expect(cm.parent).toBe(m.version);
    const loaded = loadCheckpoint(child).manifest;
    expect(loaded).toEqual(cm);
    expect(loaded.metrics).toEqual({ devPerplexity: 123.5, devContentPerplexity: 150.25, devTokens: 4321 });
    expect(loaded.training.history).toEqual([{ step: 10, loss: 4.5, devPerplexity: 123.5 }]);
    expect(loaded.files['weights.bin']).toBe(m.files['weights.bin']); // same weights, same hash
  });

  it('gives every checkpoint a fresh version id', () => {
    const ck = loadCheckpoint(base.dir);
    const parent = tempDir();
    const input = inputLike(base.manifest, ck.vocab, ck.params);
    expect(input.version).toBeUndefined();
    const a = saveCheckpoint(join(parent, 'a'), input);
    const b = saveCheckpoint(join(parent, 'b'), input);
    expect(a.version).not.toBe(b.version);
    expect(a.version).not.toBe(base.manifest.version);
  });

  it('round-trips the optimizer state when asked', () => {
    const ck = loadCheckpoint(base.dir);
    const state = new Map<string, Float32Array>();
    for (const [name, values] of ck.params) {
      state.set(
        `${name}.m`,
        Float32Array.from(values, (v, i) => v * 0.5 + i * 1e-7),
      );
      state.set(
        `${name}.v`,
        Float32Array.from(values, (v) => v * v + Number.MIN_VALUE),
      );
    }
    state.set('step', Float32Array.of(42));
    const dir = join(tempDir(), 'resume');
    const m = saveCheckpoint(dir, inputLike(base.manifest, ck.vocab, ck.params, { optimizerState: state }));
    expect(Object.keys(m.files).sort()).toEqual(['optimizer.bin', 'optimizer.json', 'vocab.json', 'weights.bin']);
    for (const [name, hash] of Object.entries(m.files)) expect(sha256(readFileSync(join(dir, name))), name).toBe(hash);

    expect(loadCheckpoint(dir).optimizerState).toBeUndefined();
    const back = loadCheckpoint(dir, { optimizer: true });
    expect([...back.optimizerState!.keys()]).toEqual([...state.keys()]);
    for (const [name, values] of state) expect(bits(back.optimizerState!.get(name)!).equals(bits(values)), name).toBe(true);
    for (const [name, values] of ck.params) expect(bits(back.params.get(name)!).equals(bits(values)), name).toBe(true);

    // a checkpoint saved without optimizer state has none to give
    expect(loadCheckpoint(base.dir, { optimizer: true }).optimizerState).toBeUndefined();
  });

  it('replaces a checkpoint atomically: one valid checkpoint, no leftovers', () => {
    const ck = loadCheckpoint(base.dir);
    const parent = tempDir();
    const dir = join(parent, 'checkpoint');
    const first = saveCheckpoint(
      dir,
      inputLike(base.manifest, ck.vocab, ck.params, { version: 'v-first', optimizerState: new Map([['x', Float32Array.of(1, 2)]]) }),
    );
    const other = initParams(config, 99);
    const second = saveCheckpoint(dir, inputLike(base.manifest, ck.vocab, other, { version: 'v-second' }));
    expect(first.files['weights.bin']).not.toBe(second.files['weights.bin']);

    expect(readdirSync(parent)).toEqual(['checkpoint']);
    // the whole directory is the new one: the first save's optimizer files are gone
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'vocab.json', 'weights.bin']);
    const loaded = loadCheckpoint(dir, { optimizer: true });
    expect(loaded.manifest.version).toBe('v-second');
    expect(loaded.optimizerState).toBeUndefined();
    for (const [name, values] of other) expect(bits(loaded.params.get(name)!).equals(bits(values)), name).toBe(true);

    // and once more, into a directory that already holds the second
    saveCheckpoint(dir, inputLike(base.manifest, ck.vocab, ck.params, { version: 'v-third' }));
    expect(readdirSync(parent)).toEqual(['checkpoint']);
    expect(loadCheckpoint(dir).manifest.version).toBe('v-third');
  });

  it('creates missing parent directories', () => {
    const ck = loadCheckpoint(base.dir);
    const dir = join(tempDir(), 'a', 'b', 'checkpoint');
    saveCheckpoint(dir, inputLike(base.manifest, ck.vocab, ck.params));
    expect(readdirSync(dirname(dir))).toEqual(['checkpoint']);
    expect(loadCheckpoint(dir).vocab.size).toBe(config.vocabSize);
  });
});

describe('refusing a damaged checkpoint', () => {
  const editManifest = (dir: string, edit: (m: Manifest) => void) => {
    const path = join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    edit(m);
    writeFileSync(path, JSON.stringify(m));
  };

  it('loads the undamaged copy (so the refusals below are about the damage)', () => {
    expect(loadCheckpoint(copyOfBase()).manifest.version).toBe(base.manifest.version);
  });

  it('refuses a flipped byte in weights.bin', () => {
    const dir = copyOfBase();
    const path = join(dir, 'weights.bin');
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(path, bytes);
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('weights.bin is damaged');
    expect(e.message).toContain('sha256');
  });

  it('refuses a truncated weights.bin', () => {
    const dir = copyOfBase();
    const path = join(dir, 'weights.bin');
    truncateSync(path, readFileSync(path).length - 4);
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('weights.bin');
    expect(e.message).toMatch(/damaged|bytes/);
  });

  it('refuses a truncated weights.bin even when the manifest hash was updated to match', () => {
    const dir = copyOfBase();
    const path = join(dir, 'weights.bin');
    const size = readFileSync(path).length;
    truncateSync(path, size - 4);
    editManifest(dir, (m) => (m.files['weights.bin'] = sha256(readFileSync(path))));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(`weights.bin has ${size - 4} bytes, the shapes need ${size}`);
  });

  it('refuses a missing vocab.json', () => {
    const dir = copyOfBase();
    rmSync(join(dir, 'vocab.json'));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('vocab.json is missing');
  });

  it('refuses a missing weights.bin', () => {
    const dir = copyOfBase();
    rmSync(join(dir, 'weights.bin'));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('weights.bin is missing');
  });

  it('refuses a manifest that is not JSON', () => {
    const dir = copyOfBase();
    writeFileSync(join(dir, 'manifest.json'), '{"format": "tangshi-checkpoint/1", ');
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('no readable manifest.json');
    expect(e.message).toContain(dir);
  });

  it('refuses a directory without a manifest', () => {
    const dir = copyOfBase();
    rmSync(join(dir, 'manifest.json'));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('no readable manifest.json');
  });

  it('refuses a manifest of another format, naming the field', () => {
    const dir = copyOfBase();
    editManifest(dir, (m) => ((m as { format: string }).format = 'something-else/2'));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(`not a ${FORMAT} manifest`);
    expect(e.message).toContain('format');
  });

  it('refuses a manifest whose tensor shapes do not match its config', () => {
    const dir = copyOfBase();
    editManifest(dir, (m) => (m.weights.tensors[1]!.shape = [config.embedDim, 4 * config.hiddenDim + 4]));
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain('tensor shapes in the manifest do not match its model config');

    const dir2 = copyOfBase();
    editManifest(dir2, (m) => (m.config.model.hiddenDim += 1));
    const e2 = loadError(dir2);
    expect(e2).toBeInstanceOf(CheckpointError);
    expect(e2.message).toContain('tensor shapes in the manifest do not match its model config');
  });

  it('refuses a vocabulary of the wrong size for the model', () => {
    const dir = copyOfBase();
    editManifest(dir, (m) => {
      m.config.model.vocabSize += 1;
      m.weights.tensors = paramSpecs(m.config.model);
    });
    const e = loadError(dir);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toContain(`vocabulary has ${config.vocabSize} tokens, the model expects ${config.vocabSize + 1}`);
  });

  it('refuses a damaged optimizer.bin only when the optimizer state is asked for', () => {
    const ck = loadCheckpoint(base.dir);
    const dir = join(tempDir(), 'resume');
    saveCheckpoint(dir, inputLike(base.manifest, ck.vocab, ck.params, { optimizerState: new Map([['m', Float32Array.of(1, 2, 3)]]) }));
    const path = join(dir, 'optimizer.bin');
    const bytes = readFileSync(path);
    bytes[0]! ^= 0x80;
    writeFileSync(path, bytes);
    expect(loadCheckpoint(dir).params.size).toBe(ck.params.size);
    let error: unknown;
    try {
      loadCheckpoint(dir, { optimizer: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain('optimizer.bin is damaged');
  });
});
