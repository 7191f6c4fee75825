import fc from 'fast-check';
import prand from 'pure-rand';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/model/runtime/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/model/poem/checkpoint.js';
import { FORM_SHAPE, FORMS, loadTangCorpus, type Form } from '../src/model/verse/corpus.js';
import { PoemInputError, PoemModel, PoemRequest, type GeneratedPoem } from '../src/model/poem/decode/generate.js';
import { resolvePrompt } from '../src/model/poem/decode/prompt.js';
import { sample } from '../src/model/poem/decode/sampler.js';
import { forward, toTensors } from '../src/model/poem/network.js';
import { poemRhymes } from '../src/model/verse/modern-rhyme.js';
import { classicalRhymeGroups, classicalRhymes } from '../src/model/verse/classical-rhyme.js';
import { checkpointPerplexity } from '../src/model/poem/train/perplexity.js';
import { inScript, spellIn, toTraditional } from '../src/model/verse/script.js';
import { BOS, type Vocab } from '../src/model/verse/vocab.js';
import { makeTinyCheckpoint } from './helpers.js';
import { CorpusLines } from '../src/model/verse/corpus-lines.js';
import { REPEAT_ALLOWANCE } from '../src/model/poem/decode/verse-rules.js';
import { checkTones } from '../src/model/verse/poetics.js';
import { clearTone } from '../src/model/verse/tones.js';

const HAN = /^\p{Script=Han}$/u;

let model: PoemModel;
let vocab: Vocab;
let version: string;
let checkpointDir: string;
/** ordinary characters of the tiny model's vocabulary */
let known: string[];

beforeAll(async () => {
  const ck = makeTinyCheckpoint();
  checkpointDir = ck.dir;
  model = await PoemModel.load(ck.dir);
  vocab = model.vocab;
  version = ck.manifest.version;
  known = vocab.tokens.slice(vocab.firstChar);
});

afterAll(() => model?.dispose());

/** What the poem must start with for a typed text: its traditional form, character by character where the model knows it. */
function asWritten(text: string): string {
  const typed = [...text];
  const converted = [...toTraditional(text)];
  expect(converted).toHaveLength(typed.length);
  return typed.map((ch, i) => (vocab.has(converted[i]!) ? converted[i]! : ch)).join('');
}

/** The structural checks every poem must pass (traditional script). */
function checkPoem(poem: GeneratedPoem, req: PoemRequest): void {
  const shape = FORM_SHAPE[poem.form];
  expect(FORMS).toContain(poem.form);
  if (req.form) expect(poem.form).toBe(req.form);
  expect(poem.version).toBe(version);
  expect(poem.script).toBe(req.script ?? 'traditional');

  expect(poem.lines).toHaveLength(shape.lines);
  for (const line of poem.lines) {
    const chars = [...line];
    expect(chars, line).toHaveLength(shape.lineLength);
    for (const ch of chars) {
      expect(ch, `${ch} in ${line}`).toMatch(HAN);
      expect(vocab.has(ch), `${ch} in ${line} is an ordinary vocabulary character`).toBe(true);
    }
  }
  expect(poem.text).toBe(poem.lines.map((line, i) => line + (i % 2 === 0 ? '，' : '。')).join(''));

  if (req.start !== undefined) {
    const start = asWritten(req.start);
    expect(shape.lineLength).toBeGreaterThanOrEqual([...req.start].length);
    expect(poem.lines[0]!.startsWith(start), `${poem.lines[0]} starts with ${start}`).toBe(true);
  }
  if (req.acrostic !== undefined) {
    const heads = [...asWritten(req.acrostic)];
    expect(heads).toHaveLength(shape.lines);
    poem.lines.forEach((line, i) => expect([...line][0], `line ${i + 1}: ${line}`).toBe(heads[i]));
  }

  // rhyme is forced by the decoder: every poem rhymes, without repeating a rhyme character
  if (req.rhyme === 'modern') expect(poemRhymes(poem.lines), poem.text).toBe(true);
  else if (poem.script === 'traditional') expect(classicalRhymes(poem.lines), poem.text).toBe(true);

  // no stutter: characters the decoder chose repeat an earlier one only as a reduplication (青青, never
  // 青青青), up to the form's allowance; the user's own characters are not counted
  const forcedAt = (line: number, col: number) =>
    (req.start !== undefined && line === 0 && col < [...req.start].length) || (req.acrostic !== undefined && col === 0);
  const seen = new Set<string>();
  let repeats = 0;
  poem.lines.forEach((line, l) => {
    const chars = [...line];
    chars.forEach((ch, c) => {
      const reduplication = c > 0 && chars[c - 1] === ch && (c < 2 || chars[c - 2] !== ch);
      if (seen.has(ch) && !reduplication && !forcedAt(l, c)) repeats++;
      seen.add(ch);
    });
  });
  expect(repeats, poem.text).toBeLessThanOrEqual(REPEAT_ALLOWANCE[poem.form]);

  // 格律: with no characters of the user's to fit around, every tone rule of regulated verse holds
  if (req.tones !== false && req.start === undefined && req.acrostic === undefined && poem.script === 'traditional') {
    const check = checkTones(poem.lines, clearTone);
    expect(check.broken, poem.text).toEqual([]);
  }
  const ends = poem.lines.filter((_, i) => i % 2 === 1).map((line) => [...line].at(-1)!);
  expect(new Set(ends).size, `even-line ends ${ends.join('')}`).toBe(ends.length);
}

