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
  let repeats = 0, chars = 0;
  for (const lines of poems) {
    repeats += repeatedCharacters(lines);
    chars += lines.reduce((n, l) => n + [...l].length, 0);
  }
  return chars > 0 ? repeats / chars : 0;
}
