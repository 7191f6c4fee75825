/**
 * A checkpoint is a directory: manifest.json, vocab.json, weights.bin and, for resuming, optimizer.bin.
 * The manifest records the lineage, config, data split, metrics and the sha256 of every file; loading
 * verifies all of it. Saving writes a sibling directory and renames it into place, so a crash never
 * leaves a half-written checkpoint under the real name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ModelConfig, paramSpecs, type ModelParams } from './network.js';
import { Vocab } from '../verse/vocab.js';

export const FORMAT = 'tangshi-checkpoint/1';
export { BASE_CHECKPOINT } from '../runtime/paths.js';

const HistoryPoint = z.object({ step: z.number(), loss: z.number(), devPerplexity: z.number().optional() });

export const Manifest = z.object({
  format: z.literal(FORMAT),
  version: z.string(),
  parent: z.string().nullable(),
  createdAt: z.string(),
  config: z.object({ model: ModelConfig, training: z.record(z.unknown()) }),
  split: z.object({ method: z.string(), devShare: z.number(), trainPoems: z.number(), devPoems: z.number(), stanzas: z.number().optional() }),
  metrics: z.object({
    devPerplexity: z.number().nullable(),
    devContentPerplexity: z.number().nullable(),
    devTokens: z.number().nullable(),
  }),
  weights: z.object({ dtype: z.enum(['float32', 'float16']), tensors: z.array(z.object({ name: z.string(), shape: z.array(z.number()) })) }),
  training: z.object({
    step: z.number(),
    epoch: z.number(),
    batchInEpoch: z.number(),
    tokensSeen: z.number(),
    seconds: z.number(),
    history: z.array(HistoryPoint),
  }),
  files: z.record(z.string()),
});
export type Manifest = z.infer<typeof Manifest>;

export type Checkpoint = {
  dir: string;
  manifest: Manifest;
  vocab: Vocab;
  params: ModelParams;
  /** Adam/momentum/Adagrad state, when saved: name → slots */
  optimizerState?: Map<string, Float32Array>;
};

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

// float16 storage halves the shipped file; the error (≤ 2^-11 relative) does not move perplexity measurably.
export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    if (exp <= 0)
      out[i] = sign; // underflow to ±0 (weights this small do not matter)
    else if (exp >= 31)
      out[i] = sign | 0x7c00; // overflow to ±inf
    else out[i] = sign | ((exp << 10) + ((mant + 0x1000) >>> 13)); // round to nearest; a carry moves into the exponent
  }
  return out;
}

let halfValues: Float32Array | undefined;

/** The value of every float16, computed once: loading is then one lookup a weight, not a power. */
function float16Values(): Float32Array {
  if (halfValues) return halfValues;
  halfValues = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    halfValues[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? sign * Infinity : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return halfValues;
}

export function fromFloat16(half: Uint16Array): Float32Array {
  const values = float16Values();
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = values[half[i]!]!;
  return out;
}

function packParams(specs: { name: string }[], params: ModelParams): Float32Array {
  const total = specs.reduce((n, s) => n + params.get(s.name)!.length, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const s of specs) {
    flat.set(params.get(s.name)!, offset);
    offset += params.get(s.name)!.length;
  }
  return flat;
}

function unpackParams(specs: { name: string; shape: number[] }[], flat: Float32Array): ModelParams {
  const params: ModelParams = new Map();
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    params.set(s.name, flat.slice(offset, offset + size));
    offset += size;
  }
  return params;
}

export function newVersionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `v${stamp}-${randomBytes(3).toString('hex')}`;
}

export type SaveInput = Omit<Manifest, 'format' | 'files' | 'weights' | 'version' | 'createdAt'> & {
  version?: string;
  vocab: Vocab;
  params: ModelParams;
  optimizerState?: Map<string, Float32Array>;
  dtype?: 'float32' | 'float16';
};

