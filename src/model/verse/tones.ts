/**
 * Level (平) and oblique (仄) tones, from the poets' own practice: the chinese-poetry package labels every
 * character of its Tang poems 平 or 仄 (`dist/strains/json/poet.tang.*.json`, matched to the poems by id).
 * A character's tone is the share of its labelled occurrences read 平; characters the poets used both ways
 * (看 思 望 …) stay ambiguous. Entering-tone characters (月 白 石 國) come out 仄, as in Middle Chinese,
 * although Mandarin reads some of them level.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cachedTable } from './machine-cache.js';

export type Tone = 'level' | 'oblique' | 'both';
export type ToneCounts = { level: number; oblique: number };

/** At least this share of one reading makes a character that tone; between the two, it is 'both'. */
const CLEAR_SHARE = 0.85;
const HAN = /\p{Script=Han}/u;

let table: Map<string, ToneCounts> | undefined;

/**
 * Counts of 平 and 仄 labels per character over the Tang poems: read from the 116 corpus files once per
 * machine, then from a small cache file beside the native TensorFlow cache (TANGSHI_CACHE_DIR),
 * so that loading a model for writing stays fast.
 */
export function toneCounts(): Map<string, ToneCounts> {
  if (table) return table;
  const packageFile = createRequire(import.meta.url).resolve('chinese-poetry/package.json');
  const version = (JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string }).version;
  table = cachedTable(`tones-chinese-poetry-${version}.json`, () => countTones(join(dirname(packageFile), 'dist')));
  return table;
}

function countTones(root: string): Map<string, ToneCounts> {
  const counts = new Map<string, ToneCounts>();
  for (const file of readdirSync(join(root, 'strains', 'json')).filter((f) => /^poet\.tang\.\d+\.json$/.test(f))) {
    const strains = JSON.parse(readFileSync(join(root, 'strains', 'json', file), 'utf8')) as { id: string; strains: string[] }[];
    const poems = JSON.parse(readFileSync(join(root, 'quantangshi', file), 'utf8')) as { id: string; paragraphs: string[] }[];
    const byId = new Map(poems.map((p) => [p.id, p.paragraphs]));
    for (const { id, strains: labels } of strains) {
      const paragraphs = byId.get(id);
      if (!paragraphs || paragraphs.length !== labels.length) continue;
      paragraphs.forEach((text, k) => {
        const chars = [...text].filter((ch) => HAN.test(ch));
        const tones = [...labels[k]!].filter((t) => t === '平' || t === '仄' || t === '○');
        if (chars.length !== tones.length) return; // a note or a variant in the text: not aligned, skipped
        chars.forEach((ch, i) => {
          if (tones[i] === '○') return; // unlabelled
          const c = counts.get(ch) ?? { level: 0, oblique: 0 };
          if (tones[i] === '平') c.level++;
          else c.oblique++;
          counts.set(ch, c);
        });
      });
    }
  }
  return counts;
}

/** The tone of a character, or undefined when the corpus never labels it. */
export function toneOf(ch: string, counts = toneCounts()): Tone | undefined {
  const c = counts.get(ch);
  if (!c || c.level + c.oblique === 0) return undefined;
  const share = c.level / (c.level + c.oblique);
  return share >= CLEAR_SHARE ? 'level' : share <= 1 - CLEAR_SHARE ? 'oblique' : 'both';
}

/** 平 or 仄 where the corpus is clear, null where it reads the character both ways or never labels it (the measures' view). */
export function clearTone(ch: string): 'level' | 'oblique' | null {
  const t = toneOf(ch);
  return t === 'level' || t === 'oblique' ? t : null;
}
