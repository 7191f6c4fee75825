import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoemModel } from '../src/model/poem/decode/generate.js';
import { PoemInputError, type PoemRequest } from '../src/model/poem/decode/poem-request.js';
import { PoemWriter } from '../src/serving/poem-writer.js';
import { makeTinyCheckpoint } from './helpers.js';

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
