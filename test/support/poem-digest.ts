/**
 * The seeded requests of test/poem-digest.test.ts and their digest. `npx tsx test/support/poem-digest.ts --write`
 * records the shipped model's digest (only when the shipped model changes on purpose).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadCheckpoint } from '../../src/model/poem/checkpoint.js';
import { PoemModel, type PoemRequest } from '../../src/model/poem/decode/generate.js';
import { BASE_CHECKPOINT } from '../../src/model/runtime/paths.js';
import { FORMS } from '../../src/shared/verse.js';

export const DIGEST_FILE = new URL('../fixtures/poem-digest.json', import.meta.url);

export function digestRequests(): PoemRequest[] {
  const requests: PoemRequest[] = [];
  for (const [k, start] of ['日', '红', '山', '夜', '湖', '海', '月', undefined].entries())
    for (const form of [...FORMS, undefined]) requests.push({ start, form, seed: 100 + k });
  for (const acrostic of ['春夏秋冬', '風花雪月', '一二三四五六七八']) requests.push({ acrostic, seed: 7 });
  for (const seed of [1, 2, 3]) {
    requests.push({ start: '月', tones: false, seed });
    requests.push({ start: '江', rhyme: 'modern', seed });
    requests.push({ start: '花', script: 'simplified', form: 'qilv', seed });
    requests.push({ start: '白日', temperature: 0.6, topK: 20, topP: 0.8, seed });
    requests.push({ seed });
  }
  return requests;
}

const hash = (texts: string[]) => createHash('sha256').update(texts.join('\n')).digest('hex');

export async function poemDigest(precision: 'int8' | 'float32') {
  const model = await PoemModel.load(BASE_CHECKPOINT, { precision });
  try {
    const requests = digestRequests();
    const alone = requests.map((r) => model.generate(r).text);
    const batched = model.generateMany(requests).map((p) => p.text);
    return { poems: requests.length, alone: hash(alone), batched: hash(batched) };
  } finally {
    model.dispose();
  }
}

if (process.argv.includes('--write')) {
  const int8 = await poemDigest('int8');
  const float32 = await poemDigest('float32');
  const weightsSha256 = loadCheckpoint(BASE_CHECKPOINT).manifest.files['weights.bin'];
  writeFileSync(DIGEST_FILE, `${JSON.stringify({ weightsSha256, poems: int8.poems, int8: int8.alone, float32: float32.alone }, null, 2)}\n`);
  console.log('recorded', { weightsSha256, poems: int8.poems, int8, float32 });
}
