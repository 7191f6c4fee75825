/**
 * The 240 poems docs/benchmarks.md's measures of verse are taken on, as served (int8): 20 starting characters × the
 * 4 forms × seeds 1–3, written as the CLI's `--json` lines, for `tangshi poetics FILE` to score.
 *
 *   npx tsx bench/verse-measures.ts poems.jsonl [--checkpoint models/base] && npx tangshi poetics poems.jsonl
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BASE_CHECKPOINT } from '../src/model/poem/checkpoint.js';
import { FORMS } from '../src/model/verse/corpus.js';
import { PoemModel } from '../src/model/poem/decode/generate.js';

const { values, positionals } = parseArgs({ options: { checkpoint: { type: 'string', default: BASE_CHECKPOINT } }, allowPositionals: true });
const file = positionals[0] ?? 'poems.jsonl';
const model = await PoemModel.load(values.checkpoint, { precision: 'int8' });
const lines: string[] = [];
for (const start of '日月山水風花雪夜春秋江湖海雲天人鄉酒柳雁')
  for (const form of FORMS)
    for (const seed of [1, 2, 3]) {
      const poem = model.generate({ start, form, seed, script: 'traditional' });
      lines.push(JSON.stringify({ text: poem.text, lines: poem.lines, form: poem.form, script: poem.script }));
    }
writeFileSync(file, `${lines.join('\n')}\n`);
console.log(`${lines.length} poems (${model.version}) → ${file}`);
process.exit(0); // the poem model's helper thread would keep the process alive
