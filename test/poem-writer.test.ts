import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoemModel } from '../src/model/poem/decode/generate.js';
import { PoemInputError, type PoemRequest } from '../src/model/poem/decode/poem-request.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PoemWriter, type TasteChoice } from '../src/serving/poem-writer.js';
import { candidateSeeds, candidatesNow } from '../src/serving/best-of-n.js';
import { TasteModel } from '../src/model/taste/taste-model.js';
import { loadTangCorpus, poemText } from '../src/model/verse/corpus.js';
import { makeTinyCheckpoint, tempDir } from './helpers.js';

let dir: string;
let writer: PoemWriter;

beforeAll(async () => {
  dir = makeTinyCheckpoint().dir;
  writer = await PoemWriter.start(dir, { workers: 2 });
});

afterAll(() => writer?.close());

describe('PoemWriter', () => {
  it('writes a burst on its threads, many poems a step, each exactly the poem its seed gives alone', async () => {
    expect(writer.workers).toBe(2);
    await writer.warm();
    const requests: PoemRequest[] = Array.from({ length: 40 }, (_, k) => ({
      seed: k,
      start: k % 3 === 0 ? '月' : undefined,
      form: k % 5 === 0 ? 'qilv' : undefined,
    }));
    const burst = await Promise.all(requests.map((r) => writer.generate(r)));
    const model = await PoemModel.load(dir);
    expect(burst.map((p) => p.text)).toEqual(requests.map((r) => model.generate(r).text));
    model.dispose();
    expect(writer.busy).toBe(0);
  });

  it('writes the same poems with its product helpers paused (the bot pauses them while it fine-tunes)', async () => {
    const big = makeTinyCheckpoint({ hidden: 256, embed: 64 }).dir; // products big enough to be shared (SPLIT_MIN_MACS)
    const helped = await PoemWriter.start(big, { workers: 1, productThreads: 2 });
    try {
      const requests: PoemRequest[] = Array.from({ length: 6 }, (_, k) => ({ seed: 100 + k, form: k % 2 ? 'qijue' : 'wulv' }));
      const shared = await Promise.all(requests.map((r) => helped.generate(r)));
      helped.pauseProductHelper('finetune', true);
      expect(helped.productHelperPaused).toBe(true);
      const alone = await Promise.all(requests.map((r) => helped.generate(r)));
      // paused while any reason holds
      helped.pauseProductHelper('swap', true);
      helped.pauseProductHelper('finetune', false);
      expect(helped.productHelperPaused).toBe(true);
      expect(helped.productHelperPausedFor('finetune')).toBe(false);
      helped.pauseProductHelper('swap', false);
      expect(helped.productHelperPaused).toBe(false);
      expect(alone.map((p) => p.text)).toEqual(shared.map((p) => p.text));
      expect((await helped.generate(requests[0]!)).text).toBe(shared[0]!.text);
    } finally {
      await helped.close();
    }
  });

  it('rejects a bad request in a burst with its own message, and writes the others', async () => {
    const results = await Promise.allSettled([writer.generate({ seed: 1 }), writer.generate({ start: 'abc' }), writer.generate({ seed: 2, form: 'wujue' })]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(PoemInputError);
    expect(error.message).toMatch(/only Chinese characters/);
  });

  it('lets the poems in flight finish when it closes', async () => {
    const other = await PoemWriter.start(dir, { workers: 1 });
    const inFlight = Array.from({ length: 10 }, (_, k) => other.generate({ seed: k }));
    await other.close();
    expect((await Promise.all(inFlight)).every((p) => p.lines.length >= 4)).toBe(true);
  });
});

/** a taste model that likes 七言 poems, written where a poem thread can load it */
function sevenCharacterTaste(): TasteChoice {
  const poems = loadTangCorpus().train.slice(0, 300);
  const model = TasteModel.train(poems.map((p) => ({ text: poemText(p.lines), form: p.form, label: p.lines[0]!.length === 7 ? 1 : 0, weight: 1 })));
  const json = model.toJSON();
  const path = join(tempDir(), 'taste.json');
  writeFileSync(path, json);
  return { path, sha256: TasteModel.sha256(json), version: model.version };
}

describe('best-of-n', () => {
  it('candidates: the request seed first, then distinct ones; fewer as the batch fills, one in a burst', () => {
    expect(candidateSeeds(42, 4)[0]).toBe(42);
    expect(new Set(candidateSeeds(42, 4)).size).toBe(4);
    expect(candidateSeeds(42, 4)).toEqual(candidateSeeds(42, 4));
    expect(candidatesNow(4, 64, 1)).toBe(4);
    expect(candidatesNow(4, 10, 4)).toBe(2);
    expect(candidatesNow(4, 40, 60)).toBe(1);
  });

  it("serves the candidate the taste model scores best; the same seed gives the same poem; without a taste model, the seed's own poem", async () => {
    const taste = sevenCharacterTaste();
    const chooser = await PoemWriter.start(dir, { workers: 1, bestOf: 4, taste });
    try {
      expect(chooser.tasteModel?.version).toBe(taste.version);
      const requests: PoemRequest[] = Array.from({ length: 24 }, (_, k) => ({ seed: 300 + k }));
      const chosen = [];
      for (const r of requests) chosen.push(await chooser.generate(r)); // one at a time: the batch has room for 4
      expect(chosen.every((p) => p.candidates === 4 && p.taste?.version === taste.version)).toBe(true);
      const seven = chosen.filter((p) => p.form === 'qijue' || p.form === 'qilv').length;
      const alone = await Promise.all(requests.map((r) => writer.generate(r))); // the shared writer: no taste model
      expect(alone.every((p) => p.candidates === 1)).toBe(true);
      expect(seven).toBeGreaterThan(alone.filter((p) => p.form === 'qijue' || p.form === 'qilv').length);
      expect((await chooser.generate(requests[3]!)).text).toBe(chosen[3]!.text);
      // a damaged taste model is refused: one candidate a poem, the seed's own, and the reason kept
      writeFileSync(taste.path, '{"format":"tangshi-taste-1"}');
      expect(await chooser.useTaste(taste)).toMatch(/damaged/);
      expect(chooser.tasteModel).toBeNull();
      const fallback = await chooser.generate(requests[0]!);
      expect([fallback.candidates, fallback.text]).toEqual([1, alone[0]!.text]);
    } finally {
      await chooser.close();
    }
  });

  it('writes one candidate a poem in a burst', async () => {
    const chooser = await PoemWriter.start(dir, { workers: 1, bestOf: 4, taste: sevenCharacterTaste() });
    try {
      const burst = await Promise.all(Array.from({ length: 120 }, (_, k) => chooser.generate({ seed: k })));
      expect(burst.filter((p) => p.candidates === 1).length).toBeGreaterThan(60);
    } finally {
      await chooser.close();
    }
  });
});