/** well-spread 31-bit seeds */
const spread = (k: number) => Math.imul(k + 1, 0x9e3779b1) >>> 1;

const formOrNone = fc.option(fc.constantFrom(...FORMS), { nil: undefined });

describe('PoemModel.generate', () => {
  it('writes a well-formed, rhyming poem for any seed, sampling settings and prompt', () => {
    const char = fc.constantFrom(...known);
    const sampling = fc.record({
      seed: fc.integer(),
      temperature: fc.double({ min: 0.1, max: 2, noNaN: true }),
      topK: fc.integer({ min: 1, max: 100 }),
      topP: fc.double({ min: 0.05, max: 1, noNaN: true }),
      tones: fc.option(fc.boolean(), { nil: undefined }),
      rhyme: fc.option(fc.constantFrom('classical' as const, 'modern' as const), { nil: undefined }),
    });
    const free = formOrNone.map((form): PoemRequest => ({ form }));
    const start = formOrNone.chain((form) =>
      fc.array(char, { minLength: 1, maxLength: form ? FORM_SHAPE[form].lineLength : 7 }).map((chars): PoemRequest => ({ start: chars.join(''), form })),
    );
    const acrostic = fc
      .constantFrom(4, 8)
      .chain((n) =>
        fc
          .tuple(
            fc.array(char, { minLength: n, maxLength: n }),
            fc.option(fc.constantFrom(...FORMS.filter((f) => FORM_SHAPE[f].lines === n)), { nil: undefined }),
          )
          .map(([chars, form]): PoemRequest => ({ acrostic: chars.join(''), form })),
      );
    fc.assert(
      fc.property(sampling, fc.oneof(free, start, acrostic), (opts, prompt) => {
        const req = { ...opts, ...prompt };
        checkPoem(model.generate(req), req);
      }),
      { numRuns: 150 },
    );
  });

  it('draws the default form among those the prompt allows', () => {
    const formsFor = (req: PoemRequest) => {
      const seen = new Set<Form>();
      // seeds spread over the whole range (see the note on nearby seeds in the report)
      for (let k = 0; k < 60; k++) seen.add(resolvePrompt(vocab, PoemRequest.parse(req), prand.xoroshiro128plus(spread(k))).form);
      return [...seen].sort();
    };
    expect(formsFor({ acrostic: '春夏秋冬' })).toEqual(['qijue', 'wujue']);
    expect(formsFor({ acrostic: '春夏秋冬春夏秋冬' })).toEqual(['qilv', 'wulv']);
    expect(formsFor({ start: '春夏秋冬春夏' })).toEqual(['qijue', 'qilv']);
    expect(formsFor({ start: '春夏秋冬春夏秋' })).toEqual(['qijue', 'qilv']);
    expect(formsFor({ start: '月' })).toEqual([...FORMS].sort());

    // and generate() uses it
    for (let seed = 0; seed < 5; seed++) {
      expect(['wujue', 'qijue']).toContain(model.generate({ acrostic: '春夏秋冬', seed }).form);
      expect(['wulv', 'qilv']).toContain(model.generate({ acrostic: '春夏秋冬春夏秋冬', seed }).form);
      expect(['qijue', 'qilv']).toContain(model.generate({ start: '春夏秋冬春夏', seed }).form);
    }
  });

  it('spreads nearby seeds: seeds 0..59 give both 绝句 forms and varied openings', () => {
    const forms = new Set<Form>();
    const openings = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const poem = model.generate({ acrostic: '春夏秋冬', seed });
      forms.add(poem.form);
      openings.add(poem.lines[0]!.slice(1, 3));
    }
    expect([...forms].sort()).toEqual(['qijue', 'wujue']);
    expect(openings.size).toBeGreaterThan(20);
  });

  it('writes the same poem for the same seed and different poems for different seeds', () => {
    fc.assert(
      fc.property(fc.integer(), formOrNone, (seed, form) => {
        expect(model.generate({ seed, form, start: '月' })).toEqual(model.generate({ seed, form, start: '月' }));
      }),
      { numRuns: 15 },
    );
    const poems = new Set(Array.from({ length: 10 }, (_, seed) => model.generate({ seed, form: 'wujue' }).text));
    expect(poems.size).toBeGreaterThan(1);
    const unseeded = new Set(Array.from({ length: 5 }, () => model.generate({ form: 'wujue' }).text));
    expect(unseeded.size).toBeGreaterThan(1);
  });
});

