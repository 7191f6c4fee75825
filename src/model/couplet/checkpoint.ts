/**
 * A couplet checkpoint: manifest.json (config, training, split, metrics, sha256 of each file), weights.bin
 * (float16, tensors in paramSpecs order) and vocab.json. Written atomically, verified on load.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { CheckpointError, fromFloat16, newVersionId, toFloat16 } from '../poem/checkpoint.js';
import { Vocab } from '../verse/vocab.js';
import { CoupletConfig, paramSpecs, type CoupletParams } from './seq2seq.js';

export const COUPLET_FORMAT = 'tangshi-couplet/1';
/** the shipped couplet model */
export { COUPLET_CHECKPOINT } from '../runtime/paths.js';

export const CoupletManifest = z.object({
  format: z.literal(COUPLET_FORMAT),
  version: z.string(),
  createdAt: z.string(),
  config: CoupletConfig,
  training: z.record(z.unknown()),
  split: z.record(z.unknown()),
  metrics: z.record(z.number().nullable()),
  files: z.record(z.string()),
});
export type CoupletManifest = z.infer<typeof CoupletManifest>;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

export function saveCouplet(
  dir: string,
  input: Omit<CoupletManifest, 'format' | 'version' | 'createdAt' | 'files'> & { vocab: Vocab; params: CoupletParams },
): CoupletManifest {
  const specs = paramSpecs(input.config);
  const flat = new Float32Array(specs.reduce((n, s) => n + input.params.get(s.name)!.length, 0));
  let offset = 0;
  for (const s of specs) {
    flat.set(input.params.get(s.name)!, offset);
    offset += input.params.get(s.name)!.length;
  }
  const half = toFloat16(flat);
  const files = { 'weights.bin': new Uint8Array(half.buffer), 'vocab.json': Buffer.from(JSON.stringify(input.vocab.toJSON())) };
  const { vocab: _vocab, params: _params, ...rest } = input;
  const manifest: CoupletManifest = {
    format: COUPLET_FORMAT,
    version: newVersionId(),
    createdAt: new Date().toISOString(),
    ...rest,
    files: Object.fromEntries(Object.entries(files).map(([name, data]) => [name, sha256(data)])),
  };
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
  writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (existsSync(target)) rmSync(target, { recursive: true });
  renameSync(tmp, target);
  return manifest;
}

export function loadCouplet(dir: string): { manifest: CoupletManifest; vocab: Vocab; params: CoupletParams } {
  let manifest: CoupletManifest;
  try {
    manifest = CoupletManifest.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  } catch (e) {
    throw new CheckpointError(`couplet checkpoint ${dir}: no readable manifest.json (${(e as Error).message.split('\n')[0]})`);
  }
  const read = (name: string) => {
    const data = readFileSync(join(dir, name));
    if (sha256(data) !== manifest.files[name]) throw new CheckpointError(`couplet checkpoint ${dir}: ${name} is damaged (sha256 does not match the manifest)`);
    return data;
  };
  const weights = read('weights.bin');
  const flat = fromFloat16(new Uint16Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength)));
  const params: CoupletParams = new Map();
  let offset = 0;
  for (const s of paramSpecs(manifest.config)) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    params.set(s.name, flat.slice(offset, offset + size));
    offset += size;
  }
  if (offset !== flat.length) throw new CheckpointError(`couplet checkpoint ${dir}: weights.bin holds ${flat.length} numbers, the config needs ${offset}`);
  return { manifest, vocab: Vocab.fromJSON(JSON.parse(read('vocab.json').toString('utf8'))), params };
}