/** Writes a checkpoint atomically to `dir` (replacing one already there) and returns its manifest. */
export function saveCheckpoint(dir: string, input: SaveInput): Manifest {
  const specs = paramSpecs(input.config.model);
  const dtype = input.dtype ?? 'float32';
  const flat = packParams(specs, input.params);
  const weights = dtype === 'float16' ? toFloat16(flat) : flat;
  const files: Record<string, Uint8Array> = {
    'weights.bin': new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    'vocab.json': Buffer.from(JSON.stringify(input.vocab.toJSON())),
  };
  if (input.optimizerState) {
    const names = [...input.optimizerState.keys()];
    const packed = packParams(
      names.map((name) => ({ name })),
      input.optimizerState,
    );
    files['optimizer.bin'] = new Uint8Array(packed.buffer);
    files['optimizer.json'] = Buffer.from(JSON.stringify(names.map((name) => ({ name, size: input.optimizerState!.get(name)!.length }))));
  }
  const manifest: Manifest = {
    format: FORMAT,
    version: input.version ?? newVersionId(),
    parent: input.parent,
    createdAt: new Date().toISOString(),
    config: input.config,
    split: input.split,
    metrics: input.metrics,
    weights: { dtype, tensors: specs },
    training: input.training,
    files: Object.fromEntries(Object.entries(files).map(([name, data]) => [name, sha256(data)])),
  };
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
  writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (existsSync(target)) {
    const old = `${tmp}.old`;
    renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
  return manifest;
}

function readVerified(dir: string, manifest: Manifest, name: string): Buffer {
  const expected = manifest.files[name];
  if (!expected) throw new CheckpointError(`checkpoint ${dir}: manifest lists no ${name}`);
  let data: Buffer;
  try {
    data = readFileSync(join(dir, name));
  } catch {
    throw new CheckpointError(`checkpoint ${dir}: ${name} is missing`);
  }
  if (sha256(data) !== expected) throw new CheckpointError(`checkpoint ${dir}: ${name} is damaged (sha256 does not match the manifest)`);
  return data;
}

/** Loads and verifies a checkpoint; throws CheckpointError naming what is wrong. */
export function loadCheckpoint(dir: string, opts: { optimizer?: boolean } = {}): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: no readable manifest.json (${(e as Error).message.split('\n')[0]})`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success)
    throw new CheckpointError(
      `checkpoint ${dir}: manifest.json is not a ${FORMAT} manifest (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
    );
  const manifest = parsed.data;
  const specs = paramSpecs(manifest.config.model);
  if (JSON.stringify(specs) !== JSON.stringify(manifest.weights.tensors)) {
    throw new CheckpointError(`checkpoint ${dir}: tensor shapes in the manifest do not match its model config`);
  }
  const vocab = Vocab.fromJSON(JSON.parse(readVerified(dir, manifest, 'vocab.json').toString('utf8')));
  if (vocab.size !== manifest.config.model.vocabSize) {
    throw new CheckpointError(`checkpoint ${dir}: vocabulary has ${vocab.size} tokens, the model expects ${manifest.config.model.vocabSize}`);
  }
  const bytes = readVerified(dir, manifest, 'weights.bin');
  const count = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const width = manifest.weights.dtype === 'float16' ? 2 : 4;
  if (bytes.length !== count * width) {
    throw new CheckpointError(`checkpoint ${dir}: weights.bin has ${bytes.length} bytes, the shapes need ${count * width}`);
  }
  const aligned = new Uint8Array(bytes).buffer; // a copy: Buffer's offset may not be 4-aligned
  const flat = width === 2 ? fromFloat16(new Uint16Array(aligned)) : new Float32Array(aligned);
  const checkpoint: Checkpoint = { dir, manifest, vocab, params: unpackParams(specs, flat) };
  if (opts.optimizer && manifest.files['optimizer.bin']) {
    const layout = z.array(z.object({ name: z.string(), size: z.number() })).parse(JSON.parse(readVerified(dir, manifest, 'optimizer.json').toString('utf8')));
    const data = new Float32Array(new Uint8Array(readVerified(dir, manifest, 'optimizer.bin')).buffer);
    checkpoint.optimizerState = unpackParams(
      layout.map((l) => ({ name: l.name, shape: [l.size] })),
      data,
    );
  }
  return checkpoint;
}

/**
 * Writes a loaded checkpoint to `dir` again, keeping its version and lineage, with other storage or new
 * metrics (export to float16; recording the dev perplexity measured on the stored weights). No optimizer state.
 */
export function copyCheckpoint(ck: Checkpoint, dir: string, changes: { dtype?: 'float32' | 'float16'; metrics?: Manifest['metrics'] } = {}): Manifest {
  const { files: _files, weights, format: _format, createdAt: _created, ...rest } = ck.manifest;
  return saveCheckpoint(dir, { ...rest, metrics: changes.metrics ?? rest.metrics, vocab: ck.vocab, params: ck.params, dtype: changes.dtype ?? weights.dtype });
}