describe('a rhyming first line (首句入韵)', () => {
  it('comes as often as the poets wrote it: most 七言 poems, few 五言 ones, and the tone rules still hold', () => {
    const groups = classicalRhymeGroups();
    for (const form of FORMS) {
      const poems = Array.from({ length: 40 }, (_, seed) => model.generate({ form, seed }));
      const rhymed = poems.filter(({ lines }) => {
        const [a, b] = [[...lines[0]!].at(-1)!, [...lines[1]!].at(-1)!];
        return clearTone(a) !== 'oblique' && groups.get(a) !== undefined && groups.get(a) === groups.get(b);
      }).length;
      if (FORM_SHAPE[form].lineLength === 7) expect(rhymed, form).toBeGreaterThan(20);
      else expect(rhymed, form).toBeLessThan(16);
      expect(rhymed, form).toBeGreaterThan(0);
      for (const poem of poems) expect(checkTones(poem.lines, clearTone).kept, poem.text).toBe(true);
    }
  });
});

describe('no copied lines', () => {
  it('never ends a line so that it copies a line of the corpus, and the poems change only where they would', async () => {
    // the "corpus" is made of the lines this model writes when nothing forbids them: with it, none may come back
    const free = await PoemModel.load(checkpointDir, { corpusLines: CorpusLines.load([]) });
    const requests: PoemRequest[] = Array.from({ length: 30 }, (_, k) => ({ seed: 100 + k, form: FORMS[k % 4], temperature: 0.3 }));
    const before = requests.map((r) => free.generate(r));
    const written = before.flatMap((p) => p.lines);
    const guarded = await PoemModel.load(checkpointDir, { corpusLines: CorpusLines.load(written.slice(0, 60)) });
    const after = requests.map((r) => guarded.generate(r));
    const banned = new Set(written.slice(0, 60));
    for (const poem of after) for (const line of poem.lines) expect(banned.has(line), line).toBe(false);
    // poems whose lines were not in the table are unchanged: the rule acts only at a copied line's end
    const untouched = before.filter((p) => !p.lines.some((l) => banned.has(l)));
    expect(untouched.length).toBeGreaterThan(0);
    for (const poem of untouched) expect(after[before.indexOf(poem)]!.text).toBe(poem.text);
    free.dispose();
    guarded.dispose();
  });
});

