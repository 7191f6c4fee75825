/**
 * Characters the model knows, with the special tokens. Built once from the training split and saved with
 * every checkpoint; fine-tuning never changes it (a new character would need a new embedding row).
 */
import { z } from 'zod';
import { FORMS, type Form, type Poem } from './corpus.js';

export const SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>', ...FORMS.map((f) => `<${f}>`)] as const;
export const PUNCTUATION = ['，', '。'] as const;
export const PAD = 0,
  BOS = 1,
  EOS = 2,
  UNK = 3;

export const VocabFile = z.object({ tokens: z.array(z.string()).min(SPECIALS.length + PUNCTUATION.length), minCount: z.number().int() });

export class Vocab {
  readonly index: Map<string, number>;
  readonly comma: number;
  readonly period: number;
  /** first id of an ordinary character; everything before is special or punctuation */
  readonly firstChar = SPECIALS.length + PUNCTUATION.length;

  constructor(
    readonly tokens: string[],
    readonly minCount: number,
  ) {
    SPECIALS.forEach((s, i) => {
      if (tokens[i] !== s) throw new Error(`vocabulary: token ${i} must be ${s}, found ${tokens[i]}`);
    });
    PUNCTUATION.forEach((p, k) => {
      if (tokens[SPECIALS.length + k] !== p) throw new Error(`vocabulary: token ${SPECIALS.length + k} must be ${p}, found ${tokens[SPECIALS.length + k]}`);
    });
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) throw new Error('vocabulary: duplicate tokens');
    this.comma = this.index.get('，')!;
    this.period = this.index.get('。')!;
  }

  static build(poems: Poem[], minCount = 3): Vocab {
    const counts = new Map<string, number>();
    for (const p of poems) for (const line of p.lines) for (const ch of line) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    const chars = [...counts]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([ch]) => ch);
    return new Vocab([...SPECIALS, ...PUNCTUATION, ...chars], minCount);
  }

  static fromJSON(data: unknown): Vocab {
    const { tokens, minCount } = VocabFile.parse(data);
    return new Vocab(tokens, minCount);
  }

  toJSON() {
    return { tokens: this.tokens, minCount: this.minCount };
  }

  get size() {
    return this.tokens.length;
  }

  formToken(form: Form): number {
    return this.index.get(`<${form}>`)!;
  }

  has(ch: string): boolean {
    const id = this.index.get(ch);
    return id !== undefined && id >= this.firstChar;
  }

  id(ch: string): number {
    return this.index.get(ch) ?? UNK;
  }

  /** [<bos>, <form>, line 1, ，, line 2, 。, …, <eos>] */
  encodePoem(p: Poem): number[] {
    const ids = [BOS, this.formToken(p.form)];
    p.lines.forEach((line, i) => {
      for (const ch of line) ids.push(this.id(ch));
      ids.push(i % 2 === 0 ? this.comma : this.period);
    });
    ids.push(EOS);
    return ids;
  }

  decode(ids: number[]): string {
    return ids.map((id) => this.tokens[id] ?? '<unk>').join('');
  }
}
