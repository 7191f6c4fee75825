/** Measures of verse, the same for generated poems and the corpus. */

/** Characters that repeat one earlier in the poem, except a reduplication (the same character just before it in the line, as 青青). */
export function repeatedCharacters(lines: string[]): number {
  const seen = new Set<string>();
  let repeats = 0;
  for (const line of lines) {
    const chars = [...line];
    chars.forEach((ch, i) => {
      if (seen.has(ch) && !(i > 0 && chars[i - 1] === ch && (i < 2 || chars[i - 2] !== ch))) repeats++;
      seen.add(ch);
    });
  }
  return repeats;
}

/** Share of all characters of the poems that are repeats (above). */
export function repeatShare(poems: string[][]): number {
  let repeats = 0,
    chars = 0;
  for (const lines of poems) {
    repeats += repeatedCharacters(lines);
    chars += lines.reduce((n, l) => n + [...l].length, 0);
  }
  return chars > 0 ? repeats / chars : 0;
}

/** 平 or 仄 at one position; null where the corpus reads the character both ways or not at all (it fits either). */
export type Tonal = 'level' | 'oblique' | null;

export type ToneCheck = {
  /** every rule below holds */
  kept: boolean;
  /** positions checked, and how many keep their rule */
  positions: number;
  positionsKept: number;
  /** what is broken, e.g. "line 3: 二四 same tone" */
  broken: string[];
};

/**
 * The tone rules of regulated verse (近体诗格律), as the standard templates state them with the freedoms poets
 * took (一三五不论, within limits):
 *  - in each line the 2nd and 4th characters differ in tone, and in a 七言 line the 6th matches the 2nd (二四六分明);
 *  - 对: the second line of a couplet opposes the first at those positions; 粘: the first line of the next
 *    couplet matches, at its 2nd character, the second line of the one before;
 *  - even lines end level (the rhyme), odd lines after the first end oblique;
 *  - no 三平尾 (a line ending on three level tones) and no 孤平 (in a line ending level, a level 2nd (五言) or
 *    4th (七言) character alone between oblique ones).
 * A character of either or unknown tone satisfies any rule it takes part in.
 */
export function checkTones(lines: string[], toneOf: (ch: string) => Tonal): ToneCheck {
  const tones = lines.map((l) => [...l].map(toneOf));
  const broken: string[] = [];
  let positions = 0,
    positionsKept = 0;
  const rule = (ok: boolean, what: string) => {
    positions++;
    if (ok) positionsKept++;
    else broken.push(what);
  };
  const same = (a: Tonal, b: Tonal) => a === null || b === null || a === b;
  const differ = (a: Tonal, b: Tonal) => a === null || b === null || a !== b;
  const n = tones[0]?.length ?? 0;
  const keys = n === 7 ? [1, 3, 5] : [1, 3]; // 0-based: the 2nd, 4th (and 6th) characters
  tones.forEach((t, l) => {
    const line = `line ${l + 1}`;
    rule(differ(t[keys[0]!]!, t[keys[1]!]!), `${line}: 二四 same tone`);
    if (n === 7) rule(same(t[1]!, t[5]!), `${line}: 二六 differ`);
    if (l % 2 === 1) {
      rule(t[n - 1] !== 'oblique', `${line}: ends oblique, not on the rhyme's level tone`);
      for (const k of keys) rule(differ(tones[l - 1]![k]!, t[k]!), `${line}: not opposed to line ${l} at ${k + 1}`);
    } else if (l > 0) {
      rule(t[n - 1] !== 'level', `${line}: an unrhymed line ends level`);
      rule(same(tones[l - 1]![1]!, t[1]!), `${line}: not joined (粘) to line ${l} at 2`);
    }
    if (t[n - 1] === 'level') {
      rule(!(t[n - 3] === 'level' && t[n - 2] === 'level'), `${line}: 三平尾`);
      const middle = n === 7 ? 3 : 1;
      rule(!(t[middle] === 'level' && t[middle - 1] === 'oblique' && t[middle + 1] === 'oblique'), `${line}: 孤平`);
    }
  });
  return { kept: broken.length === 0, positions, positionsKept, broken };
}

/** Tone rules over many poems: the share kept whole, and the share of checked positions kept. */
export function toneRulesKept(poems: string[][], toneOf: (ch: string) => Tonal): { poems: number; positions: number } {
  let kept = 0,
    positions = 0,
    positionsKept = 0;
  for (const lines of poems) {
    const c = checkTones(lines, toneOf);
    if (c.kept) kept++;
    positions += c.positions;
    positionsKept += c.positionsKept;
  }
  return { poems: poems.length ? kept / poems.length : 0, positions: positions ? positionsKept / positions : 0 };
}