describe('PoemModel.generateMany', () => {
  // every kind of request at once: forms of both lengths, start texts, acrostics, tones off, modern rhyme, scripts
  const requests: PoemRequest[] = [
    { seed: 1 },
    { seed: 2, form: 'qilv' },
    { seed: 3, start: '月', form: 'wujue' },
    { seed: 4, acrostic: '春夏秋冬' },
    { seed: 5, form: 'wulv', tones: false },
    { seed: 6, form: 'qijue', rhyme: 'modern', script: 'simplified' },
    { seed: 7, start: '明月' },
    { seed: 8, temperature: 1.5, topK: 5 },
    { seed: 9, acrostic: '一二三四五六七八' },
  ];

  for (const precision of ['int8', 'float32'] as const) {
    it(`writes each poem of a batch exactly as generate() writes it alone (${precision})`, async () => {
      const m = precision === 'int8' ? model : await PoemModel.load(checkpointDir, { precision });
      const alone = requests.map((r) => m.generate(r));
      for (const size of [requests.length, 4, 1]) {
        const together: GeneratedPoem[] = [];
        for (let k = 0; k < requests.length; k += size) together.push(...m.generateMany(requests.slice(k, k + size)));
        expect(
          together.map((p) => p.text),
          `batches of ${size}`,
        ).toEqual(alone.map((p) => p.text));
      }
      alone.forEach((poem, k) => requests[k]!.script === undefined && checkPoem(poem, requests[k]!));
      expect(new Set(alone.map((p) => p.form)).size).toBeGreaterThan(1); // lengths differ: poems finish at different steps
      if (m !== model) m.dispose();
    });
  }

  it('writes the same poems when a helper thread shares the big products (the bot on 2 cores), alone and in batches', async () => {
    const wide = makeTinyCheckpoint({ hidden: 256, embed: 32 }); // products above the size a helper takes a share of
    const [one, two] = await Promise.all([PoemModel.load(wide.dir), PoemModel.load(wide.dir, { threads: 2 })]);
    try {
      const expected = requests.map((r) => one.generate(r).text);
      expect(requests.map((r) => two.generate(r).text)).toEqual(expected);
      expect(two.generateMany(requests).map((p) => p.text)).toEqual(expected);
    } finally {
      one.dispose();
      two.dispose();
    }
  });

  it('drafts started at different times share steps and still come out as alone', () => {
    const late = model.startPoem({ seed: 11, form: 'qilv' });
    const early = model.startPoem({ seed: 10, form: 'wujue' });
    for (let k = 0; k < 7; k++) model.step([early]);
    while (!late.poem || !early.poem) model.step([early, late]);
    expect(early.poem.text).toBe(model.generate({ seed: 10, form: 'wujue' }).text);
    expect(late.poem.text).toBe(model.generate({ seed: 11, form: 'qilv' }).text);
  });

  it("writes the same poems whether the steps of a request's fixed start come from the cache or not", async () => {
    // requests that share their first tokens (the form, 月, 月明) in different orders: in one model a
    // request finds its start's steps computed by an earlier one, in the other it computes them itself
    const shared: PoemRequest[] = [
      { seed: 1, start: '月', form: 'wujue' },
      { seed: 2, start: '月', form: 'wujue' },
      { seed: 3, start: '月明', form: 'wujue' },
      { seed: 4, start: '月', form: 'qijue' },
      { seed: 5, acrostic: '月山水雲', form: 'wujue' },
      { seed: 6, form: 'wujue' },
      { seed: 7, form: 'qijue', tones: false },
    ];
    const [forward, backward] = await Promise.all([PoemModel.load(checkpointDir), PoemModel.load(checkpointDir)]);
    try {
      const inOrder = shared.map((r) => forward.generate(r).text);
      const reversed = [...shared]
        .reverse()
        .map((r) => backward.generate(r).text)
        .reverse();
      expect(reversed).toEqual(inOrder);
      expect(new Set(inOrder.slice(0, 2)).size).toBe(2); // the same start, other seeds: other poems
      expect(backward.generateMany(shared).map((p) => p.text)).toEqual(inOrder);
    } finally {
      forward.dispose();
      backward.dispose();
    }
  });

  it('rejects a batch with a bad request before writing any poem, naming the problem', () => {
    expect(() => model.generateMany([{ seed: 1 }, { start: 'abc' }])).toThrow(PoemInputError);
    expect(model.generateMany([])).toEqual([]);
  });
});

