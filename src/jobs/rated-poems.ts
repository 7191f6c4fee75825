/**
 * What users taught the model: poems they rated well, as extra training examples for the fine-tune.
 *
 * A poem joins when its average rating is at least `minAverage` (default 4 of 5). Its loss weight grows with
 * the rating (average − minAverage + 1: a 4-star poem counts once, a 5-star poem twice), and the rated poems'
 * total weight is capped at `maxShare` of the corpus's, scaling all of them down together, so a handful of
 * poems, or a flood of them, cannot dominate what the model learns. Badly rated poems are left out: nothing
 * shows yet that training away from them would help. Poems that land in the dev split by the corpus's hash
 * rule are left out too, so no run ever trains on dev text.
 */
import { cleanLines, isDev, regularPoem, type Poem } from '../model/verse/corpus.js';
import { toTraditional, type Script } from '../model/verse/script.js';
import type { Example } from '../model/poem/train/train.js';
import { type Database, wellRatedPoems } from '../db/db.js';

export type RatedOptions = { minAverage: number; maxShare: number; corpusPoems: number };

/**
 * A stored poem's text (with punctuation) → the corpus's form (traditional lines), if regular. Only simplified
 * text is converted: opencc also rewrites some traditional variants, which would change a traditional poem.
 */
export function poemFromText(text: string, script: Script): Poem | undefined {
  const lines = cleanLines([script === 'simplified' ? toTraditional(text) : text]);
  return lines && regularPoem(lines);
}

export async function ratedExamples(db: Database, o: RatedOptions): Promise<Example[]> {
  const poems = await wellRatedPoems(db, o.minAverage);
  const seen = new Set<string>();
  const examples: Example[] = [];
  for (const { text, script, average } of poems) {
    const poem = poemFromText(text, script === 'simplified' ? 'simplified' : 'traditional');
    if (!poem || isDev(poem.lines)) continue;
    const key = poem.lines.join('|');
    if (seen.has(key)) continue; // the same poem written twice counts once
    seen.add(key);
    examples.push({ poem, weight: average - o.minAverage + 1 });
  }
  const total = examples.reduce((sum, e) => sum + e.weight, 0);
  const cap = o.maxShare * o.corpusPoems;
  if (total > cap) for (const e of examples) e.weight *= cap / total;
  return examples;
}