/** Share of character bigrams (within lines) that are distinct across all the poems: low when poems repeat each other. */
export function distinct2(poems: string[][]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const lines of poems) {
    for (const line of lines) {
      const chars = [...line];
      for (let i = 1; i < chars.length; i++, total++) seen.add(chars[i - 1]! + chars[i]!);
    }
  }
  return total ? seen.size / total : 0;
}

export type PoeticsScore = {
  poems: number;
  tone_rules_kept: number;
  tone_positions_kept: number;
  rhyme_classical: number;
  rhyme_modern: number;
  rhyme_level_tone: number;
  repeated_characters: number;
  copied_lines: number | null;
  distinct_2: number;
};

/**
 * Every measure for a set of poems (traditional script): the tone rules (checkTones), rhyme (the even lines'
 * last characters in one group, classical and 十三辙; and all of them level), repeated characters, lines found
 * verbatim in `corpusLines` (when given), distinct-2.
 */
export function scorePoems(
  poems: string[][],
  opts: { toneOf: (ch: string) => Tonal; rhymes: { classical: (lines: string[]) => boolean; modern: (lines: string[]) => boolean }; corpusLines?: Set<string> },
): PoeticsScore {
  const tones = toneRulesKept(poems, opts.toneOf);
  const evenEndsLevel = (lines: string[]) => lines.every((l, i) => i % 2 === 0 || opts.toneOf([...l].at(-1)!) !== 'oblique');
  const allLines = poems.flat();
  const share = (f: (x: string[]) => boolean) => (poems.length ? poems.filter(f).length / poems.length : 0);
  return {
    poems: poems.length,
    tone_rules_kept: tones.poems,
    tone_positions_kept: tones.positions,
    rhyme_classical: share(opts.rhymes.classical),
    rhyme_modern: share(opts.rhymes.modern),
    rhyme_level_tone: share(evenEndsLevel),
    repeated_characters: repeatShare(poems),
    copied_lines: opts.corpusLines ? allLines.filter((l) => opts.corpusLines!.has(l)).length / Math.max(1, allLines.length) : null,
    distinct_2: distinct2(poems),
  };
}

/**
 * The standard line patterns of regulated verse, 五言 (P level, Z oblique): A 仄仄平平仄, B 平平仄仄平,
 * C 平平平仄仄, D 仄仄仄平平; a 七言 line puts the opposite of its first two tones in front. A quatrain runs
 * A B C D (仄起) or C D A B (平起) with the first line unrhymed; when the first line rhymes (首句入韵, as in
 * most 七言 poems) it ends level: D B C D or B D A B. A 律诗 runs its quatrain twice.
 */
const LINE_PATTERNS: Record<'A' | 'B' | 'C' | 'D', string> = { A: 'ZZPPZ', B: 'PPZZP', C: 'PPPZZ', D: 'ZZZPP' };
export const TONE_TEMPLATES = [
  ['A', 'B', 'C', 'D'],
  ['C', 'D', 'A', 'B'],
] as const;
/** the rhyming first line that keeps an unrhymed one's opening tones */
const RHYMING_FIRST_LINE = { A: 'D', C: 'B' } as const;

/**
 * The tone each position of a poem must take under a template, null where the poet is free (一三五不论):
 * the 2nd, 4th, 6th and last characters of every line, and the two free positions that are not free — in
 * pattern B the 1st (五言) / 3rd (七言) is level, or the line has 孤平; in pattern D the 3rd / 5th is oblique,
 * or it ends on three level tones (三平尾).
 */
export function toneTemplate(template: 0 | 1, lineLength: 5 | 7, lines: 4 | 8, firstLineRhymes = false): Tonal[][] {
  const tone = (c: string): Tonal => (c === 'P' ? 'level' : 'oblique');
  return Array.from({ length: lines }, (_, l) => {
    const unrhymed = TONE_TEMPLATES[template][l % 4]!;
    const name = l === 0 && firstLineRhymes ? RHYMING_FIRST_LINE[unrhymed as 'A' | 'C'] : unrhymed;
    const five = LINE_PATTERNS[name];
    const pattern = lineLength === 7 ? (five[0] === 'P' ? 'ZZ' : 'PP') + five : five;
    const offset = lineLength - 5;
    const fixed = new Set([1, 3, lineLength - 1, ...(lineLength === 7 ? [5] : [])]);
    if (name === 'B') fixed.add(offset); // 1st / 3rd: no 孤平
    if (name === 'D') fixed.add(offset + 2); // 3rd / 5th: no 三平尾
    return [...pattern].map((c, i) => (fixed.has(i) ? tone(c) : null));
  });
}