describe('scripts', () => {
  it('accepts simplified input and writes traditional by default', () => {
    expect(vocab.has('紅')).toBe(true);
    expect(vocab.has('红')).toBe(false);
    for (let seed = 0; seed < 5; seed++) {
      const req: PoemRequest = { start: '红', seed };
      const poem = model.generate(req);
      expect(poem.lines[0]!.startsWith('紅'), poem.lines[0]).toBe(true);
      checkPoem(poem, req);
    }
    const acrostic = model.generate({ acrostic: '红叶满山', seed: 1 });
    expect(acrostic.lines.map((l) => l[0]).join('')).toBe(asWritten('红叶满山'));
    expect(acrostic.lines[0]![0]).toBe('紅');
  });

  it('writes simplified characters when asked', () => {
    fc.assert(
      fc.property(fc.integer(), formOrNone, (seed, form) => {
        const poem = model.generate({ start: '红', seed, form, script: 'simplified' });
        expect(poem.script).toBe('simplified');
        expect(inScript(poem.text, 'simplified')).toBe(poem.text);
        expect(poem.lines[0]!.startsWith('红'), poem.lines[0]).toBe(true);
        expect(poem.lines).toHaveLength(FORM_SHAPE[poem.form].lines);
        for (const line of poem.lines) expect([...line]).toHaveLength(FORM_SHAPE[poem.form].lineLength);
        expect(poem.text).toBe(poem.lines.map((line, i) => line + (i % 2 === 0 ? '，' : '。')).join(''));
        // the same poem as the traditional one, only converted
        const traditional = model.generate({ start: '红', seed, form });
        expect(poem.lines).toEqual(traditional.lines.map((l) => inScript(l, 'simplified')));
      }),
      { numRuns: 10 },
    );
  });
});

