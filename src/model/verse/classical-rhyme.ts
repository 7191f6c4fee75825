/**
 * Rhyme groups as the Tang poets practised them. Characters that end the even lines of one regulated poem
 * (one that keeps every tone rule, poetics.ts) rhyme together; joining the pairs that do so often enough
 * gives groups close to the level-tone groups of 平水韵, which no maintained package offers offline:
 * 先 真 虞 尤 蕭 侵 灰 寒 元 歌 齊 豪 蒸 微 文 刪 佳 肴 鹽 咸 江 … come out nearly whole; 東/冬 and 庚/青,
 * which the poets themselves often mixed, partly merge.
 *
 * A pair is joined when it ends the even lines of at least MIN_POEMS poems together, and those poems are at
 * least MIN_SHARE of the rarer character's; looser thresholds chain groups (支 with 麻 and 魚). Computed from
 * the training split once per machine and cached beside the tone table.
 */
import { loadTangCorpus, type Poem } from './corpus.js';
import { cachedTable } from './machine-cache.js';
import { checkTones } from './poetics.js';
import { clearTone } from './tones.js';

const MIN_POEMS = 5;
const MIN_SHARE = 0.15;
const CACHE_NAME = `rhyme-groups-v1-${MIN_POEMS}-${MIN_SHARE}.json`;

/** The last characters of a poem's even lines, each once. */
export const evenLineEnds = (lines: string[]) => [...new Set(lines.filter((_, i) => i % 2 === 1).map((l) => [...l].at(-1)!))];

/** character → its group, named by the group's most frequent rhyme character. */
export function deriveRhymeGroups(poems: Poem[]): Map<string, string> {
  const occurrences = new Map<string, number>();
  const together = new Map<string, number>();
  for (const p of poems) {
    if (!checkTones(p.lines, clearTone).kept) continue;
    const ends = evenLineEnds(p.lines);
    for (const a of ends) occurrences.set(a, (occurrences.get(a) ?? 0) + 1);
    for (let i = 0; i < ends.length; i++)
      for (let j = i + 1; j < ends.length; j++) {
        const key = [ends[i]!, ends[j]!].sort().join('');
        together.set(key, (together.get(key) ?? 0) + 1);
      }
  }
  const parent = new Map([...occurrences.keys()].map((ch) => [ch, ch]));
  const root = (ch: string): string => {
    while (parent.get(ch) !== ch) ch = parent.get(ch)!;
    return ch;
  };
  for (const [key, n] of together) {
    const [a, b] = [...key] as [string, string];
    if (n >= MIN_POEMS && n / Math.min(occurrences.get(a)!, occurrences.get(b)!) >= MIN_SHARE) parent.set(root(a), root(b));
  }
  const members = new Map<string, string[]>();
  for (const ch of occurrences.keys()) members.set(root(ch), [...(members.get(root(ch)) ?? []), ch]);
  const groups = new Map<string, string>();
  for (const chars of members.values()) {
    if (chars.length < 2) continue; // a character that never rhymed with another is in no group
    const name = chars.reduce((best, ch) => (occurrences.get(ch)! > occurrences.get(best)! ? ch : best));
    for (const ch of chars) groups.set(ch, name);
  }
  return groups;
}

let cached: Map<string, string> | undefined;

/** The groups of the training split (cached once per machine, TANGSHI_CACHE_DIR). */
export function classicalRhymeGroups(): Map<string, string> {
  cached ??= cachedTable(CACHE_NAME, () => deriveRhymeGroups(loadTangCorpus().train));
  return cached;
}

/** Whether the even lines end in one classical group. */
export function classicalRhymes(lines: string[], groups = classicalRhymeGroups()): boolean {
  const ends = evenLineEnds(lines).map((ch) => groups.get(ch));
  return ends.every((g) => g !== undefined && g === ends[0]);
}
