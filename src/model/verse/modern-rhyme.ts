/**
 * Rhyme groups of characters, for forcing and measuring rhyme in regulated verse.
 *
 * In regulated verse the even lines (2nd, 4th, 6th, 8th) end on characters of one rhyme group. We classify a
 * character by the 十三辙, the thirteen rhyme classes of Mandarin, from the final of its modern reading.
 *
 * Why 十三辙 and not the 平水韵 that Tang poets actually followed: no 平水韵 table is available offline as a
 * maintained package, while `pinyin-pro` (well kept, all readings of a character) gives modern readings.
 * 十三辙 on modern readings is a standard, explainable approximation: it merges some 平水韵 groups (e.g. 東/冬,
 * 先/寒/刪) and misplaces characters whose finals moved since the Tang (entering-tone characters above all).
 * The same measure is applied to the corpus and to generated poems, so the two rhyme rates are comparable.
 *
 * A polyphonic character belongs to the groups of all its readings (看 kān/kàn, 行 xíng/háng, 還 hái/huán).
 * Traditional characters are looked up as they are; only when pinyin-pro knows no reading for one is it
 * converted to simplified with opencc-js and looked up again. (Converting first would lose readings, e.g.
 * 乾 qián → 干 gān, and add those of the other characters merged into one simplified form, e.g. 葉 → 叶 xié.)
 */
import * as OpenCC from 'opencc-js';
import { polyphonic } from 'pinyin-pro';

/**
 * The 十三辙 and the pinyin finals in each, written in full (iou, uei, uen; ü after j/q/x/y; the i of
 * zhi/chi/shi/ri/zi/ci/si is the apical vowel and belongs to 一七 like the ordinary i).
 */
export const THIRTEEN_RHYMES: Readonly<Record<string, readonly string[]>> = {
  发花: ['a', 'ia', 'ua'],
  梭波: ['o', 'e', 'uo', 'io'],
  乜斜: ['ie', 'üe', 'ê'],
  一七: ['i', 'ü', 'er'],
  姑苏: ['u'],
  怀来: ['ai', 'uai'],
  灰堆: ['ei', 'uei'],
  遥条: ['ao', 'iao'],
  油求: ['ou', 'iou'],
  言前: ['an', 'ian', 'uan', 'üan'],
  人辰: ['en', 'in', 'uen', 'ün'],
  江阳: ['ang', 'iang', 'uang'],
  中东: ['eng', 'ing', 'ong', 'iong', 'ueng'],
};

const GROUP_OF_FINAL = new Map<string, string>(Object.entries(THIRTEEN_RHYMES).flatMap(([group, finals]) => finals.map((final) => [final, group] as const)));

const INITIAL = /^(zh|ch|sh|[bpmfdtnlgkhjqxrzcs])/;
// pinyin's shortened spellings, written in full
const FULL_FINAL: Record<string, string> = { iu: 'iou', ui: 'uei', un: 'uen', ue: 'üe' };

/** The final of one toneless pinyin syllable (`shan` → `an`, `yu` → `ü`, `jun` → `ün`, `gui` → `uei`). */
function finalOf(syllable: string): string {
  let s = syllable.toLowerCase().replace(/v/g, 'ü');
  if (s.startsWith('y')) s = s.startsWith('yu') ? `ü${s.slice(2)}` : s.startsWith('yi') ? s.slice(1) : `i${s.slice(1)}`;
  else if (s.startsWith('w')) s = s.startsWith('wu') ? s.slice(1) : `u${s.slice(1)}`;
  else {
    const initial = INITIAL.exec(s)?.[0] ?? '';
    s = s.slice(initial.length);
    if (/^[jqx]$/.test(initial) && s.startsWith('u')) s = `ü${s.slice(1)}`;
  }
  return FULL_FINAL[s] ?? s;
}

const HAN = /^\p{Script=Han}$/u;
const PINYIN = /^[a-zêü]+$/;
let converter: ((text: string) => string) | undefined;
const cache = new Map<string, ReadonlySet<string>>();

/** All toneless readings pinyin-pro knows for one character (it echoes a character it does not know). */
function readings(ch: string): string[] {
  return polyphonic(ch, { type: 'array', toneType: 'none' })[0]?.filter((p) => PINYIN.test(p)) ?? [];
}

function toSimplified(ch: string): string {
  const convert = converter ?? OpenCC.Converter({ from: 't', to: 'cn' });
  converter = convert;
  return convert(ch);
}

/**
 * The rhyme groups (十三辙 names) of one character, traditional or simplified; empty if it is not a single Han
 * character or pinyin-pro knows no reading for it. Lookups are cached; the set returned is the caller's own.
 */
export function rhymeGroups(ch: string): Set<string> {
  let groups = cache.get(ch);
  if (!groups) {
    let pinyins: string[] = [];
    if (HAN.test(ch)) {
      pinyins = readings(ch);
      if (pinyins.length === 0) {
        const simplified = toSimplified(ch);
        if (simplified !== ch) pinyins = readings(simplified);
      }
    }
    groups = new Set(pinyins.flatMap((p) => GROUP_OF_FINAL.get(finalOf(p)) ?? []));
    cache.set(ch, groups);
  }
  return new Set(groups);
}

/** Whether two characters share a rhyme group. */
export function rhymesWith(a: string, b: string): boolean {
  const groupsOfB = rhymeGroups(b);
  return [...rhymeGroups(a)].some((g) => groupsOfB.has(g));
}

/**
 * Whether the last characters of the even lines (2nd, 4th, …; indices 1, 3, 5, 7) have a rhyme group in common.
 * A poem with fewer than two even lines rhymes trivially.
 */
export function poemRhymes(lines: string[]): boolean {
  const ends = lines.filter((_, i) => i % 2 === 1).map((line) => [...line].at(-1) ?? '');
  if (ends.length < 2) return true;
  let common = rhymeGroups(ends[0]!);
  for (const ch of ends.slice(1)) {
    const groups = rhymeGroups(ch);
    common = new Set([...common].filter((g) => groups.has(g)));
  }
  return common.size > 0;
}

/** The fraction of poems whose even lines rhyme (see `poemRhymes`); 0 for no poems. */
export function rhymeRate(poems: string[][]): number {
  if (poems.length === 0) return 0;
  return poems.filter(poemRhymes).length / poems.length;
}

/**
 * For each rhyme group, the indices into `chars` of the characters that can be in it (for decoding masks over a
 * vocabulary). Groups no character can be in are absent.
 */
export function rhymeClasses(chars: string[]): Map<string, number[]> {
  const classes = new Map<string, number[]>();
  chars.forEach((ch, index) => {
    for (const group of rhymeGroups(ch)) {
      const indices = classes.get(group) ?? [];
      indices.push(index);
      classes.set(group, indices);
    }
  });
  return classes;
}
