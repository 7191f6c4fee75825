/**
 * Any real upper line is answered, and /poem reads variant forms: the shipped models, with the characters
 * Song poets wrote that the couplet model once refused (顔 隠 舖 顱 裼 芼).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoupletModel } from '../src/model/couplet/decode.js';
import { PoemModel } from '../src/model/poem/decode/generate.js';
import { BASE_CHECKPOINT, COUPLET_CHECKPOINT } from '../src/model/runtime/paths.js';
import { spellIn, variantForms } from '../src/model/verse/script.js';
import { UNK } from '../src/model/verse/vocab.js';

let couplets: CoupletModel;
let poems: PoemModel;
beforeAll(async () => {
  couplets = await CoupletModel.load(COUPLET_CHECKPOINT);
  poems = await PoemModel.load(BASE_CHECKPOINT);
});
afterAll(() => poems?.dispose());

describe('variant forms', () => {
  it("maps a variant to OpenCC's standard traditional form", () => {
    expect(variantForms('顔')).toContain('顏');
    expect(variantForms('隠')).toContain('隱');
    expect(variantForms('舖')).toContain('鋪');
    expect(spellIn('白日顔山', () => true)).toEqual(['白', '日', '顔', '山']); // a known character stays as typed
  });

  it.each([
    ['顔', '顏'],
    ['隠', '隱'],
    ['舖', '鋪'],
  ])('/couplet and /poem read %s as %s', (variant, standard) => {
    const { chars, ids } = couplets.parseUpper(`白日${variant}山盡`);
    expect(chars[2]).toBe(standard);
    expect(ids[2]).not.toBe(UNK);
    const poem = poems.generate({ start: variant, seed: 1 });
    expect(poem.lines[0]!.startsWith(standard)).toBe(true);
  });
});

describe('any real upper line is answered', () => {
  it.each(['紅顔棄軒冕', '隠几坐忘言', '山舖翠色濃', '顱骨埋荒草', '袒裼臨流水', '采芼在河洲'])('%s', (upper) => {
    const answer = couplets.answer({ upper, seed: 1 });
    expect([...answer.lower]).toHaveLength(5);
    expect([...answer.lower].some((ch) => answer.upper.includes(ch))).toBe(false);
  });

  it('still refuses what is not Chinese, and says so', () => {
    expect(() => couplets.answer({ upper: 'white sun' })).toThrow(/only Chinese characters/);
  });

  it('/poem names a start character it cannot write nor spell another way', () => {
    expect(() => poems.generate({ start: '𪚥' })).toThrow(/cannot write 「𪚥」/);
  });
});