describe('bad input', () => {
  const expectInputError = (req: PoemRequest, message: RegExp | string[]) => {
    let error: unknown;
    try {
      model.generate(req);
    } catch (e) {
      error = e;
    }
    expect(error, JSON.stringify(req)).toBeInstanceOf(PoemInputError);
    const text = (error as Error).message;
    if (message instanceof RegExp) expect(text).toMatch(message);
    else for (const part of message) expect(text).toContain(part);
  };

  it('rejects an empty or whitespace-only start text or acrostic', () => {
    expectInputError({ start: '' }, /start text is empty/);
    expectInputError({ start: '  \t ' }, /start text is empty/);
    expectInputError({ start: '\u3000' }, /start text is empty/);
    expectInputError({ acrostic: ' ' }, /acrostic is empty/);
  });

  it('rejects a start text longer than a line', () => {
    expectInputError({ start: '春夏秋冬春夏秋冬' }, /too long \(8 characters\)/);
    expectInputError({ start: '春夏秋冬春夏秋冬春夏' }, /too long \(10 characters\)/);
  });

  it('names the characters that are not Chinese', () => {
    expectInputError({ start: 'a月1' }, ['only Chinese characters', '「a」', '「1」']);
    expectInputError({ start: '月，' }, ['「，」']);
    expectInputError({ start: '月 光' }, ['「 」']);
    expectInputError({ acrostic: '春夏秋x' }, ['acrostic', '「x」']);
    let message = '';
    try {
      model.generate({ start: 'a月1' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toContain('「月」');
  });

  it('names a character the model cannot write, nor any variant form of it', () => {
    let unknown: string | undefined;
    for (let code = 0x4e00; code <= 0x9fff && !unknown; code++) {
      const ch = String.fromCodePoint(code);
      if (spellIn(ch, (c) => vocab.has(c))[0] === undefined) unknown = ch;
    }
    expect(unknown).toBeDefined();
    expectInputError({ start: `月${unknown}` }, ['cannot write', `「${unknown}」`]);
    expectInputError({ acrostic: `春夏秋${unknown}` }, ['cannot write', `「${unknown}」`]);
    let message = '';
    try {
      model.generate({ start: `月${unknown}` });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toContain('「月」');
  });

  it('rejects an acrostic that fits no form or not the form asked for', () => {
    expectInputError({ acrostic: '春夏秋' }, /acrostic needs 4 characters .* or 8 .*got 3/);
    expectInputError({ acrostic: '春夏秋冬春' }, /got 5/);
    expectInputError({ acrostic: '春夏秋冬', form: 'wulv' }, /acrostic needs 8 characters, not 4/);
    expectInputError({ acrostic: '春夏秋冬春夏秋冬', form: 'qijue' }, /acrostic needs 4 characters, not 8/);
  });

  it('rejects a start text longer than the line of the form asked for', () => {
    expectInputError({ start: '春夏秋冬春夏', form: 'wujue' }, /holds 5 characters; the start text has 6/);
    expectInputError({ start: '春夏秋冬春夏秋', form: 'wulv' }, /holds 5 characters; the start text has 7/);
  });

  it('rejects a start text together with an acrostic', () => {
    expectInputError({ start: '月', acrostic: '春夏秋冬' }, /either a start text or an acrostic, not both/);
  });

  it('rejects sampling settings out of range', () => {
    expectInputError({ start: '月', temperature: 0 }, /temperature/);
    expectInputError({ start: '月', temperature: 99 }, /temperature/);
    expectInputError({ start: '月', temperature: Number.NaN }, /temperature/);
    expectInputError({ start: '月', topP: 0 }, /topP/);
    expectInputError({ start: '月', topP: 1.5 }, /topP/);
    expectInputError({ start: '月', topK: 0 }, /topK/);
    expectInputError({ start: '月', topK: 2.5 }, /topK/);
    expectInputError({ start: '月', seed: 0.5 }, /seed/);
    expectInputError({ start: '月', form: 'fu' as Form }, /form/);
  });
});

describe('sample', () => {
  const opts = fc.record({
    temperature: fc.double({ min: 0.05, max: 3, noNaN: true }),
    topK: fc.integer({ min: 1, max: 80 }),
    topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
  });
  const logitsAndAllowed = fc
    .array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 60 })
    .chain((values) =>
      fc.tuple(
        fc.constant(Float32Array.from(values)),
        fc.uniqueArray(fc.integer({ min: 0, max: values.length - 1 }), { minLength: 1, maxLength: values.length }),
      ),
    );

  it('returns an allowed id among the topK best', () => {
    fc.assert(
      fc.property(logitsAndAllowed, opts, fc.integer(), ([logits, allowed], o, seed) => {
        const rng = prand.xoroshiro128plus(seed);
        for (let draw = 0; draw < 5; draw++) {
          const id = sample(logits, allowed, o, rng);
          expect(allowed).toContain(id);
          const better = allowed.filter((a) => logits[a]! > logits[id]!).length;
          expect(better).toBeLessThan(o.topK);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('returns the best allowed id when topK is 1', () => {
    fc.assert(
      fc.property(logitsAndAllowed, opts, fc.integer(), ([logits, allowed], o, seed) => {
        const id = sample(logits, allowed, { ...o, topK: 1 }, prand.xoroshiro128plus(seed));
        expect(allowed).toContain(id);
        expect(logits[id]! === Math.max(...allowed.map((a) => logits[a]!))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('ignores ids outside allowed even when they score best', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => (i < 10 ? 100 : i * 0.01));
    const allowed = Int32Array.from({ length: 40 }, (_, i) => i + 10);
    const rng = prand.xoroshiro128plus(5);
    for (let draw = 0; draw < 300; draw++) {
      const id = sample(logits, allowed, { temperature: 2, topK: 50, topP: 1 }, rng);
      expect(id).toBeGreaterThanOrEqual(10);
    }
  });

  it('returns only the top id of a peaked distribution when topP is small', () => {
    const logits = new Float32Array(1000);
    logits[417] = 10;
    const allowed = Int32Array.from({ length: 1000 }, (_, i) => i);
    const rng = prand.xoroshiro128plus(9);
    for (let draw = 0; draw < 300; draw++) expect(sample(logits, allowed, { temperature: 1, topK: 1000, topP: 0.1 }, rng)).toBe(417);
  });

  it('cuts the nucleus at topP and samples within it', () => {
    // probabilities 0.5, 0.3, 0.2: topP 0.6 keeps the first two
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
    const rng = prand.xoroshiro128plus(3);
    const counts = [0, 0, 0];
    for (let draw = 0; draw < 2000; draw++) counts[sample(logits, [0, 1, 2], { temperature: 1, topK: 3, topP: 0.6 }, rng)]!++;
    expect(counts[2]).toBe(0);
    expect(counts[0]! / 2000).toBeCloseTo(0.5 / 0.8, 1);
  });

  it('samples in proportion to softmax(logits / temperature)', () => {
    const logits = Float32Array.from([Math.log(3), 0]);
    for (const [temperature, expected] of [
      [1, 0.75],
      [0.5, 0.9],
      [2, Math.sqrt(3) / (Math.sqrt(3) + 1)],
    ] as const) {
      const rng = prand.xoroshiro128plus(11);
      let first = 0;
      for (let draw = 0; draw < 4000; draw++) if (sample(logits, [0, 1], { temperature, topK: 2, topP: 1 }, rng) === 0) first++;
      expect(Math.abs(first / 4000 - expected), `temperature ${temperature}`).toBeLessThan(0.03);
    }
  });

  it('throws when nothing is allowed', () => {
    expect(() => sample(new Float32Array(3), [], { temperature: 1, topK: 1, topP: 1 }, prand.xoroshiro128plus(1))).toThrow();
  });
});

describe('PoemModel.advance', () => {
  // float32 runs the products on TensorFlow.js; int8 stores weights as int8 (one scale per output) and
  // rounds the input to int16, so its logits may differ by a little rounding
  const tolerance = { float32: 1e-4, int8: 0.02 };
  for (const [layers, precision, tied] of [
    [1, 'float32', false],
    [2, 'float32', false],
    [1, 'int8', false],
    [2, 'int8', false],
    [2, 'float32', true],
    [2, 'int8', true],
  ] as const) {
    it(`agrees with the training forward pass (${layers} layer${layers > 1 ? 's' : ''}, ${precision}${tied ? ', tied embeddings' : ''})`, async () => {
      // an untrained model's logits are nearly flat: use large random weights (biases too) so that every
      // term of the LSTM moves the logits visibly
      const { dir, vocab: v } = makeTinyCheckpoint({ layers, hidden: 12, embed: 6, tied });
      const base = loadCheckpoint(dir);
      const rng = prand.xoroshiro128plus(layers);
      // (tied: the output matrix is a product of two such matrices, so a wider range keeps it as large)
      const scale = tied ? 1200 : 1500;
      const params = new Map([...base.params].map(([name, values]) => [name, values.map(() => prand.unsafeUniformIntDistribution(-1000, 1000, rng) / scale)]));
      saveCheckpoint(dir, { ...base.manifest, vocab: base.vocab, params });
      const poemModel = await PoemModel.load(dir, { precision });
      expect(poemModel.precision).toBe(precision);
      const ck = loadCheckpoint(dir);
      const config = ck.manifest.config.model;
      expect(config.layers).toBe(layers);
      expect(ck.params.has('out.proj')).toBe(tied);
      const H = config.hiddenDim;
      const tokens = [BOS, v.formToken('wujue'), ...[...'白日依山盡'].map((c) => v.id(c)), v.comma, ...[...'黃河入海流'].map((c) => v.id(c)), v.period];
      const T = tokens.length;

      const tensors = toTensors(config, ck.params);
      const expected = tf.tidy(() => forward(config, tensors, tf.tensor1d(tokens, 'int32'), T, 1).arraySync() as number[][]);
      for (const t of tensors.values()) t.dispose();

      const state = Array.from({ length: layers }, () => ({ h: new Float32Array(H), c: new Float32Array(H) }));
      let worst = 0;
      tokens.forEach((token, t) => {
        const logits = poemModel.lstm.advance(state, token, true)!;
        expect(logits).toHaveLength(config.vocabSize);
        for (let k = 0; k < config.vocabSize; k++) worst = Math.max(worst, Math.abs(logits[k]! - expected[t]![k]!));
      });
      // (int8's rounding grows with the logits: the tolerance is for logits up to 1 in size)
      const largest = Math.max(...expected.flat().map(Math.abs));
      expect(worst).toBeLessThan(tolerance[precision] * Math.max(1, largest));
      // the logits are far from flat and change along the sequence, so the comparison can tell
      expect(Math.max(...expected[0]!.map(Math.abs))).toBeGreaterThan(0.5);
      expect(Math.max(...expected[0]!.map((x, k) => Math.abs(x - expected[T - 1]![k]!)))).toBeGreaterThan(0.5);

      // without logits, the state still moves exactly as with them
      const quiet = Array.from({ length: layers }, () => ({ h: new Float32Array(H), c: new Float32Array(H) }));
      tokens.forEach((token) => expect(poemModel.lstm.advance(quiet, token, false)).toBeUndefined());
      quiet.forEach((s, l) => {
        expect(s.h).toEqual(state[l]!.h);
        expect(s.c).toEqual(state[l]!.c);
      });
      poemModel.dispose();
    });
  }
});

describe('PoemModel.servedPerplexity', () => {
  it('matches the training engine in float32, and int8 costs under 1% of it', async () => {
    const { dir } = makeTinyCheckpoint({ hidden: 16, embed: 8, layers: 2 });
    const base = loadCheckpoint(dir);
    const rng = prand.xoroshiro128plus(3);
    // weights large enough that the logits are far from flat (an untrained model scores every poem alike)
    const params = new Map([...base.params].map(([name, values]) => [name, values.map(() => prand.unsafeUniformIntDistribution(-1000, 1000, rng) / 2500)]));
    saveCheckpoint(dir, { ...base.manifest, vocab: base.vocab, params });
    const poems = loadTangCorpus().dev.slice(0, 40);
    const reference = await checkpointPerplexity(loadCheckpoint(dir), poems, 1);
    const served: Record<string, { perplexity: number; tokens: number }> = {};
    for (const precision of ['float32', 'int8'] as const) {
      const m = await PoemModel.load(dir, { precision });
      served[precision] = m.lstm.servedPerplexity(poems);
      m.dispose();
    }
    expect(served.float32!.tokens).toBe(reference.tokens);
    expect(served.float32!.perplexity / reference.perplexity).toBeCloseTo(1, 4);
    expect(Math.abs(served.int8!.perplexity / reference.perplexity - 1)).toBeLessThan(0.01);
    expect(reference.perplexity).toBeGreaterThan(1.5); // a real comparison, not two degenerate numbers
  });
});
