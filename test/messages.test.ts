import { describe, expect, it } from 'vitest';
import { inputProblemText, languageOf, messagesFor } from '../src/bot/messages.js';
import type { InputProblem } from '../src/model/poem/decode/poem-request.js';

const problems: InputProblem[] = [
  { code: 'bothPrompts' },
  { code: 'empty', kind: 'start' },
  { code: 'empty', kind: 'upper' },
  { code: 'notChinese', kind: 'acrostic', chars: ['a', 'b'] },
  { code: 'startTooLong', length: 9 },
  { code: 'acrosticLength', length: 3 },
  { code: 'upperLength', length: 6 },
  { code: 'unknownChars', chars: ['𪚥'] },
  { code: 'formLines', form: '五言绝句', lines: 4, length: 8 },
  { code: 'formLineLength', form: '五言绝句', lineLength: 5, length: 6 },
  { code: 'invalid', field: 'temperature', detail: 'too big' },
];

describe('the message catalog', () => {
  it('maps Discord locales to its three languages', () => {
    expect(languageOf('zh-CN')).toBe('zh-CN');
    expect(languageOf('zh-TW')).toBe('zh-TW');
    expect(languageOf('zh-HK')).toBe('zh-TW');
    expect(['en-US', 'en-GB', 'ja', 'fr'].map(languageOf)).toEqual(['en', 'en', 'en', 'en']);
  });

  it('says every input problem in each language, with its details, in the right script', () => {
    for (const p of problems) {
      const [en, cn, tw] = ['en-US', 'zh-CN', 'zh-TW'].map((l) => messagesFor(l).problem(p));
      expect(en).toMatch(/^[A-Z]/);
      expect(cn).toMatch(/\p{Script=Han}/u);
      expect(tw).toMatch(/\p{Script=Han}/u);
      expect(new Set([en, cn, tw]).size, p.code).toBe(3);
      for (const detail of Object.values(p).filter((v) => typeof v === 'number' || Array.isArray(v))) {
        for (const text of [en, cn, tw]) expect(text).toContain(Array.isArray(detail) ? `「${detail[0]}」` : String(detail));
      }
    }
    expect(messagesFor('zh-CN').problem({ code: 'upperLength', length: 6 })).toContain('个字');
    expect(messagesFor('zh-TW').problem({ code: 'upperLength', length: 6 })).toContain('個字');
  });

  it("falls back to the error's own message when it names no problem", () => {
    expect(inputProblemText('zh-CN', { message: 'Something else.' })).toBe('Something else.');
    expect(inputProblemText('zh-CN', { message: 'x', problem: { code: 'bothPrompts' } })).toBe('开头和藏头只能选一个。');
  });
});
